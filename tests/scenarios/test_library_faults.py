"""The shipped fault scenarios (scenarios/faults/): each reglament's documented reaction to ЖТ МДҚ
down at the State Corporation, slow registries that still answer, and a result's delivery that
fails at first -- each passes and keeps the invariants of every run."""

from tests.scenarios.library import LIBRARY, check_library


async def test_registries_down_or_slow():
    await check_library(LIBRARY / "faults" / "registries-down.yaml", complete=False)
    await check_library(LIBRARY / "faults" / "registries-slow.yaml", complete=False)


async def test_a_result_delivery_that_fails_at_first_is_retried():
    await check_library(LIBRARY / "faults" / "delivery-retried.yaml", complete=False)
