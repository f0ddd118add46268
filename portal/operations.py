"""What the portal does in a reglament's steps: the operations a definition's portal steps name.

Each works on the :class:`~portal.service.Portal` and is called by the reglament engine
(:mod:`simulation.engine`) when a walk reaches a step of the portal; docs/reglaments.md lists them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway_protocol.errors import GatewayFault
from portal.cabinet import CITIZEN_SIGNATURE
from portal.texts import AUTH_REFUSED, SIGNATURE_REFUSED, STATUS
from simulation.engine import Done, Operations, StepCall, Verdict, Wait

if TYPE_CHECKING:
    from portal.service import Portal

OPERATIONS = Operations("portal", "the egov.kz portal: log-in, the citizen's signed request, the personal cabinet")

SIGNED_REQUEST = "signed-request"
"""What the request step waits for: the citizen's document signed in NCALayer."""


@OPERATIONS.operation("log-in", summary="The citizen logs in with ЖСН and password (the log-in is stamped when it happened)")
async def log_in(portal: Portal, call: StepCall) -> Done:
    return Done(detail=f"ЖСН {call.inputs.get('iin', '')}", at=call.inputs.get("logged_in_at"))


@OPERATIONS.operation("check-credentials", verdict=True,
                      summary="Verdict: the ЖСН is registered on the portal, the account is not locked and the password "
                              "is right (a wrong one counts towards the lock)")
async def check_credentials(portal: Portal, call: StepCall) -> Verdict:
    if call.inputs.get("authenticated"):  # a later application of a session that logged in
        return Verdict(holds=True, detail="ЖСН мен пароль расталды", at=call.inputs.get("logged_in_at"))
    account, problem = await portal.authenticate(str(call.inputs.get("iin", "")), str(call.inputs.get("password", "")))
    call.inputs["account"] = account
    return Verdict(holds=account is not None, detail=problem or "ЖСН мен пароль расталды")


@OPERATIONS.operation("refuse-log-in", summary="The message refusing the log-in")
async def refuse_log_in(portal: Portal, call: StepCall) -> Done:
    return Done(detail=AUTH_REFUSED["kk"])


@OPERATIONS.operation("take-signed-request",
                      summary="The filled-in form with its attachments, signed with the citizen's ЭЦҚ (waits for it)")
async def take_signed_request(portal: Portal, call: StepCall) -> Done | Wait:
    if "document" not in call.inputs:
        return Wait(SIGNED_REQUEST)
    checked = await portal.verify_request(call.inputs["document"], call.inputs["signature"], call.at)
    call.inputs["checked"] = checked
    serial = (checked.verdict.signer or {}).get("serial_hex", "?")
    attached = len(call.inputs["document"].get("attachments", []))
    return Done(detail=f"{attached} құжат тіркелді, ЭЦҚ тіркеу куәлігі {serial}")


@OPERATIONS.operation("check-signature", verdict=True,
                      summary="Verdict: the certificate is valid, not revoked, and of the request's ЖСН")
async def check_signature(portal: Portal, call: StepCall) -> Verdict:
    checked = call.inputs["checked"]
    if checked.valid:
        return Verdict(holds=True, detail="ЭЦҚ жарамды, ЖСН сәйкес")
    reason = portal.verdict_reason(checked.verdict)
    return Verdict(holds=False, detail=f"{checked.verdict.code}: {reason['kk']}")


@OPERATIONS.operation("refuse-signature", summary="The refusal because the ЭЦҚ is not confirmed, to the cabinet")
async def refuse_signature(portal: Portal, call: StepCall) -> Done:
    checked = call.inputs["checked"]
    reason = portal.verdict_reason(checked.verdict)
    refusal = {k: f"{SIGNATURE_REFUSED[k]}: {reason[k]}" for k in ("kk", "ru", "en")}
    refusal["code"] = str(checked.verdict.code)
    await portal.set_status(call.application_id, "rejected", refusal["kk"], refusal=refusal)
    return Done(detail=reason["kk"])


@OPERATIONS.operation("send-request",
                      params={"recipient_kk": "the receiving system's name in the trace (default: the regional "
                                              "gateway's АЖО, «ЭҮӨШ АЖО»)"},
                      summary="The signed request through ЭҮШ to the provider's workstation (or the system `recipient_kk` names)")
async def send_request(portal: Portal, call: StepCall) -> Done:
    gateway = call.reglament.gateway
    regional = gateway.regional_name.kk if gateway.regional_name else "ЭҮӨШ"
    recipient = str(call.params.get("recipient_kk") or f"{regional} АЖО")
    await portal.set_status(call.application_id, "accepted", "")

    async def send() -> None:
        try:
            await portal.send_request(call.reglament, call.channel.name, call.application_id)
        except GatewayFault as fault:
            await portal.set_status(call.application_id, "not_delivered", f"{fault.code}: {fault.detail}")
            raise portal.not_delivered(call.application_id, fault) from None

    return Done(detail=f"ЭҮШ арқылы {gateway.service_id} → {recipient}", after=send)


@OPERATIONS.operation("deliver-to-cabinet", summary="The provider's signed result reaches the personal cabinet")
async def deliver_to_cabinet(portal: Portal, call: StepCall) -> Done:
    text = (call.inputs.get("document") or {}).get("text", {})
    return Done(detail=text.get("kk", "") if isinstance(text, dict) else "")


# ---- a service in stages: the cabinet answers the provider through the gateway ---------------------


async def _to_provider(portal: Portal, call: StepCall, data: dict) -> None:
    reglament = call.reglament
    await portal.runtime.gateway().send(
        str(call.params["service_id"]), {"applicationId": call.application_id, "reglament": reglament.id, **data},
        route_id=reglament.gateway.route_id, correlation_id=call.application_id,
    )


@OPERATIONS.operation("return-receipt",
                      params={"service_id": "the provider's serviceId for the cabinet's receipts (EPORTAL_CabinetReceipt)"},
                      required=("service_id",),
                      summary="The cabinet's receipt of a stage's result goes back through ЭҮШ to the provider, "
                              "whose next stage begins there")
async def return_receipt(portal: Portal, call: StepCall) -> Done:
    stage = (call.inputs.get("document") or {}).get("stage")

    async def send() -> None:
        await _to_provider(portal, call, {"kind": "delivered", "stage": stage})

    return Done(detail=f"алынғаны туралы хабар ЭҮШ арқылы {call.params['service_id']} жолданды", after=send)


@OPERATIONS.operation("take-citizen-signature",
                      params={"service_id": "the provider's serviceId the signed document goes to (EPORTAL_CabinetReceipt)"},
                      required=("service_id",),
                      summary="Waits for the citizen to sign in the cabinet the document just delivered (a contract; "
                              "POST /api/cabinet/applications/<id>/signature); the signed document goes back "
                              "through ЭҮШ to the provider")
async def take_citizen_signature(portal: Portal, call: StepCall) -> Done | Wait:
    if "signature" not in call.inputs:
        return Wait(CITIZEN_SIGNATURE, detail="азаматтың ЭЦҚ-сын күтеді")
    document, signature = call.inputs["document"], call.inputs["signature"]

    async def send() -> None:
        await _to_provider(portal, call, {"kind": "signed", "stage": document.get("stage"),
                                          "document": document, "signature": signature})

    return Done(detail=f"азамат ЭЦҚ-мен қол қойды (тіркеу куәлігі {call.inputs.get('serial', '?')}); "
                       f"қол қойылған құжат ЭҮШ арқылы {call.params['service_id']} жолданды", after=send)


__all__ = ["OPERATIONS", "SIGNED_REQUEST", "STATUS"]
