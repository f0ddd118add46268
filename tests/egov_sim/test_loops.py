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
