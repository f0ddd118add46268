"""The gateway's participants, services and regions (``participants.yaml``)."""

from __future__ import annotations

import os
import uuid
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from simulation.topology import SYSTEMS, sender_password

DEFAULT_FILE = files(__package__) / "participants.yaml"


class Participant(BaseModel):
    model_config = ConfigDict(extra="forbid")
    services: list[str]
    password: str | None = None


class Service(BaseModel):
    model_config = ConfigDict(extra="forbid")
    system: str | None = None
    regional: bool = False

    @model_validator(mode="after")
    def _one_target(self) -> Service:
        if (self.system is None) == (not self.regional):
            raise ValueError("a service names its `system` or is `regional: true`, not both")
        return self


class Region(BaseModel):
    model_config = ConfigDict(extra="forbid")
    gateway: str
    services: dict[str, str] = Field(default_factory=dict)


class GatewayConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    participants: dict[str, Participant]
    services: dict[str, Service]
    regions: dict[str, Region]

    @model_validator(mode="after")
    def _consistent(self) -> GatewayConfig:
        for name, participant in self.participants.items():
            if name not in SYSTEMS:
                raise ValueError(f"participant {name!r} is not a known system")
            for service in participant.services:
                if service not in self.services:
                    raise ValueError(f"participant {name!r} names unknown service {service!r}")
        for route, region in self.regions.items():
            if region.gateway not in SYSTEMS:
                raise ValueError(f"region {route!r}: unknown gateway {region.gateway!r}")
            for service, system in region.services.items():
                if system not in SYSTEMS or service not in self.services:
                    raise ValueError(f"region {route!r}: bad service entry {service!r}")
        return self

    def password_of(self, sender_id: str) -> str | None:
        participant = self.participants.get(sender_id)
        if participant is None:
            return None
        return participant.password or sender_password(sender_id)

    def region_of_gateway(self, gateway: str) -> str | None:
        for route, region in self.regions.items():
            if region.gateway == gateway:
                return route
        return None


@cache
def load_config(path: Path | Traversable = DEFAULT_FILE) -> GatewayConfig:
    return GatewayConfig.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


class ConfigStore:
    """The participant file of a run: ``<data dir>/gateway/participants.yaml``.

    Created from the packaged default on first use, read again whenever the file changes (every
    gateway of the run shares it), and rewritten by the admin API.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.exists():
            # Every gateway of a run may get here at once: each writes its own temporary file
            # and moves it into place atomically (the contents are the same).
            path.parent.mkdir(parents=True, exist_ok=True)
            _write_atomically(path, DEFAULT_FILE.read_text(encoding="utf-8"))
        self._file = str(path)
        self._stamp: tuple[int, int, int] | None = None
        self._config: GatewayConfig | None = None

    @property
    def config(self) -> GatewayConfig:
        # Looked at several times a message: one os.stat (~1 µs) says whether to read it again.
        stat = os.stat(self._file)
        stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        if self._config is None or stamp != self._stamp:
            self._config = GatewayConfig.model_validate(yaml.safe_load(self.path.read_text(encoding="utf-8")))
            self._stamp = stamp
        return self._config

    def save(self, config: GatewayConfig) -> GatewayConfig:
        """Check and write a new configuration; refused (ValueError) if it does not hang together."""
        checked = GatewayConfig.model_validate(config.model_dump())
        _write_atomically(
            self.path,
            yaml.safe_dump(checked.model_dump(exclude_none=True), allow_unicode=True, sort_keys=False),
        )
        self._config, self._stamp = None, None
        return self.config


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
