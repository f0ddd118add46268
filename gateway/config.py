"""The gateway's participants, services and regions (``participants.yaml``).

Two kinds of rule hold for a configuration. Its *integrity* -- every participant is a known
system or an outside participant with its own `password`, every right and every regional entry
names a registered service -- makes it a
configuration at all: a file that breaks it is not taken (a gateway goes on with the last one it
could read). Its *reachability* -- every service has a target the gateway can deliver to: a
system that takes gateway messages, or a region whose gateway and provider exist -- is what the
admin API insists on for every change. A hand-edited file that breaks it is taken with a warning,
and a message to the unreachable service ends with ``Server.TargetUnknown``.
"""

from __future__ import annotations

import logging
import os
import uuid
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from gateway_protocol.envelope import Identifier, Password
from simulation import yamltext
from simulation.credentials import RunCredentials
from simulation.topology import REGIONAL_GATEWAYS, SYSTEMS

log = logging.getLogger(__name__)

DEFAULT_FILE = files(__package__) / "participants.yaml"
MAX_SERVICES = 1000
"""The most services one participant may have the right to, or one region may list."""
NOT_TARGETS = frozenset({"gateway", "control", "signatures", *REGIONAL_GATEWAYS})
"""Systems that take no messages from a gateway: the gateways themselves (a service's target is
the provider behind them), the simulation's control and the certification authority."""


class Participant(BaseModel):
    model_config = ConfigDict(extra="forbid")
    services: list[Identifier] = Field(max_length=MAX_SERVICES)
    password: Password | None = None


OUTSIDE_URL = r"^https?://[^\s/?#]+(/[^\s?#]*)?$"
"""An outside provider's base URL: http(s), a host, a path (no query, no fragment)."""


class Service(BaseModel):
    model_config = ConfigDict(extra="forbid")
    system: Identifier | None = None
    regional: bool = False
    url: Annotated[str, StringConstraints(max_length=500, pattern=OUTSIDE_URL)] | None = Field(
        default=None,
        description="an outside provider (no simulated system: the system under test): where it takes the "
                    "sync channel (base URL); `system` is then its name, the CN its answers are signed with",
    )
    protocol: Literal["json", "soap"] | None = Field(
        default=None,
        description="how an outside provider (`url`) takes requests: `json` (the default, also when absent) at "
                    "URL/bip/sync/v10, or `soap`, the ШЭП "
                    "SyncChannel v10 with WS-Security at URL/bip-sync-wss-gost/ (every request made again by the "
                    "central gateway without the sender's password and signed by it, gateway/soapadapter.py)",
    )

    @model_validator(mode="after")
    def _one_target(self) -> Service:
        if (self.system is None) == (not self.regional):
            raise ValueError("a service names its `system` or is `regional: true`, not both")
        if self.url is not None and self.system in SYSTEMS:
            raise ValueError(f"{self.system!r} is a simulated system: an outside provider at `url` has a name of its own")
        if self.protocol is not None and self.url is None:
            raise ValueError("`protocol` is an outside provider's (it has a `url`); the simulated systems take JSON and SOAP")
        return self


class Region(BaseModel):
    model_config = ConfigDict(extra="forbid")
    gateway: Identifier
    services: dict[Identifier, Identifier] = Field(default_factory=dict, max_length=MAX_SERVICES)


class Problem(ValueError):
    """A rule a configuration breaks, and the field that breaks it (a dotted path in the file)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "problem": self.problem}


class ConfigRefused(ValueError):
    """A configuration change refused, with every problem it has."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


class GatewayConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    participants: dict[Identifier, Participant]
    services: dict[Identifier, Service]
    regions: dict[Identifier, Region]

    @model_validator(mode="after")
    def _consistent(self) -> GatewayConfig:
        problems = self.integrity_problems()
        if problems:
            raise ValueError("; ".join(str(p) for p in problems))
        return self

    def integrity_problems(self) -> list[Problem]:
        """What makes this no configuration at all: an outside participant (no simulated system)
        without its password, rights to or regional entries for services that are not registered."""
        problems = []
        for name, participant in self.participants.items():
            if name not in SYSTEMS and participant.password is None:
                problems.append(Problem(
                    f"participants.{name}.password",
                    f"{name!r} is no simulated system: an outside participant needs its `password`",
                ))
            for service in participant.services:
                if service not in self.services:
                    problems.append(Problem(
                        f"participants.{name}.services",
                        f"{name!r} has the right to {service!r}, which is not a registered service",
                    ))
        for route, region in self.regions.items():
            for service in region.services:
                if service not in self.services:
                    problems.append(Problem(
                        f"regions.{route}.services.{service}", f"{service!r} is not a registered service"
                    ))
        return problems

    def reachability_problems(self) -> list[Problem]:
        """Services a message could not be delivered to: a target that is no system taking
        gateway messages, a regional service no region provides, a region whose gateway or
        provider does not exist."""
        problems = []
        for service_id, service in self.services.items():
            if service.system is not None:
                if service.url is None and (problem := _target_problem(service.system)):
                    problems.append(Problem(f"services.{service_id}.system", problem))
            elif not any(service_id in region.services for region in self.regions.values()):
                problems.append(Problem(
                    f"services.{service_id}.regional",
                    f"no region provides {service_id!r}: add it to a region's services first",
                ))
        for route, region in self.regions.items():
            if region.gateway not in REGIONAL_GATEWAYS:
                known = ", ".join(sorted(REGIONAL_GATEWAYS))
                problems.append(Problem(
                    f"regions.{route}.gateway", f"{region.gateway!r} is not a regional gateway (known: {known})"
                ))
            for service_id, system in region.services.items():
                if problem := _target_problem(system):
                    problems.append(Problem(f"regions.{route}.services.{service_id}", problem))
                if service_id in self.services and not self.services[service_id].regional:
                    problems.append(Problem(
                        f"regions.{route}.services.{service_id}",
                        f"{service_id!r} is provided in region {route!r} but is not `regional: true`",
                    ))
        return problems

    def password_of(self, sender_id: str, credentials: RunCredentials | None = None) -> str | None:
        """The gateway password of ``sender_id``: the file's ``password`` when it sets one, else,
        for a simulated system, the run's (:meth:`RunCredentials.password_of`, drawn at random
        per run). None -- the sender cannot authenticate -- for no participant, or for an outside
        participant without a password, or without the run's ``credentials``."""
        participant = self.participants.get(sender_id)
        if participant is None:
            return None
        if participant.password is not None:
            return participant.password
        if credentials is None or sender_id not in SYSTEMS:
            return None
        return credentials.password_of(sender_id)

    def outside_url(self, system: str) -> str | None:
        """Where an outside provider ``system`` (a service's `url`) takes the sync channel."""
        return next((s.url.rstrip("/") for s in self.services.values() if s.system == system and s.url), None)

    def outside_protocol(self, system: str) -> Literal["json", "soap"] | None:
        """How an outside provider ``system`` takes requests (its service's `protocol`); None for
        no outside provider."""
        return next((s.protocol or "json" for s in self.services.values() if s.system == system and s.url), None)

    def region_of_gateway(self, gateway: str) -> str | None:
        for route, region in self.regions.items():
            if region.gateway == gateway:
                return route
        return None


def _target_problem(system: str) -> str | None:
    if system not in SYSTEMS:
        return f"{system!r} is not a known system"
    if system in NOT_TARGETS:
        return f"{system!r} takes no messages from a gateway"
    return None


def check_change(current: GatewayConfig, changed: GatewayConfig) -> GatewayConfig:
    """``changed`` checked as a change of ``current``: its integrity, and no service it leaves
    unreachable that was not so already (a hand-edited file's old problems do not block an
    unrelated change). Raises :class:`ConfigRefused` naming every problem."""
    try:
        checked = GatewayConfig.model_validate(changed.model_dump())
    except ValidationError:
        raise ConfigRefused(changed.integrity_problems()) from None
    before = {str(p) for p in current.reachability_problems()}
    new = [p for p in checked.reachability_problems() if str(p) not in before]
    if new:
        raise ConfigRefused(new)
    return checked


@cache
def load_config(path: Path | Traversable = DEFAULT_FILE) -> GatewayConfig:
    return GatewayConfig.model_validate(yamltext.safe_load(path.read_text(encoding="utf-8")))


class ConfigStore:
    """The participant file of a run: ``<data dir>/gateway/participants.yaml``.

    Created from the packaged default on first use, read again whenever the file changes (every
    gateway of the run shares it), and rewritten by the admin API. A file changed by hand so that
    it is no configuration (bad YAML, an unknown field, a right to an unregistered service) is
    not taken: the gateway logs why and goes on with the last configuration it read.
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
            self._stamp = stamp
            try:
                config = GatewayConfig.model_validate(yamltext.safe_load(self.path.read_text(encoding="utf-8")))
            except (yaml.YAMLError, ValidationError, OSError) as exc:
                if self._config is None:
                    raise ValueError(f"{self.path} is not a gateway configuration: {exc}") from None
                log.error("%s is not a gateway configuration; going on with the last one read: %s", self.path, exc)
                return self._config
            for problem in config.reachability_problems():
                log.warning("%s: %s (messages to it end with Server.TargetUnknown)", self.path, problem)
            self._config = config
        return self._config

    def save(self, config: GatewayConfig) -> GatewayConfig:
        """Check a change and write it; refused (:class:`ConfigRefused`) if it does not hang
        together or leaves a service without a reachable target."""
        checked = check_change(self.config, config)
        _write_atomically(
            self.path,
            yaml.safe_dump(checked.model_dump(exclude_none=True), allow_unicode=True, sort_keys=False),
        )
        self._config, self._stamp = checked, None  # read back at once; kept should the read fail
        return self.config


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
