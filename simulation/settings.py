"""Settings shared by every simulated system, read from ``EGOV_SIM_*`` environment variables."""

from __future__ import annotations

import hashlib
import os
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from simulation.topology import SYSTEMS


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("clock_start needs a UTC offset, e.g. 2026-03-16T09:00:00+05:00")
    return value


class Settings(BaseSettings):
    """One simulation run's configuration.

    Every system of a run reads the same values; a system started on its own (``uvicorn``) reads
    them from its environment, ``egov-sim up`` hands them to the processes it starts.
    """

    model_config = SettingsConfigDict(env_prefix="EGOV_SIM_", extra="ignore")

    data_dir: Path = Field(
        default=Path(".egov-sim"),
        description="Directory that holds all state of a run: databases, keys, the clock.",
    )
    database_url: str | None = Field(
        default=None,
        description=(
            "None: every system keeps an SQLite file in data_dir. A postgresql:// URL: every "
            "system keeps its tables in its own schema of that database, named after data_dir."
        ),
    )
    pg_connections: int | None = Field(
        default=None,
        ge=1,
        description=(
            "The most PostgreSQL connections this process opens (database_url set): its system's "
            "engine, the run's store engine and the clock reader together, the pools sized to fit "
            "(simulation.database.pool_sizes; at least 3). `egov-sim up` sets it for each process "
            "from the server's limits (docs/scaling.md); unset: the pools' default sizes. For a "
            "process that runs one system: a process running several refuses it."
        ),
    )
    clock_start: Annotated[datetime | None, AfterValidator(_aware)] = Field(
        default=None,
        description=(
            "Virtual time at which a new run's clock starts; unset: the moment the run is "
            "created (to the minute), so certificates and CRLs of a fresh run are valid for "
            "real-world tools such as openssl too."
        ),
    )
    host: str = "127.0.0.1"
    base_port: int = Field(default=8700, description="Port of the first system; others follow.")
    urls: dict[str, str] = Field(
        default_factory=dict,
        description="Base URL of a system by its name, overriding host and base_port.",
    )
    timer_poll_interval: float = Field(
        default=0.02, description="Seconds between a system's looks for due timers."
    )
    request_timeout: float = Field(default=30.0, description="Seconds for one HTTP call.")
    revocation_policy: Literal["hard-fail", "soft-fail"] = Field(
        default="hard-fail",
        description=(
            "hard-fail: a signer's certificate needs a fresh OCSP answer (or a cached one within "
            "ocsp_freshness); soft-fail: when the responder is down, the last answer whatever its "
            "age, or none at all, is accepted."
        ),
    )
    ocsp_freshness: float = Field(
        default=3600.0, description="Seconds of virtual time a cached OCSP answer stays fresh."
    )
    message_date_skew: float = Field(
        default=300.0,
        description="Seconds a message's messageDate may differ from the run's virtual time.",
    )
    async_max_attempts: int = Field(
        default=8, description="Delivery attempts of an async message before NOT_DELIVERED."
    )
    async_retry_base: float = Field(
        default=0.2, description="Seconds before the first retry; doubled each time (wall clock)."
    )
    async_retry_cap: float = Field(default=30.0, description="The longest wait between retries.")
    outbox_attempts: int = Field(
        default=8,
        ge=1,
        description=(
            "Attempts a system makes to deliver a result or a notice through the gateway while the "
            "way is down (unreachable, too slow, a broken answer) before it gives up; between them "
            "1, 2, 4 … minutes of virtual time, at most an hour."
        ),
    )
    sqlite_driver: Literal["loop", "aiosqlite"] = Field(
        default="loop",
        description=(
            "How the systems call SQLite (database_url unset): loop, in the event loop's thread, "
            "handing a call that meets a held lock to a thread that waits for it "
            "(simulation/sqliteloop.py); aiosqlite, every call on aiosqlite's thread (the "
            "library's own way, kept for comparison: docs/performance.md)."
        ),
    )
    population_seed: int = Field(default=2026, description="Seed of the registries' synthetic population.")
    population_size: int = Field(
        default=10_000, ge=0, description="Persons in the synthetic population (0: fixtures only)."
    )
    registry_fixtures: list[Path] = Field(
        default_factory=list,
        description="YAML files of people, powers of attorney, properties, incomes… loaded over the population.",
    )
    provider_mode: Literal["auto", "manual"] = Field(
        default="auto",
        description=(
            "auto: every provider staff step runs by itself after its duration in virtual time; "
            "manual: a person (or a test) performs each step through the workstation's API."
        ),
    )
    seed_people: bool = Field(
        default=True, description="The CA issues key storages to the seeded citizens and officials."
    )
    system_key_ca: Literal["gost", "rsa"] = Field(
        default="gost",
        description=(
            "Issuing CA, and so key type, of the information systems' signing keys: gost, an "
            "ECDSA P-256 key from the GOST CA's stand-in (as real systems sign with GOST keys, "
            "and ~20 times cheaper to sign with); rsa, an RSA-2048 key from the RSA CA. A "
            "system whose stored key is of the other type enrols anew at start-up."
        ),
    )

    ca_wait: float = Field(
        default=30.0,
        gt=0,
        description=(
            "Seconds a starting system waits for the certification authority (signatures) to "
            "answer before it gives up, naming the URL it could not reach."
        ),
    )
    log_format: Literal["auto", "json", "text"] = Field(
        default="auto",
        description=(
            "How a system's own process (egov-sim up, uvicorn, Docker) writes its log lines: json, "
            "one JSON object a line (with the system, correlationId, messageId); text, readable "
            "lines; auto, text when stderr is a terminal, JSON otherwise."
        ),
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Lowest level of the simulation's own log lines."
    )

    portal_login_attempts: int = Field(
        default=5, ge=1,
        description="Wrong passwords in a row after which a portal account is locked.",
    )
    portal_lockout_minutes: float = Field(
        default=30.0, gt=0,
        description="Minutes of virtual time a portal account stays locked after too many wrong passwords.",
    )
    portal_challenge_minutes: float = Field(
        default=5.0, gt=0,
        description=(
            "Minutes of virtual time a portal registration challenge (signed with the citizen's "
            "AUTH key) stays valid."
        ),
    )

    max_body_bytes: int = Field(
        default=20 * 1024 * 1024,
        ge=1024,
        description=(
            "The largest request body any system takes, in bytes: a longer one is answered 413 before "
            "it is read whole. The default is above the gateway's own envelope limit (16 MiB, "
            "gateway.service.MAX_ENVELOPE_BYTES); set lower, the 413 comes before that rule can."
        ),
    )

    log_checkpoint_records: int = Field(
        default=1000, ge=1,
        description="A gateway anchors its message log (a signed, time-stamped checkpoint) after this many records.",
    )
    log_checkpoint_seconds: float = Field(
        default=60.0, gt=0,
        description="... or when records have waited this many seconds (wall clock); and always at shutdown.",
    )
    log_checkpoint_retry_seconds: float = Field(
        default=5.0, gt=0, description="Seconds before a checkpoint the TSA could not stamp is tried again.",
    )
    admin_token: SecretStr | None = Field(
        default=None,
        description=(
            "The administrator's token (X-Egov-Sim-Token) for a shared environment; unset: drawn "
            "per run and kept in data_dir/admin.token, readable only by its owner."
        ),
    )
    auditor_token: SecretStr | None = Field(
        default=None,
        description="The auditor's read-only token; unset: drawn per run, in data_dir/auditor.token.",
    )

    replica: str | None = Field(
        default=None, pattern=r"^[a-z][a-z0-9_-]*#[1-9][0-9]{0,2}$",
        description=(
            "This process is one replica of its system, named SYSTEM#N (gateway#2): set by "
            "`egov-sim up --replicas` or a deployment for each replica of the central gateway "
            "(docs/scaling.md); unset: the system's only process."
        ),
    )

    def port_of(self, system: str) -> int:
        return self.base_port + SYSTEMS[system].port_offset

    def url_of(self, system: str) -> str:
        """Base URL at which ``system`` listens, without a trailing slash."""
        if system in self.urls:
            return self.urls[system].rstrip("/")
        if system not in SYSTEMS:
            raise KeyError(f"unknown system {system!r}")
        return f"http://{self.host}:{self.port_of(system)}"

    @property
    def run_id(self) -> str:
        """A short stable name for this run's state, derived from the data directory."""
        resolved = str(self.data_dir.expanduser().resolve())
        return hashlib.sha256(resolved.encode()).hexdigest()[:10]


