"""What "Е-собес" does in a reglament's steps: the operations a definition's ``e_sobes`` steps and
staff procedures name (the housing-aid reglament of seed 004).

Each works on the :class:`~e_sobes.service.ESobes` and is called by the reglament engine
(:mod:`simulation.engine`), which times the staff procedures of item 6 in the provider's office
hours. docs/reglaments.md lists every system's operations.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from simulation.calendar import to_local
from simulation.engine import Done, Operations, StepCall, Verdict

if TYPE_CHECKING:
    from e_sobes.service import ESobes

OPERATIONS = Operations(
    "e_sobes",
    "\"Е-собес\", the provider's information system: registration, the consent recorded, the data obtained "
    "through ЭҮШ, the commission's decision with the amount, the authorised person's signature, the result sent back",
)


@OPERATIONS.operation("register-request",
                      summary="The request that came through ЭҮШ is registered: its Е-собес registration number")
async def register_request(system: ESobes, call: StepCall) -> Done:
    case = await system.case(call.application_id)
    return Done(detail=f"«Е-собес» АЖ тіркеу нөмірі {case.registration_number}")


@OPERATIONS.operation("record-consent",
                      summary="The applicant's consent to the use of data protected by law, stated in the signed "
                              "request (form.consent), is recorded with the registries (CONSENT_Record through ЭҮШ, "
                              "the signed request as evidence): its reference is what the registries of incomes and "
                              "property are asked with")
async def record_consent(system: ESobes, call: StepCall) -> Done:
    reference = await system.record_consent(call.application_id, call.reglament)
    if reference is None:
        return Done(detail="заңмен қорғалатын мәліметтерді пайдалануға келісім берілмеген")
    return Done(detail=f"мәліметтерді пайдалануға келісім тіркелді: {reference}")


@OPERATIONS.operation("assign-executor",
                      summary="The head names the responsible specialist (the case's executor)")
async def assign_executor(system: ESobes, call: StepCall) -> Done:
    executor = call.reglament.actors.get("specialist")
    name = executor.kk if executor else "жауапты маман"
    await system.update_case(call.application_id, executor=name)
    return Done(detail=f"бұрыштама қойылды, {name} анықталды")


@OPERATIONS.operation("check-documents", verdict=True,
                      summary="Verdict: the attached documents meet the Standard's item 9 and are reliable (the "
                              "rule set's documents check: the bills, the consent, the applicant and family in ЖТ "
                              "МДҚ, a valid identity document, permanent registration in the region); a refusal "
                              "is stored with its ground")
async def check_documents(system: ESobes, call: StepCall) -> Verdict:
    ground = await system.documents_ground(call.application_id, call.reglament, call.at)
    return Verdict(holds=ground is None, detail="құжаттар Стандарттың 9-тармағына сәйкес" if ground is None else ground["kk"])


@OPERATIONS.operation("draft-refusal", summary="The message refusing the service, on the ground the check found")
async def draft_refusal(system: ESobes, call: StepCall) -> Done:
    case = await system.case(call.application_id)
    return Done(detail=json.loads(case.refusal_ground or "{}").get("kk", ""))


@OPERATIONS.operation("obtain-data",
                      summary="The specialist obtains through ЭҮШ what item 11 lists -- the identity documents (ЖТ "
                              "МДҚ), the registered rights to housing, the address reference, the incomes and the "
                              "unemployed status of the applicant and each declared family member (those of "
                              "property and incomes with the recorded consent) -- and hands the case to the commission")
async def obtain_data(system: ESobes, call: StepCall) -> Done:
    obtained = await system.obtain_data(call.application_id, call.reglament, call.at)
    return Done(detail="ЭҮШ арқылы алынды: " + ", ".join(obtained) + "; комиссияға берілді")


@OPERATIONS.operation("commission-decides",
                      summary="The commission sits and decides by the reglament's rule set (`decision`: "
                              "housing-aid): the aid a month, or the refusal with its ground; the sitting's date "
                              "and protocol number are kept for the notification. A case the documents' check "
                              "refused already stays refused")
async def commission_decides(system: ESobes, call: StepCall) -> Done:
    case = await system.decide(call.application_id, call.reglament, call.at)
    sitting = json.loads(case.commission or "{}")
    held = f"комиссия отырысы {sitting.get('date')}, хаттама № {sitting.get('protocol')}"
    if case.decision == "approved":
        amount = json.loads(case.computation or "{}").get("monthlyAmount")
        return Done(detail=f"{held}: тұрғын үй көмегі тағайындалды, айына {amount:.2f} теңге")
    return Done(detail=f"{held}: бас тартылды – {json.loads(case.refusal_ground or '{}').get('kk', '')}")


@OPERATIONS.operation("prepare-result",
                      summary="The specialist prepares the notification: the aid assigned with its computation, "
                              "or the refusal with its ground")
async def prepare_result(system: ESobes, call: StepCall) -> Done:
    case = await system.case(call.application_id)
    what = "тұрғын үй көмегін тағайындау" if case.decision == "approved" else "тағайындаудан бас тарту"
    return Done(detail=f"{what} туралы хабарлама дайындалды")


@OPERATIONS.operation("sign-result",
                      summary="The provider's authorised person signs the notification with their SIGN key (item "
                              "14; an expired seeded key is renewed first)")
async def sign_result(system: ESobes, call: StepCall) -> Done:
    await system.sign_result(call.application_id, call.reglament, call.at)
    head = call.reglament.provider.head
    return Done(detail=f"уәкілетті тұлға {head.surname} {head.name} ЭЦҚ-мен қол қойды")


@OPERATIONS.operation("send-result",
                      summary="The signed notification through the regional gateway to the channel's result_service "
                              "(the State Corporation, the personal cabinet)")
async def send_result(system: ESobes, call: StepCall) -> Done:
    application_id, reglament = call.application_id, call.reglament

    async def send() -> None:
        await system.dispatch(application_id, reglament)

    at = to_local(call.at)
    return Done(detail=f"хабарлама {at:%Y-%m-%d %H:%M} ЭҮӨШ арқылы {call.channel.result_service} жолданды", after=send)


__all__ = ["OPERATIONS"]
