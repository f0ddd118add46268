"""The shipped scenarios of almaty-housing-aid (scenarios/almaty-housing-aid/): each passes, keeps the invariants of every run,
and together they cover every step and branch outcome of the reglament's channels."""

from tests.scenarios.library import check_library


async def test_the_library_of_almaty_housing_aid():
    await check_library("almaty-housing-aid")
