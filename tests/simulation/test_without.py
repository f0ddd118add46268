"""EGOV_SIM_WITHOUT: the measuring aid that turns hand-written replacements of libraries off."""

from __future__ import annotations

import pytest

from simulation.settings import REPLACEMENTS, without


def test_nothing_is_turned_off_by_default(monkeypatch):
    monkeypatch.delenv("EGOV_SIM_WITHOUT", raising=False)
    assert not any(without(name) for name in REPLACEMENTS)


def test_names_separated_by_commas(monkeypatch):
    monkeypatch.setenv("EGOV_SIM_WITHOUT", " fastlane, hopclient ")
    assert without("fastlane") and without("hopclient") and not without("sqlitewriter")


def test_a_name_that_is_no_replacement_is_an_error(monkeypatch):
    monkeypatch.setenv("EGOV_SIM_WITHOUT", "fastlane,uvloop")
    with pytest.raises(ValueError, match="uvloop"):
        without("fastlane")
    with pytest.raises(ValueError):
        without("uvicorn")
