"""``egov-sim apply``: file one application with systems already running (``egov-sim up``).

It takes the documented HTTP path (docs/http.md), step for step:

- portal: register the applicant's account if need be, proving the ЖСН with their AUTH key (the
  portal's one-time challenge, ``POST /api/accounts/challenge``, signed in NCALayer with their
  seeded AUTH key storage or the one of ``--auth-key-storage``), log in, fill in the form
  (``POST /api/services/<id>/document``), sign the answer's ``ncalayer`` request with the
  applicant's NCALayer (``POST /ncalayer`` of ``signatures``: their seeded key storage, or the one
  of ``--key-storage``), submit it (``POST /api/applications``);
- corporation: the operator logs in at the workstation, the applicant takes a queue ticket, the
  operator takes the application (``POST /api/applications``).

The first line on stdout is the application id, alone, so ``ID=$(egov-sim apply …)`` works; what
happened goes to stderr. ``--run`` then runs virtual time until nothing is pending and reports
the outcome (stderr); ``--json`` prints one JSON object on stdout instead of the id.

Exit status: 0 the application was filed (whatever became of it), 1 a system refused or could not
be reached, 2 bad arguments or case data.
"""

from __future__ import annotations

import argparse
import base64
import json
from pathlib import Path
from typing import Any, TextIO

DEFAULT_PORTAL_PASSWORD = "Egov-sim-2026"
"""The applicant's portal password when --password is not given (the account is registered with
it if the applicant has none yet)."""
SEEDED_KEY_PASSWORD = "Qwerty12"
"""The password of the key storages the CA seeds for a run's people (signatures/people.yaml)."""

