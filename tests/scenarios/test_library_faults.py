"""The shipped fault scenarios (scenarios/faults/): each reglament's documented reaction to ЖТ МДҚ
down at the State Corporation, slow registries that still answer, and a result's delivery that
fails at first -- each passes and keeps the invariants of every run."""

import pytest

from tests.scenarios.library import LIBRARY, check_library


async def test_registries_down_or_slow():
    await check_library(LIBRARY / "faults" / "registries-down.yaml", complete=False)
    await check_library(LIBRARY / "faults" / "registries-slow.yaml", complete=False)


@pytest.mark.xfail(strict=True, reason="the providers send a result through the gateway's sync channel once "
                                       "(provider_ws.service dispatch, e_sobes send-result): a failed attempt is not "
                                       "retried, the walk stops before the result is delivered -- no async delivery yet")
async def test_a_result_delivery_that_fails_at_first_is_retried():
    await check_library(LIBRARY / "faults" / "delivery-retried.yaml", complete=False)
