"""``egov-sim pki``: the certification authority from the command line.

It works on the same data as the running ``signatures`` service (same settings, same data
directory or database): a certificate issued here is known to the service's OCSP responder and
CRLs at once, and a revocation here shows in both.
"""

from __future__ import annotations

import argparse
import json
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from signatures.certificates import Role

# The rest is imported by the functions that use it: `egov-sim pki --help` needs none of it.
if TYPE_CHECKING:
    from signatures.service import CertificationAuthority
    from simulation.settings import Settings


def add_parser(commands) -> None:
    pki = commands.add_parser("pki", help="the simulated certification authority (НУЦ)")
    pki.add_argument("--data-dir", help="the run's data directory (default ./.egov-sim)")
    sub = pki.add_subparsers(dest="pki_command", required=True)

    issue = sub.add_parser("issue", help="issue a key storage (PKCS#12); prints the serial in hex")
    issue.add_argument("--iin", required=True, help="ЖСН of the holder")
    issue.add_argument("--bin", help="БСН of the organisation (an employee certificate)")
    issue.add_argument("--organisation", help="organisation name (default: from the seeded people)")
    issue.add_argument("--role", action="append", choices=[r.value for r in Role], help="employee role (repeatable)")
    issue.add_argument("--surname", help="default: the seeded person's, else СЫНАҚ")
    issue.add_argument("--name", help="default: the seeded person's, else ПАЙДАЛАНУШЫ")
    issue.add_argument("--patronymic")
    issue.add_argument("--usage", choices=["sign", "auth"], default="sign")
    issue.add_argument("--ca", choices=["rsa", "gost"], default="rsa", help="gost: the ECDSA P-256 stand-in")
    when = issue.add_mutually_exclusive_group()
    when.add_argument("--expired", action="store_true", help="a certificate that has already expired")
    when.add_argument("--not-yet-valid", action="store_true", help="a certificate valid only from 30 days on")
    issue.add_argument("--out", required=True, help="the .p12 file to write")
    issue.add_argument("--password", required=True, help="the key storage's password")

    revoke = sub.add_parser("revoke", help="revoke a certificate")
    revoke.add_argument("serial", help="serial number in hex")
    revoke.add_argument("--reason", default="unspecified", help="keyCompromise, superseded, cessationOfOperation, …")
    revoke.add_argument("--no-notify", action="store_true",
                        help="do not tell the run's gateways to forget their cached OCSP answer for it "
                             "(they then learn it when that answer expires)")

    sign = sub.add_parser("sign", help="sign a file as CMS (DER)")
    sign.add_argument("file")
    sign.add_argument("--key", required=True, help="a .p12 key storage")
    sign.add_argument("--password", required=True)
    sign.add_argument("--detached", action="store_true")
    sign.add_argument("--out", required=True)

    verify = sub.add_parser("verify", help="verify a CMS signature; prints the verdict")
    verify.add_argument("signature")
    verify.add_argument("--content", help="the signed file, for a detached signature")
    verify.add_argument("--json", action="store_true")

    ca = sub.add_parser("ca", help="write root.pem, chain.pem and crl.pem; print the CRL and OCSP URLs")
    ca.add_argument("--out", required=True)


@asynccontextmanager
async def _authority(settings: Settings):
    from signatures.models import SignaturesModel
    from signatures.service import CertificationAuthority
    from runtime import SystemRuntime

    runtime = SystemRuntime("signatures", settings)
    try:
        await runtime.start([SignaturesModel.metadata], signs=False)
        authority = CertificationAuthority(runtime)
        await authority.start(seed_people=False)
        yield authority
    finally:
        await runtime.stop()


def _seeded(iin: str) -> dict:
    from signatures.people import seeded_people

    people = seeded_people()
    for person in people["citizens"] + people["officials"]:
        if person["iin"] == iin:
            return person
    return {}


