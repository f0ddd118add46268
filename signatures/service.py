"""The simulated certification authority (НУЦ): its keys, issuing, revoking and re-issuing
certificates, and publishing their status as CRLs and OCSP answers."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Literal

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.x509 import ocsp
from sqlalchemy import Connection, RowMapping, bindparam, delete, func, insert, update
from sqlalchemy import select as core_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from signatures.certificates import (
    CA_KEY_ALGORITHM,
    ISSUING_CA_NAME,
    KeyAlgorithm,
    PrivateKey,
    Role,
    Subject,
    cert_from_pem,
    cert_to_pem,
    create_issuing_ca,
    create_root_ca,
    describe_key,
    generate_key,
    issue_certificate,
    key_algorithm,
    key_from_pem,
    key_to_pem,
)
from signatures.identity import KEY_STORAGE_PASSWORD, Identity
from signatures.models import AuthorityRecord, IssuedCertificate
from signatures.people import seeded_people
from signatures.revocation import (
    CertStatusInfo,
    RevokedEntry,
    answer_ocsp,
    build_crl,
    parse_reason,
)
from signatures.jws import verify_signed_by
from signatures.proofs import ProofRefused, UsedProof, content_digest, normal_serial, proof_content
from signatures.revocation_push import tell_gateways
from simulation.clock import from_us, to_us
from simulation.identifiers import make_bin
from runtime import SystemRuntime
from simulation.topology import SYSTEMS

GOST_CA_NAME = "ҰЛТТЫҚ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ (GOST)"
ISSUERS: dict[str, tuple[str, Literal["rsa", "ec"]]] = {
    "rsa": (ISSUING_CA_NAME, CA_KEY_ALGORITHM["rsa"]),
    # The real second CA signs with GOST 34.10; here ECDSA P-256 stands in for it.
    "gost": (GOST_CA_NAME, CA_KEY_ALGORITHM["gost"]),
}
KEY_FILE_PREFIX = {("rsa", "auth"): "AUTH_RSA256", ("rsa", "sign"): "RSA256",
                   ("gost", "auth"): "AUTH_GOST512", ("gost", "sign"): "GOSTKNCA"}
FULL_CRL_VALIDITY = timedelta(days=7)
DELTA_CRL_VALIDITY = timedelta(days=1)
Validity = Literal["valid", "expired", "not-yet-valid"]
_SEEDED_KEYS: dict[tuple[str, str], PrivateKey] = {}
"""The seeded people's key pairs (by ЖСН and usage), kept for the process's later worlds: a person
keeps their key pair from one world to the next that one process starts, and each world's CA
certifies it anew (its own serial, dates and chain). RSA key generation, the seeded people's two
RSA-2048 keys each most of it, was ~37% of a fresh world's start (a py-spy profile); the test suite
starts hundreds. Keys issued on request (``POST /v1/certificates/person``, a re-issue) are always new."""


class CertificateRequestError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


OUTSIDE_SYSTEM = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")
"""The name of an outside information system the CA certifies (its certificate's CN)."""


def system_bin(system: str) -> str:
    """The БСН the simulation gives the organisation that runs a system (an outside system's:
    one drawn from its name, the same every run)."""
    if system not in SYSTEMS:
        return make_bin(datetime(2015, 6, 1).date(), 4, 50_000 + int(hashlib.sha256(system.encode()).hexdigest(), 16) % 40_000)
    return make_bin(datetime(2015, 6, 1).date(), 4, 1000 + SYSTEMS[system].port_offset)


@dataclass
class IssuingCA:
    role: str
    certificate: x509.Certificate
    key: PrivateKey

    @property
    def name(self) -> str:
        return ISSUERS[self.role][0]

    @property
    def algorithm(self) -> Literal["rsa", "ec"]:
        return ISSUERS[self.role][1]


async def _generate_keys(algorithms: list[KeyAlgorithm]) -> list[PrivateKey]:
    """New private keys, generated on threads: OpenSSL lets go of the GIL while it looks for RSA
    primes (~40 ms of CPU a key), so the keys of a fresh run's CA and seeded people come about
    twice as fast on two cores, and a key issued while the systems run leaves the event loop free."""
    return list(await asyncio.gather(*(asyncio.to_thread(generate_key, algorithm) for algorithm in algorithms)))


class CertificationAuthority:
    def __init__(self, runtime: SystemRuntime) -> None:
        self.runtime = runtime
        self.root: x509.Certificate | None = None
        self.issuers: dict[str, IssuingCA] = {}

    # ---- keys of the CA ---------------------------------------------------------------------

    async def start(self, seed_people: bool = True) -> None:
        """Load the CA's keys, creating the root and both issuing CAs on the run's first start."""
        async with self.runtime.db.session() as session:
            rows = {r.role: r for r in (await session.exec(select(AuthorityRecord))).all()}
            if not rows:
                # Backdated a year so that the run's clock starts well inside their validity.
                born = await self.runtime.now() - timedelta(days=365)
                root_key, *issuer_keys = await _generate_keys(["rsa", *(a for _, a in ISSUERS.values())])
                root = create_root_ca(root_key, now=born, years=20)
                rows["root"] = AuthorityRecord(
                    role="root", key_pem=key_to_pem(root_key).decode(),
                    certificate_pem=cert_to_pem(root).decode(),
                )
                for (role, (name, _algorithm)), key in zip(ISSUERS.items(), issuer_keys, strict=True):
                    cert = create_issuing_ca(key, root, root_key, now=born, name=name, years=15)
                    rows[role] = AuthorityRecord(
                        role=role, key_pem=key_to_pem(key).decode(),
                        certificate_pem=cert_to_pem(cert).decode(),
                    )
                session.add_all(rows.values())
                await session.commit()
        self.root = cert_from_pem(rows["root"].certificate_pem)
        self.issuers = {
            role: IssuingCA(role, cert_from_pem(rows[role].certificate_pem), key_from_pem(rows[role].key_pem, own=True))
            for role in ISSUERS
        }
        if seed_people:
            await self.seed_people()

    def issuer(self, ca: str) -> IssuingCA:
        try:
            return self.issuers[ca]
        except KeyError:
            raise CertificateRequestError("ca", f"{ca!r} is not an issuing CA (rsa, gost)") from None

    def chain(self, ca: str = "rsa") -> tuple[x509.Certificate, ...]:
        assert self.root is not None
        return (self.issuer(ca).certificate, self.root)

    def issuer_of(self, cert: x509.Certificate) -> IssuingCA:
        """The issuing CA that issued ``cert`` (by its issuer name)."""
        for issuer in self.issuers.values():
            if issuer.certificate.subject == cert.issuer:
                return issuer
        raise LookupError(f"{cert.issuer.rfc4514_string()} is not an issuing CA of this authority")

    @property
    def base_url(self) -> str:
        return self.runtime.url_of("signatures")

    def crl_url(self, ca: str, delta: bool = False) -> str:
        return f"{self.base_url}/v1/crl/{ca}{'-delta' if delta else ''}.crl"

    @property
    def ocsp_url(self) -> str:
        return f"{self.base_url}/v1/ocsp"

    # ---- issuing ----------------------------------------------------------------------------

    async def _issue(
        self, public_key, subject: Subject, usage: str, ca: str, days: int, validity: Validity = "valid"
    ) -> x509.Certificate:
        issuer = self.issuer(ca)
        now = await self.runtime.now()
        not_before = {
            "valid": now - timedelta(minutes=5),
            "expired": now - timedelta(days=days + 30),
            "not-yet-valid": now + timedelta(days=30),
        }[validity]
        cert = issue_certificate(
            public_key, subject, issuer_cert=issuer.certificate, issuer_key=issuer.key, now=now,
            not_before=not_before, not_after=not_before + timedelta(days=days), usage=usage,  # type: ignore[arg-type]
            crl_url=self.crl_url(ca), delta_crl_url=self.crl_url(ca, delta=True), ocsp_url=self.ocsp_url,
        )
        spec = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(subject).items()}
        values = dict(
            serial_hex=format(cert.serial_number, "x"),
            ca=ca,
            profile=subject.profile.value,
            subject=cert.subject.rfc4514_string(),
            subject_spec=json.dumps(spec, ensure_ascii=False, default=str),
            iin=subject.iin,
            bin=subject.bin,
            usage=usage,
            not_before_us=to_us(cert.not_valid_before_utc),
            not_after_us=to_us(cert.not_valid_after_utc),
            certificate_pem=cert_to_pem(cert).decode(),
        )
        await self.runtime.db.run(lambda connection: connection.execute(_ADD_ISSUED, values))
        return cert

    async def issue_system(self, system: str, csr_pem: str) -> x509.Certificate:
        """A system's certificate from its CSR; a name outside the simulation's topology is an
        outside information system a tester registers (it signs its gateway messages as such)."""
        if system not in SYSTEMS and not OUTSIDE_SYSTEM.fullmatch(system):
            raise CertificateRequestError(
                "system", f"{system[:100]!r} is neither a system of the simulation nor an outside system's name "
                          "(a letter, then up to 63 letters, digits, '_', '.' or '-')")
        try:
            csr = x509.load_pem_x509_csr(csr_pem.encode())
        except ValueError:
            raise CertificateRequestError("csr_pem", "not a PEM certificate signing request") from None
        try:
            public_key = csr.public_key()
            signed = csr.is_signature_valid
        except (UnsupportedAlgorithm, ValueError):
            raise CertificateRequestError(
                "csr_pem", "the request's key or signature algorithm is not supported; "
                "an information system's key is RSA or ECDSA P-256"
            ) from None
        if not signed:
            raise CertificateRequestError("csr_pem", "the request's own signature does not verify")
        ca = self.system_ca(public_key)
        subject = Subject.information_system(
            system_id=system, bin=system_bin(system),
            organisation=SYSTEMS[system].title_ru if system in SYSTEMS else f"{system} (внешняя информационная система)",
        )
        return await self._issue(public_key, subject, "sign", ca, days=3 * 365)

    @staticmethod
    def system_ca(public_key) -> str:
        """The issuing CA that certifies an information system's key: the one of its algorithm
        (an ECDSA P-256 key: the GOST stand-in, an RSA key: the RSA CA)."""
        algorithm = key_algorithm(public_key)
        for role, (_, ca_algorithm) in ISSUERS.items():
            if algorithm is not None and algorithm == ca_algorithm:
                return role
        raise CertificateRequestError(
            "csr_pem",
            f"the request's key is {describe_key(public_key)}; an information system's key must be "
            f"RSA (certified by {ISSUERS['rsa'][0]}) or ECDSA P-256 (certified by {ISSUERS['gost'][0]}, "
            "standing in for GOST 34.10)",
        )

    async def issue_person(
        self,
        subject: Subject,
        usage: str,
        *,
        ca: str = "rsa",
        password: bytes = KEY_STORAGE_PASSWORD,
        validity: Validity = "valid",
        key: PrivateKey | None = None,
    ) -> tuple[x509.Certificate, bytes]:
        """Generate a person's key (or take ``key``) and certificate, handed out as a PKCS#12 key storage."""
        if key is None:
            (key,) = await _generate_keys([self.issuer(ca).algorithm])
        cert = await self._issue(key.public_key(), subject, usage, ca, days=365, validity=validity)
        storage = Identity(key, (cert, self.issuer(ca).certificate)).to_pkcs12(
            subject.common_name, password or KEY_STORAGE_PASSWORD
        )
        return cert, storage

    async def reissue(self, serial_hex: str, password: bytes = KEY_STORAGE_PASSWORD) -> tuple[x509.Certificate, bytes]:
        """A new key and certificate for the same person and usage; the old one is superseded."""
        record = await self.record(serial_hex)
        if record is None:
            raise LookupError(serial_hex)
        if record.profile == "system":
            raise CertificateRequestError("serial", "an information system re-enrols with a new CSR")
        spec = json.loads(record.subject_spec)
        spec["roles"] = tuple(spec.get("roles") or ())
        subject = Subject(**spec)
        cert, storage = await self.issue_person(subject, record.usage, ca=record.ca, password=password)
        await self.revoke(serial_hex, "superseded")
        params = {"at_serial": record.serial_hex, "new_superseded_by": format(cert.serial_number, "x")}

        def supersede(connection: Connection) -> None:
            assert connection.execute(_SUPERSEDE, params).rowcount == 1

        await self.runtime.db.run(supersede)
        return cert, storage

    async def seed_people(self) -> None:
        """Issue AUTH and SIGN key storages to the seeded citizens and officials (once per run)."""
        people = seeded_people()
        folder = self.runtime.settings.data_dir.expanduser().resolve() / "people"
        missing = [(person["iin"], usage) for kind in ("citizens", "officials") for person in people.get(kind, [])
                   for usage in ("auth", "sign")
                   if not (folder / person["iin"]).exists() and (person["iin"], usage) not in _SEEDED_KEYS]
        algorithm = self.issuer("rsa").algorithm
        _SEEDED_KEYS.update(zip(missing, await _generate_keys([algorithm] * len(missing)), strict=True))
        for kind in ("citizens", "officials"):
            for person in people.get(kind, []):
                home = folder / person["iin"]
                if home.exists():
                    continue
                if kind == "officials":
                    subject = Subject.employee(
                        iin=person["iin"], surname=person["surname"], name=person["name"],
                        patronymic=person.get("patronymic"), organisation=person["organisation"],
                        bin=person["bin"], roles=[Role(r) for r in person.get("roles", ["employee"])],
                    )
                else:
                    subject = Subject.individual(
                        iin=person["iin"], surname=person["surname"], name=person["name"],
                        patronymic=person.get("patronymic"),
                    )
                staging = home.with_suffix(".tmp")
                staging.mkdir(parents=True, exist_ok=True)
                for usage in ("auth", "sign"):
                    cert, storage = await self.issue_person(subject, usage, key=_SEEDED_KEYS[(person["iin"], usage)])
                    name = f"{KEY_FILE_PREFIX[('rsa', usage)]}_{format(cert.serial_number, 'x')[:16]}.p12"
                    (staging / name).write_bytes(storage)
                staging.rename(home)

    # ---- proof of holding a key ---------------------------------------------------------------

    async def check_proof(
        self, proof, action: str, binding: dict, *, serial: str | None = None, system: str | None = None
    ) -> IssuedCertificate:
        """The certificate whose holder ``proof`` shows asks for ``action`` (see
        :mod:`signatures.proofs`); :class:`ProofRefused` naming the failed rule otherwise.

        ``serial``: the certificate the request acts on, which must be the proof's own;
        ``system``: the system a renewal is for, whose certificate the proof's must be."""
        record = await self.record(proof.serial)
        if record is None:
            raise ProofRefused("unknown-certificate", proof.serial)
        if serial is not None and normal_serial(serial) != record.serial_hex:
            raise ProofRefused("other-certificate", f"the proof is for {record.serial_hex}, the request for {serial}")
        content = proof_content(action, proof.serial, proof.requested_at, proof.nonce, binding)
        verdict = verify_signed_by(proof.signature, content, cert_from_pem(record.certificate_pem))
        if not verdict.valid:
            raise ProofRefused("signature", verdict.message)
        digest = content_digest(content)
        if await self.runtime.db.run(lambda connection: connection.execute(
                _USED_PROOF, {"of_digest": digest}).first(), write=False) is not None:
            raise ProofRefused("replayed")
        if record.revoked_us is not None:
            raise ProofRefused("revoked", f"revoked at {from_us(record.revoked_us).isoformat()} "
                                          f"({record.revocation_reason})")
        now = await self.runtime.now()
        if from_us(record.not_before_us) > now:
            raise ProofRefused("not-yet-valid")
        if system is not None:
            spec = json.loads(record.subject_spec)
            if record.profile != "system" or spec.get("system_id") != system:
                raise ProofRefused("system", f"the certificate is {record.subject}, the request is for {system}")
        try:
            requested = datetime.fromisoformat(proof.requested_at)
        except ValueError:
            raise ProofRefused("requested-at", f"{proof.requested_at!r} is not an ISO 8601 date and time") from None
        if requested.tzinfo is None:
            raise ProofRefused("requested-at", f"{proof.requested_at!r} has no UTC offset")
        skew = timedelta(seconds=self.runtime.settings.message_date_skew)
        if abs(now - requested) > skew:
            raise ProofRefused("requested-at", f"{proof.requested_at} is {abs(now - requested)} away from the CA's "
                                               f"time {now.isoformat()}; the allowed skew is {skew}")
        used = {"digest": digest, "serial_hex": record.serial_hex, "action": action, "requested_us": to_us(requested)}

        def keep(connection: Connection) -> None:
            # a proof older than the skew is refused above: its record is no longer needed
            connection.execute(_FORGET_PROOFS, {"before_us": to_us(now - 2 * skew)})
            connection.execute(_ADD_PROOF, used)

        try:
            await self.runtime.db.run(keep)
        except IntegrityError:
            raise ProofRefused("replayed") from None
        return record

    async def tell_gateways(self, serial_hex: str) -> dict:
        """Every gateway of the run forgets its cached OCSP answer for the certificate now
        (:mod:`signatures.revocation_push`); who could not be told is reported, not raised."""
        return await tell_gateways(
            self.runtime.http, self.runtime.url_of, self.runtime.credentials.admin_token, normal_serial(serial_hex)
        )

    # ---- revocation -------------------------------------------------------------------------

    async def record(self, serial_hex: str) -> IssuedCertificate | None:
        """The certificate this CA issued under the serial (hex, any case, leading zeros or not)."""
        found = await self.runtime.db.run(lambda connection: connection.execute(
            _RECORD, {"of_serial": serial_hex.lower().lstrip("0") or "0"}).mappings().first(), write=False)
        return None if found is None else IssuedCertificate(**found)

    async def revoke(self, serial_hex: str, reason: str = "unspecified", at: datetime | None = None) -> IssuedCertificate | None:
        try:
            flag = parse_reason(reason)
        except ValueError as exc:
            raise CertificateRequestError("reason", str(exc)) from None
        now = await self.runtime.now()
        if at is not None and at > now:
            raise CertificateRequestError("at", "a revocation cannot be dated in the future")
        serial, revoked_us = serial_hex.lower().lstrip("0") or "0", to_us(at or now)

        def mark(connection: Connection) -> RowMapping | None:
            found = connection.execute(_RECORD, {"of_serial": serial}).mappings().first()
            if found is None or found["revoked_us"] is not None:
                return found
            last = connection.execute(_LAST_REVOCATION).scalar_one()
            return connection.execute(_REVOKE, {
                "at_serial": serial, "new_revoked_us": revoked_us, "new_reason": flag.value,
                "new_seq": (last or 0) + 1,
            }).mappings().one()

        found = await self.runtime.db.run(mark)
        return None if found is None else IssuedCertificate(**found)

    async def status(self, serial_hex: str) -> dict:
        record = await self.record(serial_hex)
        if record is None:
            return {"serial": serial_hex.lower(), "status": "unknown"}
        return {
            "serial": record.serial_hex,
            "status": "revoked" if record.revoked_us is not None else "good",
            "revokedAt": from_us(record.revoked_us).isoformat() if record.revoked_us else None,
            "reason": record.revocation_reason,
            "supersededBy": record.superseded_by,
            "subject": record.subject,
            "issuer": self.issuer(record.ca).name,
            "notBefore": from_us(record.not_before_us).isoformat(),
            "notAfter": from_us(record.not_after_us).isoformat(),
        }

    async def crl(self, ca: str, delta: bool = False) -> x509.CertificateRevocationList:
        """A CRL issued now: the full list, or the changes since the last full one (delta)."""
        issuer = self.issuer(ca)
        now = await self.runtime.now()
        async with self.runtime.db.session() as session:
            authority = await session.get(AuthorityRecord, ca)
            assert authority is not None
            if delta and authority.base_crl_number is None:
                await session.commit()
                await self.crl(ca)  # a delta needs a base: publish the first full list
                return await self.crl(ca, delta=True)
            query = select(IssuedCertificate).where(
                IssuedCertificate.ca == ca, IssuedCertificate.revoked_us.is_not(None)  # type: ignore[union-attr]
            )
            if delta:
                query = query.where(IssuedCertificate.revocation_seq > authority.base_revocation_seq)
            revoked = list((await session.exec(query)).all())
            number = authority.crl_number + 1
            values: dict = {"crl_number": number}
            if not delta:
                values |= {
                    "base_crl_number": number,
                    "base_revocation_seq": max((r.revocation_seq or 0 for r in revoked), default=authority.base_revocation_seq),
                }
            taken = await session.exec(
                update(AuthorityRecord)
                .where(AuthorityRecord.role == ca, AuthorityRecord.crl_number == authority.crl_number)
                .values(**values)
            )
            await session.commit()
            if taken.rowcount != 1:  # another request took the number: try again
                return await self.crl(ca, delta)
        entries = [
            RevokedEntry(int(r.serial_hex, 16), from_us(r.revoked_us), parse_reason(r.revocation_reason or "unspecified"))  # type: ignore[arg-type]
            for r in revoked
        ]
        return build_crl(
            issuer.certificate, issuer.key, entries, number=number, this_update=now,
            next_update=now + (DELTA_CRL_VALIDITY if delta else FULL_CRL_VALIDITY),
            delta_base=authority.base_crl_number if delta else None,
        )

    async def ocsp(self, request_der: bytes) -> bytes:
        now = await self.runtime.now()
        try:
            asked = format(ocsp.load_der_ocsp_request(request_der).serial_number, "x")
        except ValueError:  # malformed, or several certificates: answer_ocsp says which
            asked = None
        found = None
        if asked is not None:
            found = await self.runtime.db.run(
                lambda connection: connection.execute(_OCSP_RECORD, {"of_serial": asked}).first(), write=False)

        def lookup(issuer_cert: x509.Certificate, serial: int) -> CertStatusInfo:
            record = found if found is not None and found.serial_hex == format(serial, "x") else None
            if record is None or self.issuer(record.ca).certificate != issuer_cert:
                return CertStatusInfo("unknown")
            if record.revoked_us is None or from_us(record.revoked_us) > now:
                return CertStatusInfo("good")
            return CertStatusInfo(
                "revoked", from_us(record.revoked_us), parse_reason(record.revocation_reason or "unspecified")
            )

        return answer_ocsp(
            request_der,
            issuers=[(i.certificate, i.key) for i in self.issuers.values()],
            lookup=lookup,
            at=now,
        )