@lru_cache
def get_settings() -> Settings:
    return Settings()


REPLACEMENTS = ("hopclient", "fastlane", "sqlitewriter", "sqliteunits", "inprocesshops", "sqlitestatements")
"""The hand-written replacements of libraries that ``EGOV_SIM_WITHOUT`` can turn off."""


def without(replacement: str) -> bool:
    """Whether ``EGOV_SIM_WITHOUT`` (comma-separated names of :data:`REPLACEMENTS`) turns off the
    hand-written replacement ``replacement``, so that the library it replaces does its work.

    A measuring aid, not a user setting (docs/performance.md): a benchmark runs with and without
    a replacement to see what it earns. Read afresh at each call, where the replacement is
    chosen; a name that is not a replacement is an error, so a typo cannot measure nothing."""
    if replacement not in REPLACEMENTS:
        raise ValueError(f"{replacement!r} is not one of {', '.join(REPLACEMENTS)}")
    names = {name.strip() for name in os.environ.get("EGOV_SIM_WITHOUT", "").split(",") if name.strip()}
    unknown = names.difference(REPLACEMENTS)
    if unknown:
        raise ValueError(
            f"EGOV_SIM_WITHOUT names {', '.join(sorted(unknown))}: the replacements are {', '.join(REPLACEMENTS)}"
        )
    return replacement in names
