"""What the provider workstation does in a reglament's steps: the operations a definition's
provider_ws steps and staff procedures name.

Each works on the :class:`~provider_ws.service.ProviderWorkstation` and is called by the reglament
engine (:mod:`simulation.engine`) when a walk reaches a step of the workstation; the engine times
the staff procedures (or, in manual mode, waits for the person who does them). docs/reglaments.md
lists every system's operations.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from simulation.calendar import to_local
from simulation.engine import Done, Operations, StepCall, Verdict

if TYPE_CHECKING:
    from provider_ws.service import ProviderWorkstation

OPERATIONS = Operations(
    "provider_ws",
    "the service provider's workstation (ЭҮӨШ АЖО): registration, the staff procedures, the check, "
    "the head's signature and the result sent back",
)

MET = "негіздемелерге сәйкес"


def _regional(call: StepCall) -> str:
    name = call.reglament.gateway.regional_name
    return name.kk if name else "ЭҮӨШ"


async def _check(ws: ProviderWorkstation, call: StepCall) -> dict[str, str] | None:
    return await ws.decide(call.reglament, call.application_id, call.at, call.inputs)


# ---- the request and the provider's check ---------------------------------------------------------


@OPERATIONS.operation("register-request",
                      summary="The request relayed by the regional gateway is registered: its registration number")
async def register_request(ws: ProviderWorkstation, call: StepCall) -> Done:
    case = await ws.case(call.application_id)
    return Done(detail=f"тіркеу нөмірі {case.registration_number}")


@OPERATIONS.operation("assign-executor",
                      summary="The head names the responsible executor (in manual mode: the person's input `executor`)")
async def assign_executor(ws: ProviderWorkstation, call: StepCall) -> Done:
    executor = call.inputs.get("executor")
    if not isinstance(executor, str) or not executor.strip():
        return Done()
    await ws.update_case(call.application_id, executor=executor.strip())
    return Done(detail=f"жауапты орындаушы – {executor.strip()}")


@OPERATIONS.operation("check-grounds", verdict=True,
                      summary="Verdict: no ground for refusal -- the applicant is not queued on the list yet and "
                              "the reglament's rule set (`decision`) finds none; an approval places them in the "
                              "queue. In manual mode the executor may decide (`decision`: approve or refuse, "
                              "`ground`)")
async def check_grounds(ws: ProviderWorkstation, call: StepCall) -> Verdict:
    ground = await _check(ws, call)
    return Verdict(holds=ground is None, detail=MET if ground is None else ground["kk"])


@OPERATIONS.operation("decide",
                      summary="The executor's check inside a procedure (no condition step): the same rules as "
                              "check-grounds; the decision is stored for the result")
async def decide(ws: ProviderWorkstation, call: StepCall) -> Done:
    ground = await _check(ws, call)
    return Done(detail=MET if ground is None else f"бас тарту негізі: {ground['kk']}")


@OPERATIONS.operation("draft-refusal", summary="The message refusing the service, on the ground the check found")
async def draft_refusal(ws: ProviderWorkstation, call: StepCall) -> Done:
    case = await ws.case(call.application_id)
    ground = json.loads(case.refusal_ground or "{}")
    return Done(detail=ground.get("kk", ""))


def _attached(document: dict[str, Any]) -> set[str]:
    return {str(a.get("code")) for a in document.get("attachments") or [] if isinstance(a, dict)}


@OPERATIONS.operation("check-documents", verdict=True,
                      summary="Verdict: the request's attachments are every document the Standard asks for on "
                              "its queue list (`documents_for`)")
async def check_documents(ws: ProviderWorkstation, call: StepCall) -> Verdict:
    case = await ws.case(call.application_id)
    attached = _attached(json.loads(case.request_document))
    missing = [d for d in call.reglament.documents_for(case.queue_list) if d.code not in attached]
    if not missing:
        return Verdict(holds=True, detail="құжаттар Стандарттың тізбесіне сәйкес")
    ground = {
        "code": "documents-missing",
        "kk": "Стандартта көрсетілген құжаттар ұсынылмады: " + ", ".join(d.kk for d in missing),
        "ru": "не представлены документы, предусмотренные Стандартом: " + ", ".join(d.ru for d in missing),
        "en": "documents the Standard asks for are missing: " + ", ".join(d.en for d in missing),
    }
    await ws.update_case(call.application_id, refusal_ground=json.dumps(ground, ensure_ascii=False))
    return Verdict(holds=False, detail=ground["kk"])


@OPERATIONS.operation("issue-receipt", summary="The receipt that the documents are accepted, with the registration number")
async def issue_receipt(ws: ProviderWorkstation, call: StepCall) -> Done:
    case = await ws.case(call.application_id)
    return Done(detail=f"құжаттардың қабылданғаны туралы қолхат: тіркеу нөмірі {case.registration_number}")


@OPERATIONS.operation("refuse-request",
                      summary="The provider refuses the request, ending the application: the reasoned refusal "
                              "(on the ground the check found), signed by the head, sent to the channel's "
                              "result_service")
async def refuse_request(ws: ProviderWorkstation, call: StepCall) -> Done:
    case = await ws.case(call.application_id)
    ground = json.loads(case.refusal_ground) if case.refusal_ground else {
        "code": "documents-not-met", "kk": "құжаттар негіздемелерге сәйкес емес",
        "ru": "документы не соответствуют основаниям", "en": "the documents do not meet the grounds"}
    await ws.settle(case, ground)
    await ws.sign_result(call.application_id, call.reglament, call.at)

    async def send() -> None:
        await ws.dispatch(call.application_id, call.reglament)

    return Done(detail=f"{ground['kk']}; басшының ЭЦҚ-мен қол қойылды, {_regional(call)} арқылы жолданды",
                after=send)


@OPERATIONS.operation(
    "register-delivery",
    params={"actor": "the actor of the definition who receives it, named on the receipt (default chancellery)"},
    summary="The request a courier brought is registered with its delivery register: the State Corporation's "
            "signature on the register checked, the receipt signed for the provider, both kept with the case "
            "(GET /api/cases/<id>/delivery-registers)")
async def register_delivery(ws: ProviderWorkstation, call: StepCall) -> Done:
    case = await ws.case(call.application_id)
    key = str(call.params.get("actor", "chancellery"))
    actor = call.reglament.actors.get(key)
    if actor is None:
        raise ValueError(f"{call.reglament.id}/{call.channel.name}: {call.step.label}: register-delivery names "
                         f"actor {key!r}, none of the definition's ({', '.join(call.reglament.actors)})")
    kept = await ws.receive_delivery_register(call.application_id, call.reglament, call.at, actor.kk)
    papers = sum(len(a.get("papers") or []) for a in kept["document"].get("applications") or [])
    sender = "Мемлекеттік корпорацияның ЭЦҚ-сы жарамды" if kept["receipt"]["senderSignature"] == "VALID" \
        else f"Мемлекеттік корпорацияның ЭЦҚ-сы: {kept['receipt']['senderSignature']}"
    return Done(detail=f"тіркеу нөмірі {case.registration_number}; жеткізу тізілімі № {kept['number']} "
                       f"(өтініш және {papers} қағаз) қабылданды: {sender}, {actor.kk} қабылдағаны туралы қол қойды")


# ---- the executor's work in another system --------------------------------------------------------


def _document_kind(call: StepCall) -> str:
    kind = call.params.get("document_kind")
    if isinstance(kind, dict):
        kind = kind.get(call.channel.name)
    if not isinstance(kind, str) or not kind:
        raise ValueError(f"{call.reglament.id}/{call.channel.name}: register-in-system needs a document_kind "
                         "for this channel")
    return kind


@OPERATIONS.operation("register-in-system",
                      params={"service_id": "the serviceId of the system the case is registered in "
                                            "(EAKIMDIK_DocumentRegistration)",
                              "document_kind": "what is registered (application, electronic-request), or a "
                                               "mapping channel -> kind",
                              "system_kk": "the system's name in the trace (default «Е-әкімдік»)"},
                      required=("service_id", "document_kind"),
                      summary="The executor registers the case's documents in another system of the region "
                              "through the regional gateway; its registration number goes to the trace")
async def register_in_system(ws: ProviderWorkstation, call: StepCall) -> Done:
    case = await ws.case(call.application_id)
    title = f"{case.registration_number}: {call.reglament.title.kk}"
    data: dict[str, Any] = {
        "applicationId": case.application_id,
        "reglament": call.reglament.id,
        "applicantIin": case.applicant_iin,
        "documentKind": _document_kind(call),
        "title": title if len(title) <= 200 else title[:199] + "…",
    }
    if case.executor:
        data["executor"] = case.executor
    reply = await ws.gateway_of(call.reglament).send(
        str(call.params["service_id"]), data, correlation_id=case.application_id
    )
    number = (reply.responseData.data or {}).get("registrationNumber", "?")
    return Done(detail=f"{call.params.get('system_kk', 'Е-әкімдік')}: тіркеу нөмірі {number}")


# ---- the result ------------------------------------------------------------------------------------


@OPERATIONS.operation("prepare-result", params={"result_kk": "what an approval's result is called in the trace "
                                                               "(default «хабарлама»; «анықтама» for a certificate)"},
                      summary="The executor prepares the notification (or the reglament's result) or the reasoned refusal")
async def prepare_result(ws: ProviderWorkstation, call: StepCall) -> Done:
    case = await ws.case(call.application_id)
    prepared = str(call.params.get("result_kk", "хабарлама")) if case.decision == "approved" else "дәлелді бас тарту"
    return Done(detail=f"{prepared} дайындалды")


@OPERATIONS.operation("hold-commission",
                      params={"commission_kk": "the commission's name in the trace (default «тұрғын үй комиссиясы»)"},
                      summary="The housing commission sits on the case: the sitting's date and protocol number go "
                              "to the trace and are kept with the case for the result's writer (the commission's "
                              "decision cites them); the protocol is numbered after the case's registration number")
async def hold_commission(ws: ProviderWorkstation, call: StepCall) -> Done:
    case = await ws.case(call.application_id)
    sitting = {"date": to_local(call.at).date().isoformat(), "protocol": f"{case.registration_number}/К"}
    name = call.params.get("commission_kk", "тұрғын үй комиссиясы")
    return Done(detail=f"{name} отырысы {sitting['date']}, хаттама № {sitting['protocol']}",
                remember={"commission": sitting})


@OPERATIONS.operation("sign-result",
                      summary="The head of the reglament's provider signs the result with their SIGN key (an "
                              "expired seeded key is renewed first)")
async def sign_result(ws: ProviderWorkstation, call: StepCall) -> Done:
    await ws.sign_result(call.application_id, call.reglament, call.at, call.step.stage, call.memory)
    return Done(detail="ЭЦҚ-мен қол қойылды")


@OPERATIONS.operation("send-result",
                      summary="The signed result through the reglament's regional gateway to the channel's "
                              "result_service (the personal cabinet, the State Corporation); a channel without one "
                              "(a paper application at the chancellery) keeps it there for the applicant to collect")
async def send_result(ws: ProviderWorkstation, call: StepCall) -> Done:
    application_id, reglament = call.application_id, call.reglament

    async def send() -> None:
        await ws.dispatch(application_id, reglament)

    if not call.channel.result_service:  # an application taken on paper: collected at the chancellery
        case = await ws.case(application_id)
        return Done(detail=f"нәтиже тіркелді ({case.registration_number}), алушыға кеңседе беру үшін сақталды",
                    after=send)
    return Done(detail=f"нәтиже {_regional(call)} арқылы {call.channel.result_service} жолданды", after=send)


# ---- a service in stages (privatization, seed 001) --------------------------------------------------


@OPERATIONS.operation("decision-approved", verdict=True,
                      summary="Verdict: the case's decision is an approval -- a service in stages goes on to its "
                              "next stage; a refusal ends the application with the result just sent")
async def decision_approved(ws: ProviderWorkstation, call: StepCall) -> Verdict:
    case = await ws.case(call.application_id)
    approved = case.decision == "approved"
    return Verdict(holds=approved, detail="келесі кезеңге" if approved else "бас тарту: өтініш аяқталды")


@OPERATIONS.operation("check-tenancy-fund", verdict=True,
                      params={"funds": "fund codes of the housing fund registry the verdict holds for "
                                       "(1 communal, 2 a state enterprise's, 3 a state institution's)"},
                      required=("funds",),
                      summary="Verdict: the applicant's dwelling in permanent use (KZHF_CommunalTenancy, asked "
                              "through the gateway) belongs to one of `funds`")
async def check_tenancy_fund(ws: ProviderWorkstation, call: StepCall) -> Verdict:
    case = await ws.case(call.application_id)
    funds = {str(f) for f in call.params["funds"]}
    reply = await ws.gateway_of(call.reglament).send("KZHF_CommunalTenancy", {"iin": case.applicant_iin},
                                                     correlation_id=case.application_id)
    held = (reply.responseData.data or {}).get("tenancy")
    fund = held.get("fund") if isinstance(held, dict) else None
    code = fund.get("code") if isinstance(fund, dict) else None
    name = (fund or {}).get("nameKz", code) if isinstance(fund, dict) else "тұрғын үй қоры белгісіз"
    return Verdict(holds=code in funds, detail=f"{name} (код {code})")



# ---- the receipt at the chancellery and the report of acceptance to the cabinet (seed 002) -----------

LANGS = ("kk", "ru", "en")
RECEIPT_KEY = "receipt"
"""Where the chancellery's receipt is kept: the walk's memory (the chancellery shows it)."""


def _issue_date(call: StepCall, schedule_of: str):
    """The date of issue: ``issue_days`` calendar days after the day of acceptance (that day not
    counted), moved to the next day ``schedule_of``'s office is open."""
    days = call.params.get("issue_days")
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ValueError(f"{call.reglament.id}/{call.channel.name}: {call.step.label}: issue_days must be a "
                         f"positive whole number, not {days!r}")
    schedule = call.reglament.schedule_of(schedule_of)
    issue = to_local(call.at).date() + timedelta(days=days)
    while not schedule.is_open_day(issue):
        issue += timedelta(days=1)
    return issue