# The OCSP answer's read, built once: every signature checked in an application asks for its
# certificate's status, and an ORM statement built at each call costs several times a prebuilt one.
_ISSUED = IssuedCertificate.__table__
_OCSP_RECORD = core_select(_ISSUED.c.serial_hex, _ISSUED.c.ca, _ISSUED.c.revoked_us, _ISSUED.c.revocation_reason).where(
    _ISSUED.c.serial_hex == bindparam("of_serial"))
# A certificate's record (the proofs' and the status's look-up), its issue, revocation and
# supersession, and the used proofs: Core statements on the tables, run by Database.run.
_RECORD = core_select(_ISSUED).where(_ISSUED.c.serial_hex == bindparam("of_serial"))
_ADD_ISSUED = insert(_ISSUED)
_LAST_REVOCATION = core_select(func.max(_ISSUED.c.revocation_seq))
_REVOKE = update(_ISSUED).where(_ISSUED.c.serial_hex == bindparam("at_serial")).values(
    revoked_us=bindparam("new_revoked_us"), revocation_reason=bindparam("new_reason"),
    revocation_seq=bindparam("new_seq")).returning(*_ISSUED.columns)
_SUPERSEDE = update(_ISSUED).where(_ISSUED.c.serial_hex == bindparam("at_serial")).values(
    superseded_by=bindparam("new_superseded_by"))
_PROOFS = UsedProof.__table__
_USED_PROOF = core_select(_PROOFS.c.digest).where(_PROOFS.c.digest == bindparam("of_digest"))
_FORGET_PROOFS = delete(_PROOFS).where(_PROOFS.c.requested_us < bindparam("before_us"))
_ADD_PROOF = insert(_PROOFS)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


__all__ = ["CertificationAuthority", "CertificateRequestError", "Role", "system_bin"]
