"""Full verification of a signature, as a relying party does it: the signature and chain
(:mod:`signatures.jws`, :mod:`signatures.cms`, :mod:`signatures.xmldsig`), the signer
certificate's revocation status from the CA's OCSP responder (cached, hard- or soft-fail,
:mod:`signatures.revocation`), and that the signer is who the document says (ЖСН / БСН).

The first failing rule names the verdict, in this order: MALFORMED, SIGNATURE_MISMATCH,
CHAIN_NOT_TRUSTED, CERT_NOT_YET_VALID / CERT_EXPIRED, WRONG_KEY_USAGE, REVOKED, IIN_MISMATCH /
BIN_MISMATCH, REVOCATION_UNKNOWN.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from cryptography import x509

from signatures.cms import CmsResult, verify_cms
from signatures.jws import signer_certificate, verify_detached
from signatures.revocation import RevocationChecker, RevocationStatus
from signatures.verdicts import Verdict, VerdictCode

if TYPE_CHECKING:
    from signatures.xmldsig import XmlVerdict

Usage = Literal["sign", "auth"]


class SignatureValidator:
    """Verifies signatures for one relying system (portal, gateway, workstation…)."""

    def __init__(
        self,
        *,
        trusted_roots: Sequence[x509.Certificate],
        issuing_cas: Sequence[x509.Certificate],
        revocation: RevocationChecker | None,
        policy: Literal["hard-fail", "soft-fail"] = "hard-fail",
    ) -> None:
        self.trusted_roots = list(trusted_roots)
        self.issuing_cas = {ca.subject: ca for ca in issuing_cas}
        self.revocation = revocation
        self.policy = policy

    async def jws(
        self,
        token: str,
        content: Any,
        *,
        at: datetime,
        usage: Usage | None = "sign",
        iin: str | None = None,
        bin: str | None = None,
    ) -> Verdict:
        verdict = verify_detached(token, content, trusted_roots=self.trusted_roots, at=at, usage=usage)
        if not verdict.valid:
            return verdict
        return await self._complete(verdict, signer_certificate(token), at=at, iin=iin, bin=bin)

    async def cms(
        self,
        signature: bytes,
        content: bytes | None = None,
        *,
        at: datetime,
        usage: Usage | None = "sign",
        iin: str | None = None,
        bin: str | None = None,
    ) -> CmsResult:
        result = verify_cms(signature, content, trusted_roots=self.trusted_roots, at=at, usage=usage)
        if not result.valid:
            return result
        verdict = await self._complete(result.verdict, result.certificate, at=at, iin=iin, bin=bin)
        return replace(result, verdict=verdict)

    async def xmldsig(
        self,
        envelope: bytes,
        *,
        at: datetime,
        usage: Usage | None = "sign",
        iin: str | None = None,
        bin: str | None = None,
    ) -> XmlVerdict:
        """A WS-Security signed SOAP envelope (:mod:`signatures.xmldsig`): the signature and
        chain, then revocation and the signer's ЖСН / БСН as for :meth:`jws`."""
        from signatures.xmldsig import verify_envelope  # signxml is loaded only by those who use it

        result = verify_envelope(
            envelope,
            trusted_roots=self.trusted_roots,
            issuing_cas=tuple(self.issuing_cas.values()),
            at=at,
            usage=usage,
        )
        if not result.valid:
            return result
        verdict = await self._complete(result.verdict, result.certificate, at=at, iin=iin, bin=bin)
        return replace(result, verdict=verdict)

    async def _complete(
        self,
        verdict: Verdict,
        certificate: x509.Certificate | None,
        *,
        at: datetime,
        iin: str | None,
        bin: str | None,
    ) -> Verdict:
        signer = verdict.signer or {}
        status: RevocationStatus | None = None
        if self.revocation is not None and certificate is not None:
            issuer = self.issuing_cas.get(certificate.issuer)
            if issuer is not None:
                status = await self.revocation.status(certificate, issuer, at=at)
        revocation = status.to_dict() if status else None
        if status is not None and status.status == "revoked":
            when = status.revoked_at.isoformat() if status.revoked_at else "?"
            why = status.reason.value if status.reason else "unspecified"
            return Verdict.fail(
                VerdictCode.REVOKED, f"revoked at {when} ({why})", signer=signer, revocation=revocation
            )
        if iin is not None and signer.get("iin") != iin:
            return Verdict.fail(
                VerdictCode.IIN_MISMATCH,
                f"the document names {iin}, the certificate {signer.get('iin')}",
                signer=signer, revocation=revocation,
            )
        if bin is not None and signer.get("bin") != bin:
            return Verdict.fail(
                VerdictCode.BIN_MISMATCH,
                f"the document names {bin}, the certificate {signer.get('bin')}",
                signer=signer, revocation=revocation,
            )
        if status is not None and status.status == "unknown" and not (
            self.policy == "soft-fail" and status.source == "none"
        ):
            return Verdict.fail(
                VerdictCode.REVOCATION_UNKNOWN, status.detail, signer=signer, revocation=revocation
            )
        if status is None and self.revocation is not None:
            return Verdict.fail(
                VerdictCode.REVOCATION_UNKNOWN,
                f"the issuer {certificate.issuer.rfc4514_string() if certificate else '?'} is not a known CA",
                signer=signer,
            )
        return Verdict.ok(signer, revocation=revocation)
