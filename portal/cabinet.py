"""The personal cabinet's part in a service in stages (privatization, seed 001): each stage's
signed result kept apart, the document the citizen is asked to sign with their ЭЦҚ (the
privatization contract), and the payment the signed contract asks for.

The walk waits at the signing step (event ``citizen-signature``) until the citizen signs here;
the cabinet shows what waits for the signature, and the contract as ``unsigned`` meanwhile. The
payment is due by the contract's ``paymentDue`` (the rule set writes it: 30 calendar days from
the contract), shown ``due``, ``overdue`` (virtual clock) or ``paid``; a contract free of charge
asks for none.
"""

from __future__ import annotations

import base64
import json
import uuid
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Update, bindparam, insert, select, update

from portal.models import Application, StageResult
from signatures.jws import canonical_json
from signatures.ncalayer import BASICS, SIGN_EKU
from simulation.calendar import to_local
from simulation.clock import from_us, to_us

if TYPE_CHECKING:
    from portal.service import Portal

CITIZEN_SIGNATURE = "citizen-signature"
"""What the signing step waits for: the citizen's ЭЦҚ on the document delivered to the cabinet."""

# Every view of every application reads its stages: the statements are built once (an ORM statement
# built at each call costs several times a prebuilt one).
_STAGES = StageResult.__table__
_STAGES_OF = select(_STAGES).where(_STAGES.c.application_id == bindparam("of_application")).order_by(_STAGES.c.id)
_ADD_STAGE = insert(_STAGES)
_AT_STAGE = _STAGES.c.id == bindparam("at_id")
_SIGNED = update(_STAGES).where(_AT_STAGE).values(citizen_signature=bindparam("new_signature"),
                                                   signed_us=bindparam("new_signed_us"))
_PAID = update(_STAGES).where(_AT_STAGE).values(paid_amount=bindparam("new_amount"), paid_us=bindparam("new_paid_us"),
                                                 payment_reference=bindparam("new_reference"))
_APPLICATIONS = Application.__table__
_APPLICATION = select(_APPLICATIONS).where(_APPLICATIONS.c.id == bindparam("at_id"))


def _error(status: int, code: str, kk: str, ru: str, en: str, **extra: Any):
    from portal.service import PortalError

    return PortalError(status, code, {"kk": kk, "ru": ru, "en": en}, **extra)


async def keep_stage_result(portal: Portal, application_id: str, document: dict[str, Any], signature: str) -> None:
    """Keep a stage's result beside the application's latest result (a document with ``stage``)."""
    stage = document.get("stage")
    if not isinstance(stage, int):
        return
    values = {"application_id": application_id, "stage": stage, "document": json.dumps(document, ensure_ascii=False),
              "signature": signature, "received_us": to_us(await portal.runtime.now())}
    await portal.runtime.db.run(lambda connection: connection.execute(_ADD_STAGE, values))


async def _rows(portal: Portal, application_id: str) -> list[StageResult]:
    params = {"of_application": application_id}
    found = await portal.runtime.db.run(lambda connection: connection.execute(_STAGES_OF, params).mappings().all(),
                                        write=False)
    return [StageResult(**row) for row in found]


def _update_one(statement: Update, params: dict[str, Any], connection: Connection) -> None:
    """``statement`` on the one stage it names, which must be there."""
    assert connection.execute(statement, params).rowcount == 1


async def _waits_for_signature(portal: Portal, application_id: str) -> bool:
    position = await portal.engine.position(application_id=application_id)
    return position is not None and position.state == "waiting" and position.event == CITIZEN_SIGNATURE


def _payment(row: StageResult, document: dict[str, Any], today: str) -> dict[str, Any] | None:
    contract = document.get("contract")
    if not isinstance(contract, dict) or "price" not in contract:
        return None
    if contract.get("freeOfCharge"):
        return {"status": "not-required", "amount": 0, "reason": contract.get("freeOfCharge")}
    view: dict[str, Any] = {"amount": contract.get("price"), "currency": contract.get("currency", "KZT"),
                            "due": contract.get("paymentDue"), "payee": contract.get("payee")}
    if row.paid_us is not None:
        paid_on = to_local(from_us(row.paid_us)).date().isoformat()
        view.update(status="paid", paidAt=to_local(from_us(row.paid_us)).isoformat(), reference=row.payment_reference,
                    late=bool(view["due"]) and paid_on > str(view["due"]))
    elif row.citizen_signature is None:
        view["status"] = "awaiting-contract"
    elif view["due"] and today > str(view["due"]):
        view["status"] = "overdue"
    else:
        view["status"] = "due"
    return view


