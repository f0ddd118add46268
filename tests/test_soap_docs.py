"""docs/soap.md: its example -- an outside client's zeep client, generated from the WSDL the
gateway serves, calling SendMessage and the async channel -- runs as written (extracted, run in a
subprocess) and prints what the page says it prints."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "soap.md"
CEILING = 300.0
"""Seconds after which the example is taken for a hang."""


def test_the_documented_example_runs_as_written(tmp_path: Path) -> None:
    text = PAGE.read_text(encoding="utf-8")
    example = re.search(r"<!-- soap-example: soap_example.py -->\n```python\n(.*?)\n```", text, re.S)
    printed = re.search(r"It prints:\n\n```text\n(.*?)\n```", text, re.S)
    assert example and printed, "docs/soap.md shows no example, or not what it prints"
    (tmp_path / "soap_example.py").write_text(example.group(1) + "\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "soap_example.py"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=CEILING, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().splitlines() == printed.group(1).splitlines(), done.stdout


def test_the_page_names_the_paths_the_gateway_serves() -> None:
    from gateway_protocol.soap import ASYNC_SOAP_PATH, SYNC_SOAP_PATH

    text = PAGE.read_text(encoding="utf-8")
    assert f"`POST {SYNC_SOAP_PATH}`" in text and f"`POST {ASYNC_SOAP_PATH}`" in text
