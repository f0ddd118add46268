"""What the State Corporation front office does in a reglament's steps: the operations a
definition's ``corporation_ws`` steps name.

Each works on the :class:`~corporation_ws.service.FrontOffice` and is called by the reglament
engine (:mod:`simulation.engine`) when a walk reaches a step of the front office; docs/reglaments.md
lists them. No operation assumes which others came before it: every one reads the application as
the operator entered it from the workstation's database (a step may come in a later walk, when a
timer brings it), and the request is scanned and signed by whichever step needs it first.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from gateway_protocol.errors import GatewayFault
from simulation.calendar import to_local
from simulation.engine import Done, Operations, StepCall, Verdict

from corporation_ws.texts import INCOMPLETE, LANGS, NO_DATA, RECEIPT, incomplete_text

if TYPE_CHECKING:
    from corporation_ws.service import FrontOffice, Taken

OPERATIONS = Operations(
    "corporation_ws",
    "the State Corporation front office (ЫАЖ АЖО): the operator takes the documents, queries the registries, "
    "signs and sends the request, hands the result over",
)

REGISTRY_PROBLEM = "registryProblem"
"""Where the registries' answer waits for the condition that reads it: in the walk's inputs, and in
the position's memory when a timer separates the two."""
DELIVERY_FAULT = "deliveryFault"
"""The gateway's error code when the request could not be delivered (in the walk's inputs)."""


async def _taken(office: FrontOffice, call: StepCall) -> Taken:
    """The application as taken at the front office, kept in the walk's inputs once read."""
    taken = call.inputs.get("taken")
    if taken is None or taken.application.id != call.application_id:
        taken = call.inputs["taken"] = await office.taken(str(call.application_id))
    return taken


@OPERATIONS.operation("operator-takes-applicant",
                      summary="The operator, logged in at the workstation, starts this application "
                              "(stamped when the application is started, not at the log-in)")
async def operator_takes_applicant(office: FrontOffice, call: StepCall) -> Done:
    taken = await _taken(office, call)
    return Done(detail=f"оператор {taken.operator.name}")


@OPERATIONS.operation("accept-documents",
                      summary="The State Corporation employee accepts the applicant's documents (a staff procedure)")
async def accept_documents(office: FrontOffice, call: StepCall) -> Done:
    taken = await _taken(office, call)
    names = [d.kk for d in call.reglament.required_documents if d.code in set(taken.request.presented_documents)]
    return Done(detail=f"талон {taken.application.ticket}; қабылданды: " + (", ".join(names) or "құжат жоқ"))


@OPERATIONS.operation("check-package", verdict=True,
                      summary="Verdict: the presented documents are those the Standard asks for on the queue list")
async def check_package(office: FrontOffice, call: StepCall) -> Verdict:
    missing = office.missing_documents(call.reglament, (await _taken(office, call)).request)
    if missing:
        return Verdict(holds=False, detail="жетіспейді: " + ", ".join(d.kk for d in missing))
    return Verdict(holds=True, detail="құжаттар топтамасы толық")


@OPERATIONS.operation("refuse-package",
                      params={"appendix": "the appendix of the Standard whose form the receipt follows, as the "
                                          "seed cites it (default 3)",
                              "form": "instead of the Standard's appendix, what the receipt's form follows "
                                      "({kk, ru, en}), for a reglament older than the Standards",
                              "list": "where the list of documents is ({kk, ru, en}: \"осы регламенттің "
                                      "15-тармағында\"), instead of the Standard's item 9"},
                      summary="The receipt refusing an incomplete package, on the form of the Standard's appendix "
                              "the seed cites (3 unless `appendix` says otherwise), or of the reglament's own "
                              "`form` and `list`")