async def _full_name(ws: ProviderWorkstation, call: StepCall, iin: str) -> str | None:
    reply = await ws.gateway_of(call.reglament).send("GBDFL_UniversalServiceSync", {"iin": iin},
                                                     correlation_id=str(call.application_id))
    person = (reply.responseData.data or {}).get("person") or {}
    return " ".join(p for p in (person.get("surname"), person.get("name"), person.get("patronymic")) if p) or None


@OPERATIONS.operation(
    "give-receipt",
    params={"issue_days": "the date of issue: this many calendar days after the day of acceptance (that day not "
                          "counted), moved to the office's next working day",
            "place": "where the result is issued ({kk, ru, en})",
            "phone": "the office's contact telephone",
            "employee": "the chancellery employee who accepts ({surname, name, patronymic})"},
    required=("issue_days", "place", "employee"),
    summary="The chancellery registers the paper application and gives the receipt: the request's number and the "
            "date of acceptance, the service, the number and names of the documents, the date and place of issue, "
            "the employee's name, the applicant's name and telephone (kept with the case, shown at the chancellery)")
async def give_receipt(ws: ProviderWorkstation, call: StepCall) -> Done:
    case = await ws.case(call.application_id)
    document = json.loads(case.request_document)
    issue = _issue_date(call, "provider_ws")
    employee = call.params["employee"]
    if not isinstance(employee, dict) or not all(isinstance(employee.get(k), str) for k in ("surname", "name")):
        raise ValueError(f"{call.reglament.id}/{call.channel.name}: {call.step.label}: employee is "
                         f"{{surname, name, patronymic}}, not {employee!r}")
    attached = _attached(document)
    documents = [{k: getattr(d, k) for k in ("code", *LANGS)}
                 for d in call.reglament.required_documents if d.code in attached]
    form = document.get("form") or {}
    receipt = {
        "type": "documents-receipt",
        "kk": "Мемлекеттік қызметті көрсетуге құжаттарды қабылдау туралы қолхат",
        "ru": "Расписка о приёме документов для оказания государственной услуги",
        "en": "Receipt of the documents accepted for the state service",
        "requestNumber": case.registration_number,
        "acceptedAt": to_local(call.at).isoformat(),
        "service": call.reglament.title.model_dump(),
        "documents": {"count": len(documents), "items": documents},
        "issue": {"date": issue.isoformat(), "place": call.text_param("place")},
        "employee": {"fullName": " ".join(employee.get(k) or "" for k in ("surname", "name", "patronymic")).strip(),
                     "phone": call.params.get("phone")},
        "applicant": {"iin": case.applicant_iin, "fullName": await _full_name(ws, call, case.applicant_iin),
                      "phone": form.get("phone")},
    }
    return Done(detail=f"тіркеу нөмірі {case.registration_number}, қолхат берілді: {len(documents)} құжат, "
                       f"беру күні {issue.isoformat()}", remember={RECEIPT_KEY: receipt})


