"""A system's log lines: JSON (or readable text on a terminal) naming the system and the message."""

from __future__ import annotations

import io
import json
import logging

import pytest

from egov_sim.inprocess import create
from simulation.observability import configure_logging, log_context, simulation_loggers
from simulation.settings import Settings
from simulation.topology import SYSTEMS

UVICORN = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


@pytest.fixture
def restore_logging():
    """configure_logging takes over the process's logging: give the test run its own back."""
    names = ["", *simulation_loggers(), *UVICORN]
    saved = {name: (logging.getLogger(name).handlers[:], logging.getLogger(name).level,
                    logging.getLogger(name).propagate) for name in names}
    yield
    for name, (handlers, level, propagate) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_loggers_are_those_of_every_system_of_the_topology():
    loggers = simulation_loggers()
    for system in SYSTEMS.values():
        assert system.app.split(":")[0].split(".")[0] in loggers, system.name
    assert {"e_akimdik", "e_sobes", "gateway_protocol"} <= set(loggers)


def test_json_lines_carry_the_system_and_the_message(restore_logging):
    stream = io.StringIO()  # not a terminal: auto means JSON
    configure_logging("gateway", "auto", stream=stream)
    with log_context(correlationId="case-7", messageId="m-1", serviceId="ECHO_Central"):
        logging.getLogger("gateway.service").info("refused: %s", "wrong password", extra={"fields": {"errorCode": "X"}})
    logging.getLogger("e_sobes.service").info("a line of Е-собес")
    logging.getLogger("httpx").info("a library's chatter stays out")
    logging.getLogger("uvicorn.error").error("uvicorn's own line")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["message"] for line in lines] == ["refused: wrong password", "a line of Е-собес", "uvicorn's own line"]
    first = lines[0]
    assert first["system"] == "gateway" and first["level"] == "INFO" and first["logger"] == "gateway.service"
    assert (first["correlationId"], first["messageId"], first["serviceId"], first["errorCode"]) == ("case-7", "m-1", "ECHO_Central", "X")
    assert "correlationId" not in lines[1]


def test_text_on_a_terminal_or_on_request(restore_logging):
    for log_format, stream in (("auto", _Terminal()), ("text", io.StringIO())):
        configure_logging("portal", log_format, stream=stream)
        with log_context(correlationId="case-8", messageId="m-2"):
            logging.getLogger("portal.service").warning("the registries are slow")
        line = stream.getvalue().strip()
        assert "\n" not in line
        with pytest.raises(json.JSONDecodeError):
            json.loads(line)
        assert line.endswith("WARNING portal portal.service: the registries are slow [correlationId=case-8 messageId=m-2]")


def test_json_on_request_even_on_a_terminal(restore_logging):
    stream = _Terminal()
    configure_logging("registries", "json", stream=stream)
    logging.getLogger("registries.loader").info("loaded")
    assert json.loads(stream.getvalue())["system"] == "registries"


def test_an_unknown_format_is_refused_by_name(restore_logging):
    with pytest.raises(ValueError, match="xml.*auto, json, text"):
        configure_logging("portal", "xml", stream=io.StringIO())


def test_building_a_system_for_an_in_process_run_leaves_the_process_logging_alone(tmp_path):
    root = logging.getLogger()
    before = (root.handlers[:], root.level, logging.getLogger("portal").handlers[:])
    create("portal", Settings(data_dir=tmp_path), transport=None)
    assert (root.handlers, root.level, logging.getLogger("portal").handlers) == before
