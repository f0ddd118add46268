"""The developer's guide example (docs/developers.md) runs as written: extracted from the doc and
run with pytest in a subprocess, the plugin loaded from its entry point."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CEILING = 300.0
"""Seconds after which the run is taken for a hang."""


def guide_example(name: str = "test_housing_provider.py") -> str:
    text = (ROOT / "docs" / "developers.md").read_text(encoding="utf-8")
    match = re.search(rf"<!-- guide-example: {re.escape(name)} -->\n```python\n(.*?)\n```", text, re.S)
    assert match, f"docs/developers.md shows no example {name}"
    return match.group(1) + "\n"


def run_example(python: str, folder: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    (folder / "test_housing_provider.py").write_text(guide_example(), encoding="utf-8")
    (folder / "pytest.ini").write_text("[pytest]\nasyncio_mode = auto\n", encoding="utf-8")
    return subprocess.run(
        [python, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-p", "no:xdist", "test_housing_provider.py"],
        cwd=folder, capture_output=True, text=True, timeout=CEILING, env=env,
    )


def test_the_guide_example_passes(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER")}
    done = run_example(sys.executable, tmp_path, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout, done.stdout


def test_a_broken_provider_fails_the_example(tmp_path: Path) -> None:
    """The example can fail: a provider that signs with another system's key is caught."""
    example = guide_example().replace("sign_response(identity,", "sign_response(mock_identity,").replace(
        'def create_app(identity, trusted_roots, gateway_url: str) -> FastAPI:',
        'def create_app(identity, trusted_roots, gateway_url: str) -> FastAPI:\n'
        '    from egov_sim.mocks import MockPKI\n    mock_identity = MockPKI().identity_of(NAME)')
    (tmp_path / "test_housing_provider.py").write_text(example, encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\nasyncio_mode = auto\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER")}
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-p", "no:xdist",
                           "test_housing_provider.py"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=CEILING, env=env)
    assert done.returncode != 0
    assert "signature: the response's signature does not verify" in done.stdout, done.stdout