@OPERATIONS.operation(
    "report-acceptance",
    params={"issue_days": "the date the service is received: this many calendar days after the day of acceptance"},
    required=("issue_days",),
    summary="The report of acceptance to the applicant's personal cabinet: the date and time the provider accepted "
            "the documents and the date the service is received, signed by the head and sent through the "
            "regional gateway to the channel's notice_service")
async def report_acceptance(ws: ProviderWorkstation, call: StepCall) -> Done:
    service = call.channel.notice_service
    if not service:
        raise ValueError(f"{call.reglament.id}/{call.channel.name}: {call.step.label}: report-acceptance needs the "
                         "channel's notice_service (where the cabinet takes notices)")
    case = await ws.case(call.application_id)
    issue = _issue_date(call, call.channel.first.system or "portal")
    accepted = to_local(call.at)
    report = {
        "type": "acceptance-report",
        "reglament": call.reglament.id,
        "applicationId": case.application_id,
        "registrationNumber": case.registration_number,
        "provider": {"name": call.reglament.provider.name.kk, "bin": call.reglament.provider.organisation.bin},
        "acceptedAt": accepted.isoformat(),
        "resultDate": issue.isoformat(),
        "text": {
            "kk": f"Өтінішіңіз қабылданды: {accepted:%Y-%m-%d %H:%M}, тіркеу нөмірі {case.registration_number}; "
                  f"мемлекеттік қызметті алу күні – {issue.isoformat()}.",
            "ru": f"Ваше заявление принято: {accepted:%Y-%m-%d %H:%M}, регистрационный номер "
                  f"{case.registration_number}; дата получения государственной услуги – {issue.isoformat()}.",
            "en": f"Your application was accepted on {accepted:%Y-%m-%d %H:%M}, registration number "
                  f"{case.registration_number}; the service is received by {issue.isoformat()}.",
        },
    }
    signature = await ws.sign(report)
    reglament = call.reglament

    async def send() -> None:
        await ws.deliver(reglament, service, {  # retried in virtual time while the way is down
            "applicationId": case.application_id, "reglament": reglament.id, "kind": "acceptance-report",
            "document": report, "signature": signature})

    return Done(detail=f"хабарлама-есеп: қабылданды {accepted:%Y-%m-%d %H:%M}, алу күні {issue.isoformat()}; "
                       f"{_regional(call)} арқылы {service} жолданды", after=send)

__all__ = ["OPERATIONS"]
