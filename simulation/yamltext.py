"""YAML the systems read from their own packages, parsed with libyaml's C parser when PyYAML has it.

Every fresh world reads the same package files at start (the registries' fixtures, the people the
CA seeds, the gateway's participants, the reglament definitions): PyYAML's pure-Python SafeLoader
spent about 0.9 s of CPU on them per start, its C twin ``CSafeLoader`` (the same safe constructor,
libyaml's scanner and parser) about a tenth of that (bench: ``registries/fixtures.yaml``, 141 KB,
0.47 s against 0.08 s). Without libyaml (a PyYAML built without it) the pure-Python loader reads
the same data. Files a user writes (scenarios, case data) keep PyYAML's own loader, whose error
messages the CLI shows.
"""

from __future__ import annotations

from typing import Any

import yaml

LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(text: str) -> Any:
    """``yaml.safe_load`` with the fastest safe loader available."""
    return yaml.load(text, Loader=LOADER)  # noqa: S506 -- a safe loader (CSafeLoader or SafeLoader)
