"""The secrets of one run: the administration's tokens and the participants' gateway passwords.

Nothing here is derived from a name or written in the source: each secret is drawn at random the
first time a run needs it and kept in the run's data directory, readable only by its owner --

- ``admin.token``: the administrator's token (configuration, faults, the clock, keys, delivery);
- ``auditor.token``: the auditor's token (reads the message log, traces, cases and access logs);
- ``secrets/passwords.json``: each simulated system's gateway password (its ``sender.password``).

Every process of a run shares the data directory (``egov-sim up``, Docker's shared volume), so
they all read the same secrets; the CLI and the tests read them there too. A shared environment
sets the tokens instead with ``EGOV_SIM_ADMIN_TOKEN`` / ``EGOV_SIM_AUDITOR_TOKEN``.

Processes that start at once race to create a file: each writes its candidate to a file of its
own and links it into place, so exactly one wins and every other reads the winner's whole file.
"""

from __future__ import annotations

import json
import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Any

from simulation.topology import SYSTEMS

ADMIN_TOKEN_FILE = "admin.token"
AUDITOR_TOKEN_FILE = "auditor.token"
PASSWORDS_FILE = Path("secrets") / "passwords.json"

ROLES = ("admin", "auditor")


class RunCredentials:
    """The secrets of the run kept in ``data_dir`` (created on first use)."""

    def __init__(self, data_dir: Path, *, admin_token: str | None = None, auditor_token: str | None = None) -> None:
        self.data_dir = data_dir.expanduser().resolve()
        self._given = {"admin": admin_token, "auditor": auditor_token}
        self._tokens: dict[str, tuple[tuple[int, int, int], str]] = {}

    @classmethod
    def of(cls, settings: Any) -> RunCredentials:
        """The credentials of the run ``settings`` describe (its data directory, its token settings)."""
        return cls(
            settings.data_dir,
            admin_token=_secret(getattr(settings, "admin_token", None)),
            auditor_token=_secret(getattr(settings, "auditor_token", None)),
        )

    def token_file(self, role: str) -> Path:
        if role not in ROLES:
            raise KeyError(f"unknown role {role!r} (roles: {', '.join(ROLES)})")
        return self.data_dir / (ADMIN_TOKEN_FILE if role == "admin" else AUDITOR_TOKEN_FILE)

    def token(self, role: str) -> str:
        """The token of ``role``: the setting when given, else the run's file (drawn if new).

        Asked on every guarded request: the file is read again only when it changed (one
        ``os.stat``), so a token rotated by replacing the file counts at once."""
        given = self._given.get(role)
        if given:
            return given
        path = self.token_file(role)
        try:
            stat = path.stat()
            stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            stamp = None
        cached = self._tokens.get(role)
        if stamp is not None and cached is not None and cached[0] == stamp:
            return cached[1]
        token = _read_or_create(path, lambda: secrets.token_urlsafe(32) + "\n").strip()
        if stamp is None:
            stat = path.stat()
            stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        self._tokens[role] = (stamp, token)
        return token

    @property
    def admin_token(self) -> str:
        return self.token("admin")

    @property
    def auditor_token(self) -> str:
        return self.token("auditor")

    def role_of(self, token: str | None) -> str | None:
        """Which role ``token`` proves, or None (compared in constant time)."""
        if not token:
            return None
        for role in ROLES:
            if secrets.compare_digest(token.encode(), self.token(role).encode()):
                return role
        return None

    @cached_property
    def _passwords(self) -> dict[str, str]:
        text = _read_or_create(
            self.data_dir / PASSWORDS_FILE,
            lambda: json.dumps({name: secrets.token_urlsafe(18) for name in SYSTEMS}, indent=2) + "\n",
        )
        return json.loads(text)

    def password_of(self, system: str) -> str:
        """The gateway password of the simulated system ``system`` in this run."""
        try:
            return self._passwords[system]
        except KeyError:
            raise KeyError(f"{system!r} is no simulated system of this run; an outside participant's password "
                           "is set when it is registered with the gateway") from None


def _secret(value: Any) -> str | None:
    if value is None:
        return None
    if hasattr(value, "get_secret_value"):
        value = value.get_secret_value()
    return str(value) or None


def _read_or_create(path: Path, make) -> str:
    """The file's text; when it does not exist, a new one with ``make()``, mode 0600."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    candidate = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(make())
        try:
            os.link(candidate, path)  # atomic, and refused when another process was first
        except FileExistsError:
            pass
    finally:
        candidate.unlink(missing_ok=True)
    return path.read_text(encoding="utf-8")
