"""The shipped scenarios of pavlodar-privatization (scenarios/pavlodar-privatization/): each passes, keeps the invariants of every run,
and together they cover every step and branch outcome of the reglament's channels."""

from tests.scenarios.library import check_library


async def test_the_library_of_pavlodar_privatization():
    await check_library("pavlodar-privatization")
