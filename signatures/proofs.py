"""Proof of holding a certificate's key: how a holder asks the CA to act on their own certificate
without the run's admin token.

A holder signs, with the key of their current certificate, what they ask for -- the action, the
certificate's serial, the virtual moment of the request, a fresh nonce and what the action is
about (the reason of a revocation, the system and CSR of a renewal) -- as a detached JWS
(:mod:`signatures.jws`), and sends it beside the request as ``proof``::

    {"serial": "<hex>", "requested_at": "<ISO 8601 with offset>", "nonce": "<random>",
     "signature": "<detached JWS over the content below, x5c[0] = that certificate>"}

    content = {"action": "revoke" | "reissue" | "certify-system", "serial": ..., "requested_at": ...,
               "nonce": ..., **binding}

The CA accepts it (:meth:`signatures.service.CertificationAuthority.check_proof`) when the
serial is a certificate it issued and has not revoked, the JWS is made with that certificate's key
(``x5c[0]`` is that very certificate), ``requested_at`` is within ``message_date_skew`` of the
CA's virtual time, and the same content was never used before (:class:`UsedProof`: a captured
proof cannot be sent again). An expired certificate still proves: its holder renews it.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column
from sqlmodel import Field

from signatures.identity import Identity
from signatures.jws import canonical_json, sign_detached
from signatures.models import SignaturesModel

ACTIONS = ("revoke", "reissue", "certify-system")

# rule -> (English, Kazakh, Russian): why a proof was not accepted
REFUSALS: dict[str, tuple[str, str, str]] = {
    "unknown-certificate": (
        "the proof names a certificate this CA did not issue",
        "Дәлелде осы куәландырушы орталық бермеген сертификат көрсетілген",
        "В подтверждении указан сертификат, не выданный этим удостоверяющим центром",
    ),
    "other-certificate": (
        "the proof is made for another certificate than the one the request acts on",
        "Дәлел сұрау қатысты сертификатқа емес, басқа сертификатқа жасалған",
        "Подтверждение сделано для другого сертификата, чем тот, к которому относится запрос",
    ),
    "signature": (
        "the proof is not signed with the key of the certificate it names",
        "Дәлелге көрсетілген сертификаттың кілтімен қол қойылмаған",
        "Подтверждение подписано не ключом указанного в нём сертификата",
    ),
    "revoked": (
        "the certificate of the proof is revoked: it proves nothing any more",
        "Дәлелдің сертификаты кері қайтарылған",
        "Сертификат подтверждения отозван",
    ),
    "not-yet-valid": (
        "the certificate of the proof is not yet valid",
        "Дәлелдің сертификатының қолданылу мерзімі әлі басталған жоқ",
        "Срок действия сертификата подтверждения ещё не наступил",
    ),
    "requested-at": (
        "the proof's requested_at is not within the allowed skew of the CA's time",
        "Дәлелдің requested_at уақыты орталықтың уақытынан рұқсат етілгеннен көп ауытқиды",
        "Время requested_at подтверждения расходится со временем центра больше допустимого",
    ),
    "replayed": (
        "the proof was used before; a proof is good for one request",
        "Бұл дәлел бұрын пайдаланылған; дәлел бір сұрауға ғана жарайды",
        "Это подтверждение уже использовано; подтверждение действует для одного запроса",
    ),
    "system": (
        "the proof's certificate is not the certificate of the system the request names",
        "Дәлелдің сертификаты сұрауда аталған жүйенің сертификаты емес",
        "Сертификат подтверждения не принадлежит системе, указанной в запросе",
    ),
}


class ProofRefused(Exception):
    """A proof the CA does not accept: ``rule`` names the check (a key of :data:`REFUSALS`)."""

    def __init__(self, rule: str, detail: str = "") -> None:
        self.rule = rule
        self.detail = detail
        super().__init__(REFUSALS[rule][0] + (f" ({detail})" if detail else ""))

    @property
    def field(self) -> str:
        return {
            "signature": "proof.signature", "requested-at": "proof.requested_at", "replayed": "proof.nonce",
        }.get(self.rule, "proof.serial")


class UsedProof(SignaturesModel, table=True):
    """A proof the CA accepted, by the digest of its signed content: never accepted again."""

    __tablename__ = "ca_used_proofs"
    digest: str = Field(primary_key=True)
    serial_hex: str = Field(index=True)
    action: str
    requested_us: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))


def normal_serial(serial: str) -> str:
    """A serial in hex as the CA keeps it: lower case, no leading zeros."""
    return serial.strip().lower().lstrip("0") or "0"


def proof_content(action: str, serial: str, requested_at: str, nonce: str, binding: dict[str, Any]) -> dict[str, Any]:
    """What a proof's JWS signs."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r} (actions: {', '.join(ACTIONS)})")
    return {**binding, "action": action, "serial": serial, "requested_at": requested_at, "nonce": nonce}


def content_digest(content: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(content)).hexdigest()


def csr_digest(csr_pem: str) -> str:
    """What a system's renewal proof binds: the SHA-256 of the CSR it sends, as text."""
    return hashlib.sha256(csr_pem.encode()).hexdigest()


def make_proof(identity: Identity, action: str, at: datetime, **binding: Any) -> dict[str, str]:
    """A proof that the holder of ``identity`` asks for ``action`` on its certificate at the
    virtual moment ``at``; ``binding``: what the action is about (``reason`` of a revocation;
    ``system`` and ``csr_sha256`` of a system's renewal)."""
    if at.tzinfo is None:
        raise ValueError("at must carry its UTC offset")
    serial = format(identity.certificate.serial_number, "x")
    requested_at = at.isoformat()
    nonce = secrets.token_urlsafe(16)
    content = proof_content(action, serial, requested_at, nonce, binding)
    return {
        "serial": serial,
        "requested_at": requested_at,
        "nonce": nonce,
        "signature": sign_detached(content, identity.key, identity.chain),
    }
