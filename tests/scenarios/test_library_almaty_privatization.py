"""The shipped scenarios of almaty-privatization (scenarios/almaty-privatization/): each passes, keeps the invariants of every run,
and together they cover every step and branch outcome of the reglament's channels."""

from tests.scenarios.library import check_library


async def test_the_library_of_almaty_privatization():
    await check_library("almaty-privatization")
