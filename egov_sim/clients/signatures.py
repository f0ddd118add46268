"""The certification authority (НУЦ): its root and chain, certificates issued, revoked, their status.

The older :mod:`signatures.client` (what the systems themselves ask of the CA: fetch the chain,
enrol) is what :meth:`CAClient.root` and :meth:`CAClient.chain` call; this client adds the rest of
the CA's API, typed, with the refusals as :class:`ClientError`.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any, Literal

from cryptography import x509

from egov_sim.clients._base import Answer, BaseClient, ClientError


class IssuedCertificate(Answer):
    """A person's key storage as the CA issues it (PKCS#12, base64, with its password)."""

    serial: str
    subject: dict[str, Any]
    certificate_pem: str
    chain_pem: str
    pkcs12: str
    password: str

    def identity(self):
        """The key storage as a :class:`signatures.identity.Identity` (key and chain)."""
        from signatures.identity import Identity

        return Identity.from_pkcs12(base64.b64decode(self.pkcs12), self.password.encode())


class SystemCertificate(Answer):
    serial: str
    certificate_pem: str
    chain_pem: str


class CertificateStatus(Answer):
    """``good``, ``revoked`` (when, why) or ``unknown``."""

    serial: str
    status: Literal["good", "revoked", "unknown"]
    revokedAt: datetime | None = None
    reason: str | None = None


class CAClient(BaseClient):
    system = "signatures"

    def _url(self) -> str:
        return str(self.http.base_url).rstrip("/")

    async def root(self, *, wait: float = 5.0) -> list[x509.Certificate]:
        """The trusted root (waits up to ``wait`` seconds for the CA to come up)."""
        from signatures.client import CertificationAuthorityUnavailable, fetch_roots

        try:
            return await fetch_roots(self.http, self._url(), wait=wait)
        except CertificationAuthorityUnavailable as exc:
            raise ClientError(0, "unreachable", str(exc), system=self.system) from None

    async def chain(self, *, wait: float = 5.0) -> list[x509.Certificate]:
        """Both issuing CAs and the root."""
        from signatures.client import CertificationAuthorityUnavailable, fetch_chain

        try:
            return await fetch_chain(self.http, self._url(), wait=wait)
        except CertificationAuthorityUnavailable as exc:
            raise ClientError(0, "unreachable", str(exc), system=self.system) from None

    async def issue_person(
        self, *, iin: str, surname: str, name: str, patronymic: str | None = None,
        organisation: str | None = None, bin: str | None = None, roles: list[str] | None = None,
        usage: Literal["sign", "auth"] = "sign", ca: Literal["rsa", "gost"] = "rsa",
        validity: Literal["valid", "expired", "not-yet-valid"] = "valid", password: str | None = None,
    ) -> IssuedCertificate:
        """A person's (or an employee's) key storage: the run's administrator's."""
        body = {"iin": iin, "surname": surname, "name": name, "patronymic": patronymic, "organisation": organisation,
                "bin": bin, "roles": roles or [], "usage": usage, "ca": ca, "validity": validity, "password": password}
        return await self.json("POST", "/v1/certificates/person", IssuedCertificate,
                               json={k: v for k, v in body.items() if v is not None})

    async def certify_system(self, system: str, csr_pem: str) -> SystemCertificate:
        """An information system's certificate from its CSR (the administrator's)."""
        return await self.json("POST", "/v1/certificates/system", SystemCertificate,
                               json={"system": system, "csr_pem": csr_pem})

    async def certificate(self, serial: str) -> x509.Certificate:
        response = await self.request("GET", f"/v1/certificates/{serial}")
        return x509.load_pem_x509_certificate(response.content)

    async def revoke(self, serial: str, reason: str = "unspecified", *, at: datetime | None = None,
                     notify: bool = True) -> CertificateStatus:
        body: dict[str, Any] = {"reason": reason, "notify": notify}
        if at is not None:
            body["at"] = at.isoformat()
        return await self.json("POST", f"/v1/certificates/{serial}/revoke", CertificateStatus, json=body)

    async def ocsp_down(self) -> dict[str, Any]:
        """The OCSP responder answers 503 until :meth:`clear_faults` (admin)."""
        return await self.json("PUT", "/admin/faults/ocsp", json={"mode": "unavailable"})

    async def clear_faults(self) -> dict[str, Any]:
        return await self.json("DELETE", "/admin/faults")

    async def faults(self) -> dict[str, Any]:
        return await self.json("GET", "/admin/faults")

    async def status(self, serial: str) -> CertificateStatus:
        from signatures.client import CertificationAuthorityUnavailable, certificate_status

        try:
            return CertificateStatus.model_validate(await certificate_status(self.http, self._url(), serial))
        except CertificationAuthorityUnavailable as exc:
            raise ClientError(0, "unreachable", str(exc), system=self.system) from None
