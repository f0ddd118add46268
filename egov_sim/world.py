"""The world an ``egov-sim demo`` or ``egov-sim run`` plays in.

By default a fresh one: a temporary data directory (so a new virtual clock, empty queues, new
PostgreSQL schemas, as the schemas are named after the data directory), removed afterwards with
its schemas unless ``--keep``. A named world -- ``--data-dir DIR``, or ``EGOV_SIM_DATA_DIR`` set
in the environment, which names a world just as explicitly -- is created if new and continued
if not: its clock goes on, its queues keep their numbers.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class World:
    data_dir: Path
    named: bool
    """Chosen by the user (``--data-dir`` or ``EGOV_SIM_DATA_DIR``): kept, continued next time."""
    keep: bool
    existed: bool
    """The named directory already held a world before this run."""

    @classmethod
    def choose(cls, data_dir: str | None, keep: bool, environ: Mapping[str, str] | None = None) -> World:
        """The named world of ``data_dir`` or ``EGOV_SIM_DATA_DIR``, else a fresh one (created now)."""
        environ = os.environ if environ is None else environ
        chosen = data_dir or environ.get("EGOV_SIM_DATA_DIR")
        if chosen:
            path = Path(chosen).expanduser().resolve()
            return cls(path, named=True, keep=True, existed=path.is_dir() and any(path.iterdir()))
        return cls(Path(tempfile.mkdtemp(prefix="egov-sim-")).resolve(), named=False, keep=keep, existed=False)

    @property
    def removed(self) -> bool:
        return not self.keep

    def describe(self, clock_at: datetime, lang: str) -> str:
        """One line that says which world this is, in the narration's language."""
        from egov_sim.texts import phrase
        from simulation.calendar import to_local

        key = ("world.continued" if self.existed else "world.new" if self.named
               else "world.kept" if self.keep else "world.fresh")
        return phrase(key, lang, dir=self.data_dir, clock=to_local(clock_at).strftime("%Y-%m-%d %H:%M"))

    def as_dict(self, clock_at: datetime) -> dict[str, Any]:
        from simulation.calendar import to_local

        return {"data_dir": str(self.data_dir), "fresh": not self.existed, "kept": self.keep,
                "clock_at_start": to_local(clock_at).isoformat()}

    async def drop_schemas(self, settings: Any) -> None:
        """On PostgreSQL, drop the schemas of a world that is not kept (SQLite: nothing to do)."""
        if self.removed and settings.database_url:
            from simulation.database import STORE, drop_run
            from simulation.topology import SYSTEMS

            await drop_run(settings, (*SYSTEMS, STORE))

    def remove(self) -> None:
        """Delete the data directory of a world that is not kept."""
        if self.removed:
            shutil.rmtree(self.data_dir, ignore_errors=True)
