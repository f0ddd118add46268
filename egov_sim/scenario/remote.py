"""Running systems as a world the scenario runner plays in (``egov-sim scenario run --target URL``).

``URL`` is the control system's address (``egov-sim up`` prints it); the control system tells
where every other system listens (``GET /systems``). The run's admin token comes from
``--token``, else ``EGOV_SIM_ADMIN_TOKEN``, else the running world's data directory
(``--data-dir``, where ``egov-sim up`` keeps ``admin.token``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx

from simulation.access import TOKEN_HEADER
from simulation.credentials import RunCredentials
from simulation.settings import Settings


class TargetError(RuntimeError):
    """The running systems cannot be reached or do not take the token."""


class RemoteWorld:
    """Systems already running elsewhere, addressed over HTTP as a tester would."""

    def __init__(self, control_url: str, token: str, work_dir: Path, urls: dict[str, str]) -> None:
        self.control_url = control_url.rstrip("/")
        self.token = token
        self.urls = urls
        self.settings = Settings(data_dir=work_dir)
        """Settings for the tester's side only: where the citizens' key storages are kept."""

    @classmethod
    async def connect(cls, control_url: str, work_dir: Path, token: str | None = None,
                      data_dir: Path | None = None) -> RemoteWorld:
        token = token or os.environ.get("EGOV_SIM_ADMIN_TOKEN")
        if not token and data_dir is not None:
            token = RunCredentials.of(Settings(data_dir=data_dir)).admin_token
        if not token:
            raise TargetError("no admin token: give --token, set EGOV_SIM_ADMIN_TOKEN, or --data-dir of the running world")
        try:
            async with httpx.AsyncClient(base_url=control_url, timeout=10) as control:
                listed = await control.get("/systems")
                listed.raise_for_status()
                checked = await control.get("/timers", headers={TOKEN_HEADER: token})
        except httpx.HTTPError as exc:
            raise TargetError(f"{control_url}: the control system does not answer ({exc})") from None
        if checked.status_code in (401, 403):
            raise TargetError(f"{control_url}: the admin token is refused ({checked.status_code})")
        urls = {s["name"]: s["url"] for s in listed.json()}
        host = httpx.URL(control_url).host
        elsewhere = {name: url for name, url in urls.items() if httpx.URL(url).host != host}
        if elsewhere:  # the token goes only where the tester pointed it
            raise TargetError(f"{control_url}: the control system places {', '.join(f'{n} at {u}' for n, u in elsewhere.items())}, "
                              f"not on {host}: the admin token is sent only to the target's host")
        return cls(control_url, token, work_dir, urls)

    def client(self, system: str, *, role: str | None = "admin", **kwargs: Any) -> httpx.AsyncClient:
        if system not in self.urls:
            raise TargetError(f"the running world has no system {system!r} (it has: {', '.join(self.urls)})")
        headers = dict(kwargs.pop("headers", None) or {})
        if role is not None:
            headers.setdefault(TOKEN_HEADER, self.token)
        return httpx.AsyncClient(base_url=self.urls[system], timeout=120, headers=headers, **kwargs)
