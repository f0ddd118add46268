"""``egov-sim trace show APPLICATION_ID``: one application's flow as text, a Mermaid diagram, one
HTML file or OpenTelemetry spans (OTLP/JSON).

Every format renders the same document (:mod:`egov_sim.trainer.flow`): the steps the run recorded
joined with each gateway hop and each signature checked at its time. Where it is read from:

1. ``--target URL``: the running systems whose control system is at URL (``egov-sim up`` prints
   it); the control system says where the others listen (``GET /systems``).
2. else, when the control system of ``--base-port`` (default 8700, or ``EGOV_SIM_BASE_PORT``)
   answers: those running systems;
3. else the world kept in ``--data-dir`` (default ./.egov-sim, or ``EGOV_SIM_DATA_DIR``), opened in
   this process as ``egov-sim run --data-dir`` opens it, and closed again. Never while an
   ``egov-sim up`` runs on that directory: two processes would serve one world, so the command
   asks for up's ``--base-port`` instead.

Running systems are read with the auditor's rights (reads only): ``--token``, else
``EGOV_SIM_AUDITOR_TOKEN`` / ``EGOV_SIM_ADMIN_TOKEN``, else the data directory's auditor.token or
admin.token; the token goes only to the target's host.

Exit status: 0 printed (or written to ``--output``); 1 the run has no such application, a system
refused or did not answer, the output cannot be written, or the format is not available; 2 a
usage error, or nowhere to read from (nothing running and no world in the data directory), with
what to do.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

from egov_sim.texts import LANGUAGES, default_language

FORMATS = ("text", "mermaid", "html", "otlp")
EXIT_SHOWN, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

_WHERE = """\
where the application is read from:
  --target URL       the running systems whose control system is at URL (egov-sim up prints it)
  otherwise          the running systems of --base-port (default 8700) when their control system
                     answers, else the world kept in --data-dir (default ./.egov-sim), opened in
                     this process and closed again (not while egov-sim up runs on it: give its
                     --base-port then)
Running systems are read with the auditor's rights: --token, else EGOV_SIM_AUDITOR_TOKEN or
EGOV_SIM_ADMIN_TOKEN, else the data directory's auditor.token or admin.token.

