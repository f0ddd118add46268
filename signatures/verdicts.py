"""Outcomes of signature verification, with messages in English, Kazakh and Russian.

A :class:`Verdict` is what :func:`signatures.jws.verify_detached` returns: it never
raises for bad input, it always answers with a verdict. ``code`` is a stable
machine-readable :class:`VerdictCode`; the three messages are meant for people
(an integration tester, a citizen, an official reading a log).

The Kazakh and Russian texts are fixed phrases from a table, worded the way the
official Kazakh PKI tools phrase them; the optional ``detail`` passed to
:meth:`Verdict.fail` is technical English and is appended to the English
``message`` only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

__all__ = ["Verdict", "VerdictCode", "MESSAGES"]


class VerdictCode(StrEnum):
    """Result codes of a signature check, in the order the rules are applied."""

    VALID = "VALID"
    MALFORMED = "MALFORMED"
    SIGNATURE_MISMATCH = "SIGNATURE_MISMATCH"
    CHAIN_NOT_TRUSTED = "CHAIN_NOT_TRUSTED"
    CERT_NOT_YET_VALID = "CERT_NOT_YET_VALID"
    CERT_EXPIRED = "CERT_EXPIRED"
    WRONG_KEY_USAGE = "WRONG_KEY_USAGE"
    REVOKED = "REVOKED"
    REVOCATION_UNKNOWN = "REVOCATION_UNKNOWN"
    IIN_MISMATCH = "IIN_MISMATCH"
    BIN_MISMATCH = "BIN_MISMATCH"


#: code -> (English, Kazakh, Russian)
MESSAGES: dict[VerdictCode, tuple[str, str, str]] = {
    VerdictCode.VALID: (
        "The signature is valid",
        "Электрондық цифрлық қолтаңба жарамды",
        "Электронная цифровая подпись действительна",
    ),
    VerdictCode.MALFORMED: (
        "The signature is malformed",
        "Қолтаңбаның пішімі дұрыс емес",
        "Неверный формат подписи",
    ),
    VerdictCode.SIGNATURE_MISMATCH: (
        "The signature does not match the document",
        "Қолтаңба құжатқа сәйкес келмейді",
        "Подпись не соответствует документу",
    ),
    VerdictCode.CHAIN_NOT_TRUSTED: (
        "The certificate was not issued by a trusted certification authority",
        "Сертификатты сенімді куәландырушы орталық бермеген",
        "Сертификат выдан недоверенным удостоверяющим центром",
    ),
    VerdictCode.CERT_NOT_YET_VALID: (
        "The certificate is not yet valid",
        "Сертификаттың қолданылу мерзімі әлі басталған жоқ",
        "Срок действия сертификата ещё не наступил",
    ),
    VerdictCode.CERT_EXPIRED: (
        "The certificate has expired",
        "Сертификаттың қолданылу мерзімі өтіп кеткен",
        "Срок действия сертификата истёк",
    ),
    VerdictCode.WRONG_KEY_USAGE: (
        "The certificate is not intended for this purpose (wrong key usage)",
        "Сертификат бұл мақсатқа арналмаған (кілтті пайдалану түрі сәйкес емес)",
        "Сертификат не предназначен для этой цели (неверное назначение ключа)",
    ),
    VerdictCode.REVOKED: (
        "The certificate is revoked",
        "Сертификат кері қайтарылған (күші жойылған)",
        "Сертификат отозван",
    ),
    VerdictCode.REVOCATION_UNKNOWN: (
        "The certificate's revocation status could not be obtained",
        "Сертификаттың кері қайтарылу мәртебесін алу мүмкін болмады",
        "Не удалось получить статус отзыва сертификата",
    ),
    VerdictCode.IIN_MISMATCH: (
        "The ЖСН (IIN) in the document differs from the one in the certificate",
        "Құжаттағы ЖСН ЭЦҚ тіркеу куәлігіндегі ЖСН-мен сәйкес келмейді",
        "ИИН в документе не совпадает с ИИН в регистрационном свидетельстве ЭЦП",
    ),
    VerdictCode.BIN_MISMATCH: (
        "The БСН (BIN) in the document differs from the one in the certificate",
        "Құжаттағы БСН ЭЦҚ тіркеу куәлігіндегі БСН-мен сәйкес келмейді",
        "БИН в документе не совпадает с БИН в регистрационном свидетельстве ЭЦП",
    ),
}


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of one signature check.

    ``signer`` is :func:`signatures.certificates.subject_info` of the certificate
    in ``x5c[0]``. It is filled only once the signature has been proven to be
    made with that certificate's key (so it is ``None`` for ``MALFORMED`` and
    ``SIGNATURE_MISMATCH``); it is *authenticated* only when ``valid`` is true.
    """

    valid: bool
    code: str
    message: str
    message_kk: str
    message_ru: str
    signer: dict[str, Any] | None = None
    revocation: dict[str, Any] | None = None
    """What is known of the signer certificate's revocation status, when it was asked."""

    @classmethod
    def ok(
        cls, signer: dict[str, Any] | None = None, *, revocation: dict[str, Any] | None = None
    ) -> Verdict:
        """A successful verdict (code ``VALID``)."""
        en, kk, ru = MESSAGES[VerdictCode.VALID]
        return cls(True, VerdictCode.VALID, en, kk, ru, signer, revocation)

    @classmethod
    def fail(
        cls,
        code: VerdictCode | str,
        detail: str | None = None,
        *,
        signer: dict[str, Any] | None = None,
        revocation: dict[str, Any] | None = None,
    ) -> Verdict:
        """A failed verdict; ``detail`` (technical English) is appended to ``message``."""
        code = VerdictCode(code)
        if code is VerdictCode.VALID:
            raise ValueError("use Verdict.ok() for a valid signature")
        en, kk, ru = MESSAGES[code]
        message = f"{en}: {detail}" if detail else en
        return cls(False, code, message, kk, ru, signer, revocation)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (datetimes of the signer rendered as ISO 8601 strings)."""
        signer = None
        if self.signer is not None:
            signer = {
                key: value.isoformat() if isinstance(value, datetime) else value
                for key, value in self.signer.items()
            }
        return {
            "valid": self.valid,
            "code": str(self.code),
            "message": self.message,
            "message_kk": self.message_kk,
            "message_ru": self.message_ru,
            "signer": signer,
            "revocation": _jsonable(self.revocation),
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, datetime):
        return value.isoformat()
    return value