async def run_pki(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    from signatures.service import CertificateRequestError
    from simulation.identifiers import IdentifierError

    try:
        async with _authority(settings) as authority:
            return await _COMMANDS[args.pki_command](authority, args, out)
    except (CertificateRequestError, IdentifierError) as exc:
        err.write(f"egov-sim pki: {exc}\n")
        return 2
    except (OSError, ValueError) as exc:
        err.write(f"egov-sim pki: {exc}\n")
        return 2


async def _issue(authority: CertificationAuthority, args, out: TextIO) -> int:
    from signatures.api import PersonCertificateRequest, subject_of

    known = _seeded(args.iin)
    request = PersonCertificateRequest(
        iin=args.iin,
        surname=args.surname or known.get("surname", "СЫНАҚ"),
        name=args.name or known.get("name", "ПАЙДАЛАНУШЫ"),
        patronymic=args.patronymic or known.get("patronymic"),
        bin=args.bin,
        organisation=(args.organisation or known.get("organisation") or "Сынақ ұйымы") if args.bin else None,
        roles=[Role(r) for r in (args.role or [])],
        usage=args.usage,
        ca=args.ca,
        validity="expired" if args.expired else "not-yet-valid" if args.not_yet_valid else "valid",
    )
    subject = subject_of(request)
    cert, storage = await authority.issue_person(
        subject, args.usage, ca=args.ca, password=args.password.encode(), validity=request.validity
    )
    Path(args.out).write_bytes(storage)
    out.write(format(cert.serial_number, "x") + "\n")
    return 0


async def _revoke(authority: CertificationAuthority, args, out: TextIO) -> int:
    record = await authority.revoke(args.serial, args.reason)
    if record is None:
        out.write(f"no certificate with serial {args.serial}\n")
        return 1
    status = await authority.status(args.serial)
    out.write(f"{status['serial']} revoked at {status['revokedAt']} ({status['reason']})\n")
    if not args.no_notify:
        told = await authority.tell_gateways(record.serial_hex)
        out.write(f"gateways told to forget their cached status: {', '.join(told['notified']) or 'none'}\n")
        for missed in told["not_reached"]:
            out.write(f"not reached: {missed['gateway']} ({missed['problem']}); it learns the revocation "
                      "when its cached answer expires\n")
    return 0


async def _sign(authority: CertificationAuthority, args, out: TextIO) -> int:
    from signatures.cms import sign_cms
    from signatures.identity import Identity

    identity = Identity.from_pkcs12(Path(args.key).read_bytes(), args.password.encode())
    content = Path(args.file).read_bytes()
    signature = sign_cms(
        content, identity.key, identity.chain, at=await authority.runtime.now(), detached=args.detached
    )
    Path(args.out).write_bytes(signature)
    return 0


async def _verify(authority: CertificationAuthority, args, out: TextIO) -> int:
    from signatures.cms import verify_cms
    from signatures.verdicts import Verdict, VerdictCode

    assert authority.root is not None
    at = await authority.runtime.now()
    content = Path(args.content).read_bytes() if args.content else None
    result = verify_cms(Path(args.signature).read_bytes(), content, trusted_roots=[authority.root], at=at)
    verdict = result.verdict
    if verdict.valid and result.certificate is not None:
        status = await authority.status(format(result.certificate.serial_number, "x"))
        if status["status"] == "revoked":
            verdict = Verdict.fail(
                VerdictCode.REVOKED, f"revoked at {status['revokedAt']} ({status['reason']})",
                signer=verdict.signer, revocation=status,
            )
        elif status["status"] != "good":
            verdict = Verdict.fail(VerdictCode.REVOCATION_UNKNOWN, "the CA does not know the certificate", signer=verdict.signer)
    if args.json:
        out.write(json.dumps(verdict.to_dict(), ensure_ascii=False, indent=2) + "\n")
    else:
        signer = verdict.signer or {}
        out.write(f"{verdict.code}: {verdict.message}\n")
        out.write(f"  kk: {verdict.message_kk}\n  ru: {verdict.message_ru}\n")
        if signer:
            out.write(f"  signer: {signer.get('common_name')}, ЖСН {signer.get('iin')}, serial {signer.get('serial_hex')}\n")
        if result.signing_time:
            out.write(f"  signing time: {result.signing_time.isoformat()}\n")
    return 0 if verdict.valid else 1


async def _ca(authority: CertificationAuthority, args, out: TextIO) -> int:
    from cryptography.hazmat.primitives import serialization

    from signatures.certificates import chain_to_pem, cert_to_pem

    folder = Path(args.out)
    folder.mkdir(parents=True, exist_ok=True)
    assert authority.root is not None
    (folder / "root.pem").write_bytes(cert_to_pem(authority.root))
    issuers = [i.certificate for i in authority.issuers.values()]
    (folder / "chain.pem").write_bytes(chain_to_pem([*issuers, authority.root]))
    for role, issuer in authority.issuers.items():
        (folder / f"{role}.pem").write_bytes(cert_to_pem(issuer.certificate))
    crls = [await authority.crl(role) for role in authority.issuers]
    (folder / "crl.pem").write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in crls))
    for role in authority.issuers:
        out.write(f"CRL ({role}):       {authority.crl_url(role)}\n")
        out.write(f"delta CRL ({role}): {authority.crl_url(role, delta=True)}\n")
    out.write(f"OCSP:            {authority.ocsp_url}\n")
    written = ["root.pem", "chain.pem", "crl.pem", *(f"{role}.pem" for role in authority.issuers)]
    out.write(f"wrote {', '.join(written)} in {folder}\n")
    return 0


_COMMANDS = {"issue": _issue, "revoke": _revoke, "sign": _sign, "verify": _verify, "ca": _ca}
