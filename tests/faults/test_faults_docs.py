"""docs/gateway.md's section "Faults": its Python example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

from simulation.database import drop_run
from simulation.settings import Settings
from tests.conftest import RUN_SCHEMAS

DOC = Path(__file__).resolve().parents[2] / "docs" / "gateway.md"


async def test_the_faults_example_runs(tmp_path, monkeypatch, capsys):
    (example,) = re.findall(r"^```python\n(.*?)^```$", DOC.read_text(encoding="utf-8"), flags=re.S | re.M)
    monkeypatch.setattr("tempfile.mkdtemp", lambda: str(tmp_path))
    namespace: dict = {}
    exec(compile(example.replace("asyncio.run(main())", ""), str(DOC), "exec"), namespace)
    try:
        await namespace["main"]()
    finally:
        await drop_run(Settings(data_dir=tmp_path / "run"), RUN_SCHEMAS)
    assert capsys.readouterr().out.strip() == "['AR_AddressRegistrationHistory', 'GBDFL_UniversalServiceSync']"