async def refuse_package(office: FrontOffice, call: StepCall) -> Done:
    missing = office.missing_documents(call.reglament, (await _taken(office, call)).request)
    where = f"{call.reglament.id}/{call.channel.name}: refuse-package"
    form, listed = call.params.get("form"), call.params.get("list")
    for name, value in (("form", form), ("list", listed)):
        if value is not None and not (isinstance(value, dict) and all(isinstance(value.get(k), str) for k in LANGS)):
            raise ValueError(f"{where}'s {name} is {{kk, ru, en}}, not {value!r}")
    appendix = call.params.get("appendix", 3)
    if isinstance(appendix, bool) or not isinstance(appendix, int) or appendix < 1:
        raise ValueError(f"{where}'s appendix must be a positive whole number, not {appendix!r}")
    text = dict(INCOMPLETE) if listed is None else incomplete_text(listed)
    receipt = {"type": "refusal-receipt", "form": form["kk"] if form else f"Стандарттың {appendix}-қосымшасы",
               **text, "missing": [d.model_dump() for d in missing]}
    await office.note(str(call.application_id), call.at, status="rejected", receipt=receipt)
    return Done(detail=text["kk"])


@OPERATIONS.operation("fill-request-form",
                      summary="The request form with the applicant's and the representative's data")
async def fill_request_form(office: FrontOffice, call: StepCall) -> Done:
    taken = await _taken(office, call)
    await office.fill_in(taken, call.reglament)
    representative = taken.request.representative
    return Done(detail=f"өкіл {representative.iin}" if representative else "өтініш беруші өзі")


@OPERATIONS.operation("query-registries",
                      summary="Queries through ЭҮШ: the applicant (and the representative) in ЖТ МДҚ, "
                              "the power of attorney in БНАЖ")
async def query_registries(office: FrontOffice, call: StepCall) -> Done:
    taken = await _taken(office, call)
    problem = await office.registry_problem(taken, call.reglament)
    call.inputs[REGISTRY_PROBLEM] = problem
    representative = taken.request.representative
    return Done(detail="ЖТ МДҚ" + (", БНАЖ" if representative else "") + " сұрауы ЭҮШ арқылы",
                remember={REGISTRY_PROBLEM: problem})


@OPERATIONS.operation("registries-answered", verdict=True,
                      summary="Verdict: ЖТ МДҚ holds the applicant's data and БНАЖ the valid power of attorney")
async def registries_answered(office: FrontOffice, call: StepCall) -> Verdict:
    problem = _registry_problem(call)
    if problem:
        return Verdict(holds=False, detail=problem)
    representative = (await _taken(office, call)).request.representative
    return Verdict(holds=True, detail="деректер бар" + (", сенімхат жарамды" if representative else ""))


def _registry_problem(call: StepCall) -> str | None:
    if REGISTRY_PROBLEM in call.inputs:
        return call.inputs[REGISTRY_PROBLEM]
    if REGISTRY_PROBLEM in call.memory:
        return call.memory[REGISTRY_PROBLEM]
    raise LookupError(f"{call.reglament.id}/{call.channel.name}: {call.step.label} reads the registries' answer, "
                      "but no step queried them before it")


@OPERATIONS.operation("report-no-data", summary="The message that the data cannot be obtained from the registries")
async def report_no_data(office: FrontOffice, call: StepCall) -> Done:
    notice: dict[str, Any] = {"type": "no-data-notice", **NO_DATA, "detail": _registry_problem(call)}
    await office.note(str(call.application_id), call.at, status="rejected", receipt=notice)
    return Done(detail=NO_DATA["kk"])


@OPERATIONS.operation("scan-and-sign",
                      summary="The presented documents scanned and attached, the request signed with the operator's ЭЦҚ")
async def scan_and_sign(office: FrontOffice, call: StepCall) -> Done:
    document, _ = await office.scan_and_sign(await _taken(office, call), call.reglament)
    return Done(detail=f"{len(document['attachments'])} құжат сканерленді, оператордың ЭЦҚ-сы қойылды")


@OPERATIONS.operation("send-request",
                      params={"recipient_kk": "the receiving system's name in the trace (default: the regional "
                                              "gateway's АЖО, «ЭҮӨШ АЖО»)"},
                      summary="The signed request through ЭҮШ to the provider's workstation, or the system "
                              "`recipient_kk` names (signed here if no step signed it before); the registration "
                              "number and due date go on the acceptance receipt")
async def send_request(office: FrontOffice, call: StepCall) -> Done:
    document, signature, signed_here = await office.signed_request(await _taken(office, call), call.reglament)
    detail, send = _sender(office, call, document, signature)
    if signed_here:
        detail = f"оператордың ЭЦҚ-сы қойылды; {detail}"
    return Done(detail=detail, after=send)


