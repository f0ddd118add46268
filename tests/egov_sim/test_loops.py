"""egov_sim.loops: the commands' event loop, uvloop where installed, asyncio's when asked."""

from __future__ import annotations

import asyncio

import pytest

from egov_sim import loops


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_uvloop_where_it_is_installed(monkeypatch):
    pytest.importorskip("uvloop")
    monkeypatch.delenv(loops.ENV, raising=False)
    assert loops.chosen() == "uvloop"
    assert loops.run(_loop_module()).startswith("uvloop")


def test_asyncio_when_asked(monkeypatch):
    monkeypatch.setenv(loops.ENV, "asyncio")
    assert loops.run(_loop_module()).startswith("asyncio")


def test_a_loop_that_is_none_of_them_is_an_error(monkeypatch):
    monkeypatch.setenv(loops.ENV, "trio")
    coroutine = _loop_module()
    with pytest.raises(ValueError, match="EGOV_SIM_LOOP=trio: the loops are uvloop, asyncio"):
        loops.run(coroutine)
    assert coroutine.cr_frame is None  # closed, never started


@pytest.fixture
def thresholds():
    """The collector's thresholds, put back after the test (this process's other tests keep theirs)."""
    import gc

    before = gc.get_threshold()
    gc.set_threshold(700, *before[1:])
    yield
    gc.set_threshold(*before)


async def _young_threshold() -> int:
    import gc

    return gc.get_threshold()[0]


def test_a_command_collects_the_youngest_generation_less_often(thresholds, monkeypatch):
    import gc

    monkeypatch.setenv(loops.ENV, "asyncio")
    older = gc.get_threshold()[1:]
    assert loops.run(_young_threshold()) == loops.YOUNG_THRESHOLD
    assert gc.get_threshold()[1:] == older  # the older generations keep theirs
