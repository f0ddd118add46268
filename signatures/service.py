"""The simulated certification authority (НУЦ): its keys, issuing and revoking certificates."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from sqlmodel import select

from signatures.certificates import (
    Role,
    Subject,
    cert_from_pem,
    cert_to_pem,
    create_issuing_ca,
    create_root_ca,
    generate_key,
    issue_certificate,
    key_from_pem,
    key_to_pem,
    subject_info,
)
from signatures.identity import KEY_STORAGE_PASSWORD, Identity
from signatures.models import AuthorityRecord, IssuedCertificate
from simulation.clock import from_us, to_us
from simulation.identifiers import make_bin
from simulation.runtime import SystemRuntime
from simulation.topology import SYSTEMS


class CertificateRequestError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def system_bin(system: str) -> str:
    """The БСН the simulation gives the organisation that runs a system."""
    return make_bin(datetime(2015, 6, 1).date(), 4, 1000 + SYSTEMS[system].port_offset)


@dataclass
class Authority:
    root: x509.Certificate
    issuing: x509.Certificate
    issuing_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

    @property
    def chain(self) -> tuple[x509.Certificate, ...]:
        return (self.issuing, self.root)


class CertificationAuthority:
    def __init__(self, runtime: SystemRuntime) -> None:
        self.runtime = runtime
        self._authority: Authority | None = None

    @property
    def authority(self) -> Authority:
        if self._authority is None:
            raise RuntimeError("the certification authority has not started")
        return self._authority

    async def start(self) -> None:
        """Load the CA's keys, creating the root and issuing CA on the run's first start."""
        async with self.runtime.db.session() as session:
            rows = {r.role: r for r in (await session.exec(select(AuthorityRecord))).all()}
            if not rows:
                # Backdated a year so that the run's clock starts well inside their validity.
                now = await self.runtime.now() - timedelta(days=365)
                root_key, issuing_key = generate_key("rsa"), generate_key("rsa")
                root = create_root_ca(root_key, now=now, years=20)
                issuing = create_issuing_ca(issuing_key, root, root_key, now=now, years=15)
                for role, key, cert in (("root", root_key, root), ("issuing", issuing_key, issuing)):
                    rows[role] = AuthorityRecord(
                        role=role,
                        key_pem=key_to_pem(key).decode(),
                        certificate_pem=cert_to_pem(cert).decode(),
                    )
                    session.add(rows[role])
                await session.commit()
        self._authority = Authority(
            root=cert_from_pem(rows["root"].certificate_pem),
            issuing=cert_from_pem(rows["issuing"].certificate_pem),
            issuing_key=key_from_pem(rows["issuing"].key_pem),  # type: ignore[arg-type]
        )

    async def _issue(self, public_key, subject: Subject, usage: str, days: int) -> x509.Certificate:
        authority = self.authority
        now = await self.runtime.now()
        cert = issue_certificate(
            public_key,
            subject,
            issuer_cert=authority.issuing,
            issuer_key=authority.issuing_key,
            now=now,
            not_before=now - timedelta(minutes=5),
            usage=usage,  # type: ignore[arg-type]
            days=days,
        )
        info = subject_info(cert)
        async with self.runtime.db.session() as session:
            session.add(
                IssuedCertificate(
                    serial_hex=info["serial_hex"],
                    profile=subject.profile.value,
                    subject=cert.subject.rfc4514_string(),
                    iin=subject.iin,
                    bin=subject.bin,
                    usage=usage,
                    not_before_us=to_us(cert.not_valid_before_utc),
                    not_after_us=to_us(cert.not_valid_after_utc),
                    certificate_pem=cert_to_pem(cert).decode(),
                )
            )
            await session.commit()
        return cert

    async def issue_system(self, system: str, csr_pem: str) -> x509.Certificate:
        if system not in SYSTEMS:
            raise CertificateRequestError("system", f"{system!r} is not a system of the simulation")
        try:
            csr = x509.load_pem_x509_csr(csr_pem.encode())
        except ValueError:
            raise CertificateRequestError("csr_pem", "not a PEM certificate signing request") from None
        if not csr.is_signature_valid:
            raise CertificateRequestError("csr_pem", "the request's own signature does not verify")
        subject = Subject.information_system(
            system_id=system, organisation=SYSTEMS[system].title_ru, bin=system_bin(system)
        )
        return await self._issue(csr.public_key(), subject, "sign", days=3 * 365)

    async def issue_person(
        self, subject: Subject, usage: str, password: bytes
    ) -> tuple[x509.Certificate, bytes]:
        """Generate a person's key and certificate, handed out as a PKCS#12 key storage."""
        key = generate_key("rsa")
        cert = await self._issue(key.public_key(), subject, usage, days=365)
        storage = Identity(key, (cert, self.authority.issuing)).to_pkcs12(
            subject.common_name, password or KEY_STORAGE_PASSWORD
        )
        return cert, storage

    async def revoke(self, serial_hex: str, reason: str) -> IssuedCertificate | None:
        async with self.runtime.db.session() as session:
            record = await session.get(IssuedCertificate, serial_hex.lower())
            if record is None:
                return None
            if record.revoked_us is None:
                record.revoked_us = to_us(await self.runtime.now())
                record.revocation_reason = reason
                session.add(record)
                await session.commit()
            return record

    async def status(self, serial_hex: str) -> dict:
        async with self.runtime.db.session() as session:
            record = await session.get(IssuedCertificate, serial_hex.lower())
        if record is None:
            return {"serial": serial_hex.lower(), "status": "unknown"}
        return {
            "serial": record.serial_hex,
            "status": "revoked" if record.revoked_us is not None else "good",
            "revokedAt": from_us(record.revoked_us).isoformat() if record.revoked_us else None,
            "reason": record.revocation_reason,
            "subject": record.subject,
            "notBefore": from_us(record.not_before_us).isoformat(),
            "notAfter": from_us(record.not_after_us).isoformat(),
        }


def new_storage_password() -> str:
    return secrets.token_urlsafe(9)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


__all__ = ["CertificationAuthority", "CertificateRequestError", "Role", "system_bin"]
