"""The shipped scenarios of aktogai-queue-2013 (scenarios/aktogai-queue-2013/): each passes, keeps the invariants of every run,
and together they cover every step and branch outcome of the reglament's channels."""

from tests.scenarios.library import check_library


async def test_the_library_of_aktogai_queue_2013():
    await check_library("aktogai-queue-2013")