formats:
  text     the narration: a line per step, the messages under their step, the outcome
  mermaid  a Mermaid sequenceDiagram (mermaid.live, or a ```mermaid block in markdown)
  html     one self-contained HTML file that opens offline
  otlp     OpenTelemetry spans, OTLP/JSON (an ExportTraceServiceRequest) in virtual time

exit status: 0 shown; 1 no such application, a system refused, or the output cannot be written;
2 a usage error, or nothing running and no world in the data directory.

example:
  egov-sim run almaty-queue --channel portal --case approved --data-dir /tmp/world --json
  egov-sim trace show APPLICATION_ID --data-dir /tmp/world --format mermaid --lang en
"""


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``trace`` (with its action ``show``) on the ``egov-sim`` subcommands."""
    trace = commands.add_parser(
        "trace", help="one application's trace as text, a Mermaid diagram, one HTML file or OTLP spans",
        description="One application's flow: its reglament's steps as the run recorded them, each gateway "
                    "message hop by hop, each signature's verdict at its time.")
    actions = trace.add_subparsers(dest="trace_command", required=True, metavar="ACTION")
    show = actions.add_parser(
        "show", help="print one application's flow in a format",
        description="Print one application's flow (from running systems, or from a world kept in a data "
                    "directory) as text, Mermaid, HTML or OTLP/JSON.",
        epilog=_WHERE, formatter_class=argparse.RawDescriptionHelpFormatter)
    show.add_argument("application_id", metavar="APPLICATION_ID",
                      help="the application's id (egov-sim run --json and egov-sim apply print it)")
    show.add_argument("--format", choices=FORMATS, default="text", help="default: text")
    language = default_language()
    show.add_argument("--lang", choices=LANGUAGES, default=language,
                      help=f"language of the names and phrases around the systems' Kazakh texts (default here: "
                           f"{language}); otlp takes none: it carries the step names in all three")
    show.add_argument("--output", "-o", type=Path, metavar="FILE", help="write to FILE instead of stdout")
    show.add_argument("--data-dir", metavar="DIR",
                      help="the world: its tokens for running systems, or the world to open when none run "
                           "(default ./.egov-sim, or EGOV_SIM_DATA_DIR)")
    where = show.add_mutually_exclusive_group()
    where.add_argument("--base-port", type=_port, metavar="PORT",
                       help="port of the first system of the running egov-sim up (default 8700)")
    where.add_argument("--target", type=_url, metavar="URL", help="the control system's URL of running systems")
    show.add_argument("--token", help="the auditor's (or admin's) token of the running systems")
    return trace


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= port <= 65535 - 20:  # the systems take the ports after it
        raise argparse.ArgumentTypeError(f"{port} is not a port a run can start at (1-65515)")
    return port


def _url(text: str) -> str:
    import httpx

    try:
        url = httpx.URL(text)
        port = url.port
    except (httpx.InvalidURL, ValueError) as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a URL ({exc})") from None
    if url.scheme not in ("http", "https") or not url.host or (port is not None and not 1 <= port <= 65535):
        raise argparse.ArgumentTypeError(f"{text!r} is not an http(s) URL of a control system with a valid port")
    return text


class TraceError(Exception):
    """Why nothing was shown: one line, and the exit status."""

    def __init__(self, message: str, status: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.status = status


def run_trace(args: argparse.Namespace, settings: Any = None, out: TextIO | None = None,
              err: TextIO | None = None) -> int:
    """Perform ``egov-sim trace show``; ``settings``: the run's settings (read from ``args`` when None)."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    try:
        if settings is None:
            settings = _settings(args)
        render = _renderer(args.format, args.lang)
        from egov_sim import loops

        flow = loops.run(_read(args, settings))
        document = render(flow)
        if args.output:
            _write(args.output, document, args.lang)
        else:
            out.write(document)
            out.flush()
    except TraceError as exc:
        err.write(f"egov-sim trace: {exc}\n")
        return exc.status
    return EXIT_SHOWN


def main(args: argparse.Namespace) -> int:
    return run_trace(args)


def _settings(args: argparse.Namespace):
    from pydantic import ValidationError

    from simulation.settings import Settings

    overrides: dict[str, Any] = {}
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = Path(args.data_dir)
    if getattr(args, "base_port", None):
        overrides["base_port"] = args.base_port
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise TraceError(f"bad setting: {exc}", EXIT_USAGE) from None


# ---- the formats ------------------------------------------------------------------------------


def _renderer(name: str, lang: str):
    """The function that turns a flow into the format's text (checked before anything is read)."""
    import json

    if name == "text":
        from egov_sim.trainer.text import render_text

        return lambda flow: render_text(flow, lang)
    if name == "mermaid":
        from egov_sim.trainer.mermaid import render_mermaid

        return lambda flow: render_mermaid(flow, lang)
    if name == "otlp":
        from egov_sim.trainer.otlp import render_otlp

        return lambda flow: json.dumps(render_otlp(flow), ensure_ascii=False, indent=2) + "\n"
    if name == "html":
        from egov_sim.trainer.html import render_html

        return lambda flow: render_html(flow, lang)
    raise TraceError(f"unknown format {name!r} (known: {', '.join(FORMATS)})", EXIT_USAGE)


def _write(path: Path, document: str, lang: str) -> None:
    try:
        path.write_text(document, encoding="utf-8")
    except OSError as exc:
        raise TraceError(_say("trace.output", lang, file=path, problem=exc.strerror or exc)) from None


def _say(key: str, lang: str, **values: Any) -> str:
    from egov_sim.texts import phrase

    return phrase(key, lang, **values)


# ---- where the application is read from -------------------------------------------------------


async def _read(args: argparse.Namespace, settings) -> dict[str, Any]:
    import httpx

    from egov_sim.clients._base import ClientError
    from egov_sim.scenario.remote import TargetError
    from egov_sim.texts import in_language
    from egov_sim.trainer.flow import DefinitionMissing, FlowError, collect

    lang = args.lang
    try:
        viewed = await _through_the_view(args, settings)
        if viewed is not None:
            return viewed
        async with _world(args, settings) as world:
            return await collect(world, args.application_id)
    except DefinitionMissing as exc:
        raise TraceError(in_language(exc.texts, lang)) from None
    except FlowError:
        raise TraceError(_say("trace.unknown_application", lang, id=args.application_id)) from None
    except ClientError as exc:
        if exc.status == 0:
            raise TraceError(_say("trace.unreachable", lang, problem=exc)) from None
        texts = {"kk": exc.message_kk, "ru": exc.message_ru, "en": exc.message}
        problem = f"{exc.status} {exc.code}: {in_language(texts, lang) or exc.code}"
        raise TraceError(_say("trace.refused", lang, system=exc.system or "?", problem=problem)) from None
    except (httpx.HTTPError, TargetError) as exc:
        raise TraceError(_say("trace.unreachable", lang, problem=f"{type(exc).__name__}: {exc}")) from None


async def _through_the_view(args: argparse.Namespace, settings) -> dict[str, Any] | None:
    """The flow as the trainer's view gives it (``GET /trainer/api/flow/ID`` of the control system:
    one request, read by the systems themselves), when a control system with the view answers --
    the one ``--target`` names, the one of ``--base-port``, or an ``egov-sim trainer`` serving the
    data directory (whose other systems listen on no socket); None when none does, or its control
    system has no view (a bare ``uvicorn control.app:create_app``): then the systems are read one
    by one (:class:`_world`)."""
    from urllib.parse import quote

    import httpx

    from egov_sim.clients._base import ClientError
    from egov_sim.trainer.cli import serving
    from egov_sim.trainer.flow import DefinitionMissing, FlowError
    from simulation.access import TOKEN_HEADER

    lang = args.lang
    view = None if args.target else serving(settings.data_dir.expanduser().resolve())
    control = (args.target or (view.rsplit("/trainer", 1)[0] if view else settings.url_of("control"))).rstrip("/")
    if not await _answers(control):
        return None
    token = _token(args, settings)
    if token is None:
        raise TraceError(_say("trace.no_token", lang, url=control), EXIT_USAGE)
    async with httpx.AsyncClient(base_url=control, timeout=120, headers={TOKEN_HEADER: token}) as client:
        reply = await client.get(f"/trainer/api/flow/{quote(args.application_id, safe='')}")
    try:
        body = reply.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if reply.status_code == 200 and isinstance(body, dict):
        return body
    if reply.status_code in (401, 403):
        raise TraceError(_say("trace.target", lang, problem=f"{control}: the token is refused ({reply.status_code})"),
                         EXIT_USAGE)
    if reply.status_code == 404 and error is None:
        return None  # no view on this control system
    if reply.status_code == 404:
        raise FlowError(args.application_id)
    if reply.status_code == 409 and error == "definition_missing":
        raise DefinitionMissing(str(body.get("reglament")))
    raise ClientError.of(reply, "control")


class _world:
    """The world to read from, as an async context manager (see the module's docstring)."""

    def __init__(self, args: argparse.Namespace, settings) -> None:
        self.args, self.settings = args, settings
        self._simulation = None

    async def __aenter__(self):
        from egov_sim.scenario.remote import RemoteWorld, TargetError

        args, settings, lang = self.args, self.settings, self.args.lang
        control = (args.target or settings.url_of("control")).rstrip("/")
        answers = await _answers(control)
        if args.target and not answers:
            raise TraceError(_say("trace.target", lang, problem=f"{control}/health does not answer"), EXIT_USAGE)
        if answers:
            token = _token(args, settings)
            if token is None:
                raise TraceError(_say("trace.no_token", lang, url=control), EXIT_USAGE)
            try:
                return await RemoteWorld.connect(control, settings.data_dir, token=token)
            except TargetError as exc:
                raise TraceError(_say("trace.target", lang, problem=exc), EXIT_USAGE) from None
        from egov_sim.snapshot import running_up

        data_dir = settings.data_dir.expanduser().resolve()
        pid = running_up(settings)
        if pid is not None:
            raise TraceError(_say("trace.up_elsewhere", lang, dir=data_dir, pid=pid, url=control), EXIT_USAGE)
        if not holds_world(data_dir):
            raise TraceError(_say("trace.nowhere", lang, url=control, dir=data_dir), EXIT_USAGE)
        from egov_sim.inprocess import Simulation

        self._simulation = Simulation(settings)
        return await self._simulation.__aenter__()

    async def __aexit__(self, *exc: Any) -> None:
        if self._simulation is not None:
            await self._simulation.__aexit__(*exc)


def holds_world(data_dir: Path) -> bool:
    """Whether ``data_dir`` holds a world a run left (its systems' gateway passwords, drawn when a
    run first starts): the command opens no new world in an empty or unrelated directory."""
    from simulation.credentials import PASSWORDS_FILE

    return (data_dir / PASSWORDS_FILE).is_file()


async def _answers(url: str) -> bool:
    import httpx

    try:
        async with httpx.AsyncClient(timeout=2.0) as client:
            return (await client.get(url + "/health")).status_code == 200
    except Exception:  # noqa: BLE001 -- whatever keeps it from answering (an OverflowError for a bad port too)
        return False


def _token(args: argparse.Namespace, settings) -> str | None:
    """The token for running systems, least rights first; read from the data directory's files
    only when they exist (a token file is never drawn here)."""
    if args.token:
        return args.token
    for given in (settings.auditor_token, settings.admin_token):
        if given is not None and given.get_secret_value():
            return given.get_secret_value()
    if args.target and not args.data_dir:
        return None  # another world's files are no token for a target named by URL
    from simulation.credentials import RunCredentials

    credentials = RunCredentials(settings.data_dir)
    for role in ("auditor", "admin"):
        path = credentials.token_file(role)
        if path.is_file():
            return credentials.token(role)
    return None
