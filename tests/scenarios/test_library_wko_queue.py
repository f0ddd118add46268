"""The shipped scenarios of wko-queue (scenarios/wko-queue/): each passes, keeps the invariants of every run,
and together they cover every step and branch outcome of the reglament's channels."""

from tests.scenarios.library import check_library


async def test_the_library_of_wko_queue():
    await check_library("wko-queue")