EXIT_FILED, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``apply`` on the ``egov-sim`` subcommands."""
    apply = commands.add_parser(
        "apply",
        help="file one application with running systems (egov-sim up); prints its id",
        description=(
            "File one application over HTTP with the systems of a running `egov-sim up`, as "
            "docs/http.md does step by step. Prints the application id on the first line of stdout; "
            "notes go to stderr."
        ),
    )
    apply.add_argument("reglament", help="e.g. almaty-queue (`egov-sim reglaments` lists them)")
    apply.add_argument("--channel", required=True,
                       help="a channel of the reglament: one that starts on the portal or at the State "
                            "Corporation's front office (`egov-sim reglaments` lists them)")
    apply.add_argument("--iin", required=True, help="the applicant's ЖСН (12 digits)")
    apply.add_argument(
        "--case-data", metavar="FILE",
        help="YAML or JSON with the form: form (e.g. queueList), attachments (portal), "
             "presented_documents and representative (corporation); see docs/http.md",
    )
    apply.add_argument(
        "--password",
        help=f"portal: the applicant's portal password; the account is registered with it if there is "
             f"none yet (default {DEFAULT_PORTAL_PASSWORD})",
    )
    apply.add_argument(
        "--key-storage", metavar="FILE.p12",
        help="portal: sign with this PKCS#12 key storage instead of the applicant's seeded one",
    )
    apply.add_argument(
        "--auth-key-storage", metavar="FILE.p12",
        help="portal: prove the ЖСН at registration with this AUTH key storage instead of the applicant's "
             "seeded one",
    )
    apply.add_argument(
        "--key-password", default=SEEDED_KEY_PASSWORD,
        help=f"the key storage's password (default {SEEDED_KEY_PASSWORD}, that of the seeded ones)",
    )
    apply.add_argument("--run", action="store_true",
                       help="then run virtual time until nothing is pending and report the outcome")
    apply.add_argument("--json", action="store_true", help="print one JSON object on stdout instead of the id")
    apply.add_argument("--base-port", type=int,
                       help="port of the first system of the running `egov-sim up` (default 8700)")
    return apply


class ApplyError(Exception):
    """Why the application could not be filed: one line, and the exit status."""

    def __init__(self, message: str, status: int = EXIT_REFUSED) -> None:
        super().__init__(message)
        self.status = status


def run_apply(args: argparse.Namespace, settings, out: TextIO, err: TextIO) -> int:
    """Perform ``egov-sim apply``; ``settings`` is the run's :class:`simulation.settings.Settings`."""
    if getattr(args, "base_port", None) and settings.base_port != args.base_port:
        settings = settings.model_copy(update={"base_port": args.base_port})
    try:
        reglament = _reglament(args.reglament, args.channel)
        kind = _entry(reglament, args.channel)
        case = load_case_data(Path(args.case_data), kind, reglament) if args.case_data else CaseFill()
        for option, given in (("--key-storage", args.key_storage), ("--auth-key-storage", args.auth_key_storage)):
            if kind == "portal" and given and not Path(given).is_file():
                raise ApplyError(f"{option} {given}: no such file", EXIT_USAGE)
        if kind == "corporation" and (args.key_storage or args.auth_key_storage or args.password):
            raise ApplyError("--password, --key-storage and --auth-key-storage are for the portal channel: at "
                             "the State Corporation the operator signs", EXIT_USAGE)
        _check_iin(args.iin)
        with _Systems(settings) as systems:
            if kind == "portal":
                filed = _file_on_portal(systems, args, reglament, case, err)
            else:
                filed = _file_at_corporation(systems, args, reglament, case, err)
            if args.run:
                systems.call("control", "POST", "/clock/run", timeout=600)
                filed = filed.refreshed(systems)
    except ApplyError as exc:
        err.write(f"egov-sim apply: {exc}\n")
        return exc.status
    report = filed.report(with_trace=args.run)
    if args.json:
        out.write(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    else:
        out.write(f"{filed.id}\n")
    out.flush()
    err.write(_summary(report) + "\n")
    return EXIT_FILED


# ---- the arguments and the case data --------------------------------------------------------


def _reglament(reglament_id: str, channel: str):
    from reglaments import all_reglaments

    known = all_reglaments()
    if reglament_id not in known:
        raise ApplyError(f"no reglament {reglament_id!r} (there are: {', '.join(known)})", EXIT_USAGE)
    reglament = known[reglament_id]
    if channel not in reglament.channels:
        raise ApplyError(f"reglament {reglament_id} has no channel {channel!r} "
                         f"(it has: {', '.join(reglament.channels)})", EXIT_USAGE)
    return reglament


def _entry(reglament, channel: str) -> str:
    """``portal`` or ``corporation``: where the channel's applicant goes (its first step's system)."""
    system = reglament.channel(channel).first.system
    if system == "portal":
        return "portal"
    if system == "corporation_ws":
        return "corporation"
    raise ApplyError(f"channel {channel} of {reglament.id} starts at {system}: egov-sim apply files on the portal "
                     "or at the State Corporation's front office", EXIT_USAGE)


def _check_iin(iin: str) -> None:
    from simulation.identifiers import IdentifierError, validate_iin

    try:
        validate_iin(iin, "--iin")
    except IdentifierError as exc:
        raise ApplyError(exc.message, EXIT_USAGE) from None


class CaseFill:
    """What the applicant fills in (all optional: the defaults file a complete package)."""

    def __init__(self, form: dict[str, Any] | None = None, attachments: list[dict[str, Any]] | None = None,
                 presented_documents: list[str] | None = None,
                 representative: dict[str, str] | None = None) -> None:
        self.form = form or {}
        self.attachments = attachments
        self.presented_documents = presented_documents
        self.representative = representative


_PORTAL_FIELDS = {"form", "attachments"}
_CORPORATION_FIELDS = {"form", "presented_documents", "representative"}


def load_case_data(path: Path, channel: str, reglament) -> CaseFill:
    """Read and check a case-data file; an ApplyError names the file and the field."""
    import yaml

    def bad(field: str, problem: str) -> ApplyError:
        return ApplyError(f"case data {path}: {field}: {problem}", EXIT_USAGE)

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ApplyError(f"case data {path}: {exc.strerror or exc}", EXIT_USAGE) from None
    try:
        data = yaml.safe_load(text)  # JSON is YAML too
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ApplyError(f"case data {path}: not YAML or JSON: {problem}{where}", EXIT_USAGE) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise bad("(top)", "must be a mapping of fields (form, attachments, presented_documents, representative)")
    allowed = _PORTAL_FIELDS if channel == "portal" else _CORPORATION_FIELDS
    for key in data:
        if key not in allowed:
            other = "corporation" if channel == "portal" else "portal"
            belongs = key in (_CORPORATION_FIELDS if channel == "portal" else _PORTAL_FIELDS)
            raise bad(str(key), f"is for the {other} channel" if belongs
                      else f"unknown field (the {channel} channel takes: {', '.join(sorted(allowed))})")
    form = data.get("form", {})
    if not isinstance(form, dict):
        raise bad("form", "must be a mapping, e.g. {queueList: socially-vulnerable}")
    if "queueList" in form:
        lists = [q.code for q in reglament.queue_lists]
        if form["queueList"] not in lists:
            raise bad("form.queueList", f"no queue list {form['queueList']!r} (there are: {', '.join(lists)})")
    codes = [d.code for d in reglament.required_documents]

    def code_of(field: str, value: Any) -> str:
        if value not in codes:
            raise bad(field, f"no document {value!r} in the form (there are: {', '.join(codes)})")
        return value

    fill = CaseFill(form=form)
    if "attachments" in data:
        attachments = data["attachments"]
        if not isinstance(attachments, list):
            raise bad("attachments", "must be a list of {code, file | sha256 | content, name}")
        fill.attachments = []
        for index, item in enumerate(attachments):
            where = f"attachments[{index}]"
            if not isinstance(item, dict):
                raise bad(where, "must be a mapping {code, file | sha256 | content, name}")
            unknown = set(item) - {"code", "name", "file", "sha256", "content"}
            if unknown:
                raise bad(f"{where}.{sorted(unknown)[0]}", "unknown field (code, name, file, sha256, content)")
            code = code_of(f"{where}.code", item.get("code"))
            given = [k for k in ("file", "sha256", "content") if k in item]
            if len(given) > 1:
                raise bad(where, f"give one of file, sha256, content (not {' and '.join(given)})")
            attachment: dict[str, Any] = {"code": code, "name": str(item.get("name") or f"{code}.pdf")}
            if "file" in item:
                file = (path.parent / str(item["file"])).resolve()
                try:
                    attachment["content"] = base64.b64encode(file.read_bytes()).decode()
                except OSError as exc:
                    raise bad(f"{where}.file", f"{file}: {exc.strerror or exc}") from None
                attachment["name"] = str(item.get("name") or Path(str(item["file"])).name)
            elif "sha256" in item:
                attachment["sha256"] = str(item["sha256"])
            elif "content" in item:
                attachment["content"] = str(item["content"])
            else:
                attachment["content"] = _scan(code)
            fill.attachments.append(attachment)
    if "presented_documents" in data:
        documents = data["presented_documents"]
        if not isinstance(documents, list):
            raise bad("presented_documents", f"must be a list of document codes ({', '.join(codes)})")
        fill.presented_documents = [code_of(f"presented_documents[{i}]", c) for i, c in enumerate(documents)]
    if "representative" in data:
        representative = data["representative"]
        if not isinstance(representative, dict) or set(representative) != {"iin", "power_of_attorney"}:
            raise bad("representative", "must be {iin: <ЖСН>, power_of_attorney: <its number>}")
        from simulation.identifiers import IdentifierError, validate_iin

        try:
            validate_iin(str(representative["iin"]), "representative.iin")
        except IdentifierError as exc:
            raise ApplyError(f"case data {path}: {exc.message}", EXIT_USAGE) from None
        fill.representative = {"iin": str(representative["iin"]),
                               "power_of_attorney": str(representative["power_of_attorney"])}
    return fill


def _scan(code: str) -> str:
    """A stand-in scan of a document, base64."""
    return base64.b64encode(f"egov-sim: a scan of {code}".encode()).decode()


# ---- the systems ------------------------------------------------------------------------------


class _Systems:
    """HTTP to the running systems; an unreachable one or a refusal ends in one ApplyError line."""

    def __init__(self, settings) -> None:
        import httpx

        from simulation.access import TOKEN_HEADER
        from simulation.credentials import RunCredentials

        self.settings = settings
        # the CLI is the run's administrator: its token from the data directory (or the setting)
        self.http = httpx.Client(timeout=max(settings.request_timeout, 60.0),
                                 headers={TOKEN_HEADER: RunCredentials.of(settings).admin_token})

    def __enter__(self) -> _Systems:
        return self

    def __exit__(self, *_exc) -> None:
        self.http.close()

    def call(self, system: str, method: str, path: str, *, expect: tuple[int, ...] = (200,),
             timeout: float | None = None, **kwargs) -> Any:
        import httpx

        url = self.settings.url_of(system)
        if timeout is not None:
            kwargs["timeout"] = timeout
        try:
            response = self.http.request(method, url + path, **kwargs)
        except httpx.TransportError as exc:
            raise ApplyError(f"cannot reach {system} at {url} ({type(exc).__name__}); is `egov-sim up` "
                             f"running there? (--base-port, EGOV_SIM_BASE_PORT, EGOV_SIM_URLS)") from None
        if response.status_code not in expect:
            raise ApplyError(f"{system} {method} {path} answered {response.status_code}: {_problem(response)}")
        return response.json() if response.content else None


def _problem(response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if not isinstance(body, dict):
        return str(body)[:300]
    message = body.get("message") or body.get("detail") or body.get("error") or body
    fields = body.get("fields") or ([{"field": body["field"], "problem": ""}] if body.get("field") else [])
    named = "; ".join(f"{f.get('field')}: {f.get('problem')}".rstrip(": ") for f in fields if isinstance(f, dict))
    code = body.get("code") or body.get("error")
    text = f"{message}" + (f" [{named}]" if named else "") + (f" ({code})" if code and code != message else "")
    if body.get("application"):
        text += f"; application {body['application']}"
    return text


class _Filed:
    def __init__(self, channel: str, reglament: str, view: dict[str, Any], refresh: tuple[str, str, dict]) -> None:
        self.channel, self.reglament, self.view, self._refresh = channel, reglament, view, refresh
        self.id: str = view["id"]
        self.trace: list[dict[str, Any]] = []

    def refreshed(self, systems: _Systems) -> _Filed:
        system, path, headers = self._refresh
        self.view = systems.call(system, "GET", path, headers=headers)
        self.trace = systems.call("control", "GET", f"/trace/{self.id}")
        return self

    def report(self, with_trace: bool) -> dict[str, Any]:
        view = self.view
        result = view.get("result")
        if result:
            outcome = "approved" if result["document"].get("decision") == "approved" else "refused"
        elif view.get("status") in ("rejected", "not_delivered"):
            outcome = view["status"]
        else:
            outcome = "pending"
        report: dict[str, Any] = {
            "application_id": self.id,
            "reglament": self.reglament,
            "channel": self.channel,
            "status": view.get("status"),
            "outcome": outcome,
            "registration_number": view.get("registrationNumber"),
        }
        if result:
            report["result"] = {"document": result["document"], "verdict": result["verdict"]}
        refusal = view.get("refusal") or next(
            (r for r in reversed(view.get("receipts") or []) if r.get("type") in ("refusal-receipt", "no-data-notice")),
            None)
        if refusal:
            report["refusal"] = refusal
        if with_trace:
            report["trace"] = self.trace
        return report


def _summary(report: dict[str, Any]) -> str:
    from reglaments import get_reglament

    entry = get_reglament(report["reglament"]).channel(report["channel"]).first.system
    where = "on the portal" if entry == "portal" else "at the State Corporation"
    line = f"{report['reglament']} {where}: application {report['application_id']}, {report['outcome']}"
    line += f" (status {report['status']}"
    if report.get("registration_number"):
        line += f", registration number {report['registration_number']}"
    line += ")"
    text = ((report.get("result") or {}).get("document") or {}).get("text") or report.get("refusal") or {}
    if isinstance(text, dict) and (text.get("en") or text.get("kk")):
        line += f"\n  {text.get('en') or text.get('kk')}"
    return line


# ---- the two channels ------------------------------------------------------------------------


def _file_on_portal(systems: _Systems, args, reglament, case: CaseFill, err: TextIO) -> _Filed:
    password = args.password or DEFAULT_PORTAL_PASSWORD
    registered = _register_on_portal(systems, args, password, err)
    try:
        session = systems.call("portal", "POST", "/api/sessions",
                               json={"iin": args.iin, "password": password, "reglament": reglament.id})
    except ApplyError as exc:
        if "answered 401" in str(exc) and registered is False:
            raise ApplyError(f"{exc} -- ЖСН {args.iin} already has a portal account: give its --password") from None
        if "answered 401" in str(exc) and registered is None:
            raise ApplyError(f"{exc} -- ЖСН {args.iin} has no portal account, or it has another password "
                             f"(--password); to register, the run holds no AUTH key storage of this ЖСН: "
                             f"give one with --auth-key-storage") from None
        raise
    auth = {"Authorization": f"Bearer {session['session']}"}
    attachments = case.attachments
    if attachments is None:
        attachments = [{"code": d.code, "name": f"{d.code}.pdf", "content": _scan(d.code)}
                       for d in reglament.required_documents]
    form = {"queueList": reglament.queue_lists[0].code, **case.form}
    prepared = systems.call("portal", "POST", f"/api/services/{reglament.id}/document", headers=auth,
                            json={"form": form, "attachments": attachments})
    dialog: dict[str, Any] = {"password": args.key_password}
    if args.key_storage:
        dialog["pkcs12"] = base64.b64encode(Path(args.key_storage).read_bytes()).decode()
    else:
        dialog["iin"] = args.iin
    signed = systems.call("signatures", "POST", "/ncalayer", json={**prepared["ncalayer"], "dialog": dialog})
    view = systems.call("portal", "POST", "/api/applications", headers=auth,
                        json={"document": prepared["document"], "signature": signed["body"]["result"][0]})
    return _Filed(args.channel, reglament.id, view, ("portal", f"/api/cabinet/applications/{view['id']}", auth))


def _register_on_portal(systems: _Systems, args, password: str, err: TextIO) -> bool | None:
    """Register the applicant as egov.kz does with an ЭЦҚ: the portal's one-time challenge signed
    with their AUTH key. True: registered now; False: the account exists; None: no AUTH key
    storage to prove the ЖСН with (the run seeded none for it and --auth-key-storage is not given),
    so the applicant logs in with an account they must have."""
    challenge = systems.call("portal", "POST", "/api/accounts/challenge")
    dialog: dict[str, Any] = {"password": args.key_password}
    if args.auth_key_storage:
        dialog["pkcs12"] = base64.b64encode(Path(args.auth_key_storage).read_bytes()).decode()
    else:
        dialog.update(iin=args.iin, usage="auth")
    signed = systems.call("signatures", "POST", "/ncalayer", json={**challenge["ncalayer"], "dialog": dialog},
                          expect=(200, 404))
    if not signed.get("status"):  # 404: the run holds no AUTH key storage of this ЖСН
        return None
    registered = systems.call("portal", "POST", "/api/accounts", expect=(201, 409), json={
        "iin": args.iin, "password": password, "challenge": challenge["challenge"],
        "signature": signed["body"]["result"][0]})
    if registered.get("registered"):
        err.write(f"registered ЖСН {args.iin} on the portal (proved with AUTH certificate "
                  f"{registered.get('certificate')})\n")
        return True
    return False


def _file_at_corporation(systems: _Systems, args, reglament, case: CaseFill, err: TextIO) -> _Filed:
    operator = systems.call("corporation_ws", "POST", "/api/operator/sessions")
    auth = {"Authorization": f"Bearer {operator['session']}"}
    ticket = systems.call("corporation_ws", "POST", "/api/tickets", params={"reglament": reglament.id})
    err.write(f"operator {operator.get('operator', '')}, ticket {ticket['ticket']}\n")
    request: dict[str, Any] = {
        "reglament": reglament.id,
        "channel": args.channel,
        "ticket": ticket["ticket"],
        "applicant_iin": args.iin,
        "presented_documents": case.presented_documents if case.presented_documents is not None
        else [d.code for d in reglament.required_documents],
        "form": {"queueList": reglament.queue_lists[0].code, **case.form},
    }
    if case.representative:
        request["representative"] = case.representative
    view = systems.call("corporation_ws", "POST", "/api/applications", headers=auth, json=request)
    return _Filed(args.channel, reglament.id, view, ("corporation_ws", f"/api/applications/{view['id']}", auth))
