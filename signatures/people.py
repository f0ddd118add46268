"""The key holders the certification authority seeds on a run's first start (``people.yaml``)."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from simulation import yamltext



def seeded_people() -> dict[str, list[dict[str, Any]]]:
    """The seeded ``citizens`` and ``officials``, as ``people.yaml`` of this package lists them."""
    text = (files(__package__) / "people.yaml").read_text(encoding="utf-8")
    people = yamltext.safe_load(text) or {}
    return {kind: list(people.get(kind) or []) for kind in ("citizens", "officials")}
