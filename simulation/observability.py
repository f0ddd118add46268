"""Logs: one JSON object a line (or a readable line on a terminal), carrying the system's name
and the message's correlationId and messageId.

Code that handles a message opens :func:`log_context` with its identifiers; every log line
written inside it carries them, whichever module writes it. A system's own process sets its
logging up with :func:`configure_logging` (``egov-sim up`` in each child, the app factories when
uvicorn runs one alone); a process that only hosts systems, such as a test run, keeps its own.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TextIO

from simulation.topology import SYSTEMS

_context: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("egov_sim_log_context", default={})


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    token = _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the system, and the identifiers of
    the message being handled (:func:`log_context`)."""

    def __init__(self, system: str | None = None, replica: str | None = None) -> None:
        super().__init__()
        self.system = system
        self.replica = replica

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            **({"system": self.system} if self.system else {}),
            **({"replica": self.replica} if self.replica else {}),
            "logger": record.name,
            "message": record.getMessage(),
            **_context.get(),
        }
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            line.update(extra)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """A readable line for a terminal: time, level, system, logger, message, then the message's
    identifiers as ``key=value``."""

    def __init__(self, system: str | None = None, replica: str | None = None) -> None:
        name = replica or system  # a replica's name begins with its system's (gateway#2)
        super().__init__("%(asctime)s %(levelname)-7s " + (f"{name} " if name else "") + "%(name)s: %(message)s")
        self.default_msec_format = "%s.%03d"

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = {**_context.get(), **(getattr(record, "fields", None) or {})}
        if fields:
            first, _, rest = line.partition("\n")  # the identifiers go on the first line, before a traceback
            line = first + " [" + " ".join(f"{k}={v}" for k, v in fields.items()) + "]" + (f"\n{rest}" if rest else "")
        return line


LOG_FORMATS = ("auto", "json", "text")


def simulation_loggers() -> list[str]:
    """The loggers of the simulation's code: the package of every system of the topology, and
    the libraries they share."""
    packages = {system.app.partition(":")[0].partition(".")[0] for system in SYSTEMS.values()}
    # control's factory lives in egov_sim (it adds the trainer's view), its routes in control
    return sorted(packages | {"control", "gateway_protocol", "reglaments", "egov_sim"})


def configure_logging(
    system: str | None,
    log_format: str = "auto",
    level: int | str = logging.INFO,
    stream: TextIO | None = None,
    replica: str | None = None,
) -> logging.Handler:
    """Set up the logging of a system's own process (``egov-sim up``'s children, ``uvicorn``,
    Docker), never of a process that hosts other things, such as a test run.

    Every line goes to ``stream`` (stderr) through one handler: JSON (``log_format`` json, or auto
    when the stream is not a terminal) or readable text, naming ``system``. The simulation's own
    loggers (:func:`simulation_loggers`) write from ``level`` up, other libraries from WARNING up;
    uvicorn's lines go the same way. Calling it again replaces the earlier setup. ``replica``:
    the process is that replica of the system (``gateway#2``), named in every line too.
    """
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format {log_format!r}: expected one of {', '.join(LOG_FORMATS)}")
    stream = stream or sys.stderr
    if log_format == "auto":
        isatty = getattr(stream, "isatty", None)
        log_format = "text" if isatty is not None and isatty() else "json"
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(system, replica) if log_format == "json" else TextFormatter(system, replica))
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    for name in simulation_loggers():
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.setLevel(level)
        logger.propagate = True
    # uvicorn's own setup (when it runs the factory) gives its loggers their own handlers: send
    # them through this one instead, at the levels uvicorn chose.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    return handler