def _sender(office: FrontOffice, call: StepCall, document: dict[str, Any], signature: str,
            carried: dict[str, Any] | None = None) -> tuple[str, Any]:
    """The trace's words for the request sent through ЭҮШ, and the sending itself (run once the
    step is recorded): a request not delivered leaves its fault in the walk's inputs."""
    gateway = call.reglament.gateway
    regional = gateway.regional_name.kk if gateway.regional_name else "ЭҮӨШ"
    recipient = str(call.params.get("recipient_kk") or f"{regional} АЖО")
    reglament, channel, application_id = call.reglament, call.channel.name, str(call.application_id)
    inputs = call.inputs

    async def send() -> None:
        try:
            await office.send_request(reglament, channel, application_id, document, signature, carried)
        except GatewayFault as fault:
            inputs[DELIVERY_FAULT] = fault.code
            await office.note(application_id, None, status="not_delivered")

    return f"ЭҮШ арқылы {gateway.service_id} → {recipient}", send


@OPERATIONS.operation("hand-over-result",
                      summary="The provider's result handed to the applicant who comes for it (while the office is open)")
async def hand_over_result(office: FrontOffice, call: StepCall) -> Done:
    return Done(detail=await office.hand_over(str(call.application_id), call.at))


@OPERATIONS.operation("give-result",
                      summary="The State Corporation employee gives the applicant the provider's result (a staff procedure)")
async def give_result(office: FrontOffice, call: StepCall) -> Done:
    return Done(detail=await office.hand_over(str(call.application_id), call.at))


# ---- papers printed at the front office and the courier's run ---------------------------------

PRINTED_PAPERS = "printedPapers"
"""The papers the operator printed from the registries (in the position's memory), for the
courier's register."""


def _flag(call: StepCall, name: str, default: bool = True) -> bool:
    value = call.params.get(name, default)
    if not isinstance(value, bool):
        raise ValueError(f"{call.reglament.id}/{call.channel.name}: {call.step.label}: parameter {name!r} "
                         f"is true or false, not {value!r}")
    return value


_PAPER_KK = {"identity-document": "жеке басын куәландыратын құжат", "address-reference": "мекенжай анықтамасы"}


@OPERATIONS.operation(
    "print-identity-documents",
    params={"family": "also the family members living with the applicant: relatives on record in ЖТ МДҚ "
                      "registered at the applicant's address, and those the form declares (default true)",
            "address_reference": "also the address reference from the address registry (default true)",
            "declared_field": "the form's field that lists declared family members (default familyMembers)"},
    summary="The operator obtains through ЭҮШ from ЖТ МДҚ the identity documents of the applicant (and the "
            "family members living with them) and the address reference from the address registry, and "
            "prints them on paper; the papers go with the application (what could not be obtained is said)")
async def print_identity_documents(office: FrontOffice, call: StepCall) -> Done:
    field = call.params.get("declared_field", "familyMembers")
    papers, missing = await office.print_papers(
        await _taken(office, call), family=_flag(call, "family"),
        address_reference=_flag(call, "address_reference"), declared_field=str(field))
    counted: dict[str, int] = {}
    for paper in papers:
        counted[paper["kind"]] = counted.get(paper["kind"], 0) + 1
    identities = [p["iin"] for p in papers if p["kind"] == "identity-document"]
    detail = (f"басып шығарылды: {_PAPER_KK['identity-document']} ({', '.join(identities) or '–'})"
              + (f", {_PAPER_KK['address-reference']}" if counted.get("address-reference") else ""))
    if missing:
        detail += "; алынбады: " + ", ".join(missing)
    return Done(detail=detail, remember={PRINTED_PAPERS: papers})


@OPERATIONS.operation(
    "send-by-courier",
    summary="The courier's run (time the step `N times a working day` in the courier's `hours`): the "
            "application and the printed papers go to the provider with a delivery register (number, date, "
            "the run, the applications and papers) signed for the State Corporation with the operator's ЭЦҚ; "
            "the request goes through ЭҮШ to the provider's workstation as send-request sends it, the "
            "register with it")