async def stages_view(portal: Portal, application_id: str) -> dict[str, Any]:
    """The cabinet's view of the stages: each result with its signature checked now, the
    citizen's signature on it, the payment; and what waits for the citizen's signature."""
    rows = await _rows(portal, application_id)
    if not rows:
        return {}
    now = await portal.runtime.now()
    today = to_local(now).date().isoformat()
    waiting = await _waits_for_signature(portal, application_id)
    from portal.service import decode_signature

    stages = []
    for index, row in enumerate(rows):
        document = json.loads(row.document)
        checked = await portal.runtime.validator.cms(decode_signature(row.signature), canonical_json(document),
                                                     at=now, usage="sign")
        entry: dict[str, Any] = {"stage": row.stage, "type": document.get("type"), "text": document.get("text"),
                                 "receivedAt": to_local(from_us(row.received_us)).isoformat(),
                                 "document": document, "signature": row.signature, "verdict": checked.verdict.to_dict()}
        last = index == len(rows) - 1
        if row.citizen_signature is not None:
            entry["citizenSignature"] = {"status": "signed", "signedAt": to_local(from_us(row.signed_us or 0)).isoformat()}
        elif last and waiting:
            entry["citizenSignature"] = {"status": "unsigned"}
        payment = _payment(row, document, today)
        if payment is not None:
            entry["payment"] = payment
        stages.append(entry)
    view: dict[str, Any] = {"stages": stages}
    if waiting:
        document = json.loads(rows[-1].document)
        data = base64.b64encode(canonical_json(document)).decode()
        view["toSign"] = {
            "stage": rows[-1].stage, "document": document, "dataToSign": data,
            "ncalayer": {"module": BASICS, "method": "sign", "args": {
                "allowedStorages": ["PKCS12"], "format": "cms", "data": data,
                "signingParams": {"decode": True, "encapsulate": False},
                "signerParams": {"extKeyUsageOids": [SIGN_EKU]}, "locale": "kk"}},
            "submit": {"method": "POST", "path": f"/api/cabinet/applications/{application_id}/signature",
                       "body": {"signature": "<NCALayer's body.result[0]>"}},
        }
    return view


async def _own(portal: Portal, application_id: str, iin: str) -> Application:
    params = {"at_id": application_id}
    found = await portal.runtime.db.run(lambda connection: connection.execute(_APPLICATION, params).mappings().first(),
                                        write=False)
    if found is None or found["iin"] != iin:
        raise _error(404, "not_found", "Өтініш табылмады", "Заявление не найдено", "No such application")
    return Application(**found)


async def sign(portal: Portal, application_id: str, iin: str, signature: str) -> dict[str, Any]:
    """The citizen signs in the cabinet the document the walk waits for them to sign."""
    await _own(portal, application_id, iin)
    rows = await _rows(portal, application_id)
    if not rows or not await _waits_for_signature(portal, application_id):
        raise _error(409, "nothing_to_sign", "Қол қоюды күтетін құжат жоқ", "Нет документа, ожидающего подписи",
                     "No document of this application waits for your signature")
    from portal.service import decode_signature, verdict_reason

    row, document = rows[-1], json.loads(rows[-1].document)
    now = await portal.runtime.now()
    checked = await portal.runtime.validator.cms(decode_signature(signature), canonical_json(document), at=now,
                                                 usage="sign", iin=iin)
    if not checked.valid:
        reason = verdict_reason(checked.verdict)
        raise _error(422, "signature_refused", f"ЭЦҚ қабылданбады: {reason['kk']}", f"ЭЦП не принята: {reason['ru']}",
                     f"The signature is not accepted: {reason['en']}", code_detail=str(checked.verdict.code),
                     field="signature")
    await portal.runtime.db.run(partial(_update_one, _SIGNED, {"at_id": row.id, "new_signature": signature,
                                                               "new_signed_us": to_us(now)}))
    serial = (checked.verdict.signer or {}).get("serial_hex", "?")
    await portal.engine.resume(application_id=application_id, event=CITIZEN_SIGNATURE,
                               inputs={"document": document, "signature": signature, "serial": serial})
    return await portal.application_view(application_id, iin)


async def pay(portal: Portal, application_id: str, iin: str, amount: float) -> dict[str, Any]:
    """The citizen pays the contract's price into the local budget through the portal's
    payment page (the simulator's own: the portal records the payment with a reference)."""
    await _own(portal, application_id, iin)
    rows = [r for r in await _rows(portal, application_id) if isinstance(json.loads(r.document).get("contract"), dict)]
    if not rows:
        raise _error(409, "nothing_to_pay", "Төлейтін шарт жоқ", "Нет договора к оплате",
                     "This application has no contract to pay for")
    row = rows[-1]
    contract = json.loads(row.document)["contract"]
    if contract.get("freeOfCharge"):
        raise _error(409, "payment_not_required", "Тұрғын үй тегін беріледі: төлем қажет емес",
                     "Жилище передаётся безвозмездно: оплата не требуется",
                     "The dwelling is transferred free of charge: nothing to pay")
    if row.citizen_signature is None:
        raise _error(409, "contract_unsigned", "Алдымен шартқа ЭЦҚ-мен қол қойыңыз",
                     "Сначала подпишите договор ЭЦП", "Sign the contract with your ЭЦҚ first")
    if row.paid_us is not None:
        raise _error(409, "already_paid", "Төлем жасалған", "Оплата уже произведена",
                     f"Already paid (reference {row.payment_reference})")
    price = float(contract.get("price") or 0)
    if round(float(amount), 2) != round(price, 2):
        raise _error(422, "invalid_request", f"Төленетін сома {price:.2f} теңге", f"Сумма к оплате {price:.2f} тенге",
                     f"The sum due is {price:.2f} tenge, not {amount}", field="amount")
    paid = {"at_id": row.id, "new_amount": price, "new_paid_us": to_us(await portal.runtime.now()),
            "new_reference": f"PAY-{uuid.uuid4().hex[:10].upper()}"}
    await portal.runtime.db.run(partial(_update_one, _PAID, paid))
    return await portal.application_view(application_id, iin)