async def send_by_courier(office: FrontOffice, call: StepCall) -> Done:
    taken = await _taken(office, call)
    document, signature, signed_here = await office.signed_request(taken, call.reglament)
    papers = list(call.memory.get(PRINTED_PAPERS) or [])
    actor = call.reglament.actors.get(call.step.actor) if call.step.actor else None
    courier = actor.kk if actor else "Мемлекеттік корпорация курьері"
    register = await office.delivery_register(taken, call.reglament, call.at, courier, document, papers)
    detail, send = _sender(office, call, document, signature, {"deliveryRegister": register, "papers": papers})
    sheet = register["document"]
    detail = (f"жеткізу тізілімі № {sheet['number']} ({sheet['run'][11:16]} жөнелтуі): өтініш және "
              f"{len(papers)} қағаз, Мемлекеттік корпорацияның ЭЦҚ-сы қойылды; {detail}")
    if signed_here:
        detail = f"өтінішке оператордың ЭЦҚ-сы қойылды; {detail}"
    return Done(detail=detail, after=send)



# ---- the receipt of the documents accepted (a reglament's list of what it holds) ----------------


async def _full_name(office: FrontOffice, iin: str, correlation_id: str) -> str | None:
    """The person's surname, name and patronymic as ЖТ МДҚ holds them (None if it does not)."""
    try:
        reply = await office.runtime.gateway().send("GBDFL_UniversalServiceSync", {"iin": iin},
                                                    correlation_id=correlation_id)
    except GatewayFault:
        return None
    person = (reply.responseData.data or {}).get("person") or {}
    return " ".join(p for p in (person.get("surname"), person.get("name"), person.get("patronymic")) if p) or None


@OPERATIONS.operation(
    "give-receipt",
    params={"issue_days": "the date of issue: this many calendar days after the day of acceptance (the day itself "
                          "not counted), moved to the office's next open day",
            "place": "where the result is issued ({kk, ru, en})",
            "phone": "the office's contact telephone"},
    required=("issue_days", "place"),
    summary="The employee registers the accepted documents in the journal and gives the receipt: the request's "
            "number and the date of acceptance, the service, the number and names of the documents, the date and "
            "place of issue, the employee's name, the applicant's (and the representative's) names and "
            "telephones; kept with the application's receipts")
async def give_receipt(office: FrontOffice, call: StepCall) -> Done:
    taken = await _taken(office, call)
    days = call.params["issue_days"]
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ValueError(f"{call.reglament.id}/{call.channel.name}: {call.step.label}: issue_days must be a "
                         f"positive whole number, not {days!r}")
    local = to_local(call.at)
    schedule = call.reglament.schedule_of(office.runtime.name)
    issue = local.date() + timedelta(days=days)
    while not schedule.is_open_day(issue):
        issue += timedelta(days=1)
    request, application_id = taken.request, str(call.application_id)
    presented = set(request.presented_documents)
    documents = [{k: getattr(d, k) for k in ("code", *LANGS)}
                 for d in call.reglament.required_documents if d.code in presented]
    applicant = {"iin": request.applicant_iin,
                 "fullName": await _full_name(office, request.applicant_iin, application_id),
                 "phone": request.form.get("phone")}
    representative = None
    if request.representative:
        representative = {"iin": request.representative.iin,
                          "fullName": await _full_name(office, request.representative.iin, application_id),
                          "phone": request.form.get("representativePhone")}
    receipt = {
        "type": "documents-receipt", **RECEIPT,
        "requestNumber": f"{local:%Y%m%d}-{taken.application.ticket}",
        "acceptedAt": local.isoformat(),
        "service": call.reglament.title.model_dump(),
        "documents": {"count": len(documents), "items": documents},
        "issue": {"date": issue.isoformat(), "place": call.text_param("place")},
        "employee": {"fullName": taken.operator.name, "phone": call.params.get("phone")},
        "applicant": applicant,
        "representative": representative,
    }
    await office.note(application_id, call.at, receipt=receipt)
    return Done(detail=f"журналда тіркелді № {receipt['requestNumber']}, қолхат берілді: {len(documents)} құжат, "
                       f"беру күні {issue.isoformat()}")

__all__ = ["DELIVERY_FAULT", "OPERATIONS", "PRINTED_PAPERS", "REGISTRY_PROBLEM"]
