"""PKI throughput of egov-sim, side by side with bare ``cryptography`` calls.

Run from the repository root::

    python bench/pki.py            # about 40 s on a 2-core machine
    python bench/pki.py --quick    # a rough look in about 8 s

Every egov-sim operation is paired with a "bare" operation doing the core of
the same work with ``cryptography`` alone:

=====================  ==============================================  ==========================================
row                    egov-sim                                        bare
=====================  ==============================================  ==========================================
JWS sign               ``signatures.jws.sign_detached``                ``key.sign`` (PKCS#1 v1.5, SHA-256) over
                                                                       the exact JWS signing input
JWS verify             ``signatures.jws.verify_detached``              ``public_key.verify`` of that signature
CMS sign (detached)    ``signatures.cms.sign_cms``                     ``key.sign`` over the exact DER signed
                                                                       attributes of a CMS made by ``sign_cms``
CMS verify             ``signatures.cms.verify_cms``                   ``public_key.verify`` of that signature
validate (cached)      ``SignatureValidator.jws`` with OCSP answered   leaf ``verify_directly_issued_by(CA)`` +
                       once, then from the checker's cache             CA ``verify_directly_issued_by(root)`` +
                                                                       validity windows at ``at`` + signature
                                                                       verify
validate (cold)        the same, with the OCSP cache and the JWS       the same bare chain check
                       header / chain caches cleared before each call
                       (a full OCSP round trip through an in-process
                       ``httpx.MockTransport`` calling ``answer_ocsp``)
=====================  ==============================================  ==========================================

Method: every operation is warmed up, then egov-sim and bare are timed in
alternation (A B A B ...) for ``--rounds`` rounds of ``--seconds`` wall time
each, with ``time.perf_counter``; the reported rate is the median round. The
ratio is egov-sim ops/s divided by bare ops/s, measured in the same run, so it
does not depend much on the machine: see ``bench/README.md``.

All certificates are valid around a fixed virtual time ``AT`` that is passed
to every call; the wall clock is only used to measure durations.

The last line of the output is machine-readable ``key=value`` pairs.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Awaitable, Callable

_REPO_ROOT = Path(__file__).resolve().parent.parent
if str(_REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(_REPO_ROOT))

import cryptography  # noqa: E402
import httpx  # noqa: E402
from asn1crypto import cms as asn1_cms  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.backends.openssl import backend as openssl_backend  # noqa: E402
from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding  # noqa: E402

from signatures import jws  # noqa: E402
from signatures.certificates import (  # noqa: E402
    Subject,
    create_issuing_ca,
    create_root_ca,
    generate_key,
    issue_certificate,
)
from signatures.cms import sign_cms, verify_cms  # noqa: E402
from signatures.jws import canonical_json, sign_detached, verify_detached  # noqa: E402
from signatures.revocation import (  # noqa: E402
    OCSP_RESPONSE_CONTENT_TYPE,
    CertStatusInfo,
    RevocationChecker,
    answer_ocsp,
)
from signatures.validation import SignatureValidator  # noqa: E402

AT = datetime(2025, 3, 14, 9, 30, tzinfo=timezone.utc)
"""The virtual moment of every signature and check."""

OCSP_URL = "http://ocsp.pki.gov.kz.test/"
PKCS1 = padding.PKCS1v15()
SHA256 = hashes.SHA256()


# --------------------------------------------------------------------------- fixtures


@dataclass
class Pki:
    root_cert: x509.Certificate
    ca_cert: x509.Certificate
    ca_key: Any
    leaf_cert: x509.Certificate
    leaf_key: Any

    @property
    def chain(self) -> list[x509.Certificate]:
        """What a signer sends: its certificate and the issuing CA (not the root)."""
        return [self.leaf_cert, self.ca_cert]


def build_pki() -> Pki:
    root_key = generate_key("rsa")
    root_cert = create_root_ca(root_key, now=AT - timedelta(days=3 * 365))
    ca_key = generate_key("rsa")
    ca_cert = create_issuing_ca(
        ca_key, root_cert, root_key, now=AT - timedelta(days=2 * 365), ocsp_url=OCSP_URL
    )
    leaf_key = generate_key("rsa")
    subject = Subject.individual(
        iin="850412300127", surname="Сейтқалиева", name="Айгерім", patronymic="Бақытқызы"
    )
    leaf_cert = issue_certificate(
        leaf_key.public_key(),
        subject,
        issuer_cert=ca_cert,
        issuer_key=ca_key,
        now=AT,
        usage="sign",
        not_before=AT - timedelta(days=30),
        days=365,
        ocsp_url=OCSP_URL,
    )
    return Pki(root_cert, ca_cert, ca_key, leaf_cert, leaf_key)


def sample_document() -> dict[str, Any]:
    """A citizen's request document of a typical size (about 1.5 KB of canonical JSON)."""
    return {
        "reglament": "P1.02",
        "requestId": "5f1c2a9e-7d1b-4c8e-9a53-2b7f0e4d6c11",
        "createdAt": AT.isoformat(),
        "applicant": {
            "iin": "850412300127",
            "surname": "СЕЙТҚАЛИЕВА",
            "name": "АЙГЕРІМ",
            "patronymic": "БАҚЫТҚЫЗЫ",
            "phone": "+77011234567",
            "email": "aigerim@example.kz",
        },
        "form": {
            "childIin": "190305600451",
            "childSurname": "СЕЙТҚАЛИЕВ",
            "childName": "ТЕМІРЛАН",
            "birthCertificate": "I-ЖА 0341157",
            "region": "Алматы қаласы",
            "district": "Бостандық ауданы",
            "address": "Әл-Фараби даңғылы, 77/7, 12 пәтер",
            "preferredKindergartens": [1024, 1187, 1299],
            "language": "kk",
            "benefits": [],
            "consent": True,
        },
        "attachments": [
            {"name": f"document-{index}.pdf", "sha256": f"{index:02d}" * 32, "size": 48_213 + index}
            for index in range(4)
        ],
    }


# --------------------------------------------------------------------------- timing


@dataclass
class Measured:
    label: str
    egov_rates: list[float]
    bare_rates: list[float]

    @property
    def egov(self) -> float:
        return statistics.median(self.egov_rates)

    @property
    def bare(self) -> float:
        return statistics.median(self.bare_rates)

    @property
    def ratio(self) -> float:
        return self.egov / self.bare

    @property
    def paired_ratio(self) -> float:
        """Median of the ratios of adjacent rounds (A_i / B_i): a check on drift."""
        return statistics.median(a / b for a, b in zip(self.egov_rates, self.bare_rates))


def spread(rates: list[float]) -> float:
    """(max - min) / median of one side's rounds."""
    return (max(rates) - min(rates)) / statistics.median(rates)


class Timer:
    """Times sync and async callables for a fixed wall time, in alternation."""

    def __init__(self, loop: asyncio.AbstractEventLoop, seconds: float, rounds: int, warmup: float):
        self.loop = loop
        self.seconds = seconds
        self.rounds = rounds
        self.warmup = warmup

    @staticmethod
    def _sync_rate(fn: Callable[[], Any], seconds: float) -> float:
        count = 0
        start = time.perf_counter()
        deadline = start + seconds
        while True:
            fn()
            count += 1
            now = time.perf_counter()
            if now >= deadline:
                return count / (now - start)

    @staticmethod
    async def _async_rate(fn: Callable[[], Awaitable[Any]], seconds: float) -> float:
        count = 0
        start = time.perf_counter()
        deadline = start + seconds
        while True:
            await fn()
            count += 1
            now = time.perf_counter()
            if now >= deadline:
                return count / (now - start)

    def rate(self, fn: Callable[[], Any], seconds: float, is_async: bool) -> float:
        gc.collect()
        if is_async:
            return self.loop.run_until_complete(self._async_rate(fn, seconds))
        return self._sync_rate(fn, seconds)

    def compare(
        self,
        label: str,
        egov: Callable[[], Any],
        bare: Callable[[], Any],
        *,
        egov_async: bool = False,
    ) -> Measured:
        self.rate(egov, self.warmup, egov_async)
        self.rate(bare, self.warmup, False)
        result = Measured(label, [], [])
        for _ in range(self.rounds):  # A B A B ...: drift hits both sides alike
            result.egov_rates.append(self.rate(egov, self.seconds, egov_async))
            result.bare_rates.append(self.rate(bare, self.seconds, False))
        print(
            f"  {label:<22} egov-sim {result.egov:10.1f}/s (spread {spread(result.egov_rates):5.1%})"
            f"   bare {result.bare:10.1f}/s (spread {spread(result.bare_rates):5.1%})"
            f"   paired ratio {sig3(result.paired_ratio)}",
            flush=True,
        )
        return result


# --------------------------------------------------------------------------- the benchmark


def cms_signed_attributes(signature: bytes) -> bytes:
    """The bytes a CMS signature covers: the signed attributes as a DER SET OF (RFC 5652 §5.4)."""
    info = asn1_cms.ContentInfo.load(signature)
    signed_attrs = info["content"]["signer_infos"][0]["signed_attrs"].dump()
    return b"\x31" + signed_attrs[1:]  # [0] IMPLICIT -> universal SET OF


def sig3(value: float) -> str:
    """``value`` to 3 significant digits, trailing zeros kept (0.300, 1.65, 12.0)."""
    text = f"{value:#.3g}"
    return text.rstrip(".") if "e" not in text else text


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def in_window(cert: x509.Certificate, at: datetime) -> bool:
    return cert.not_valid_before_utc <= at <= cert.not_valid_after_utc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=0.3, help="wall time of one timed round")
    parser.add_argument("--rounds", type=int, default=10, help="rounds per side (median is reported)")
    parser.add_argument("--warmup", type=float, default=0.2, help="warm-up wall time per side")
    parser.add_argument("--quick", action="store_true", help="3 rounds of 0.15 s (rough numbers)")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.rounds, args.warmup = 0.15, 3, 0.05

    started = time.perf_counter()
    print(
        f"egov-sim PKI benchmark: Python {platform.python_version()}, cryptography "
        f"{cryptography.__version__} ({openssl_backend.openssl_version_text()}), "
        f"{os.cpu_count()} CPUs, {args.rounds} rounds x {args.seconds:g} s per side, "
        f"virtual time {AT.isoformat()}",
        flush=True,
    )

    pki = build_pki()
    roots = [pki.root_cert]
    chain = pki.chain
    key = pki.leaf_key
    public_key = pki.leaf_cert.public_key()

    document = sample_document()
    document_bytes = canonical_json(document)

    # ---- JWS: the exact bytes sign_detached signs
    token = sign_detached(document, key, chain)
    header_part, _, signature_part = token.split(".")
    jws_input = f"{header_part}.{b64url(document_bytes)}".encode("ascii")
    jws_signature = b64url_decode(signature_part)
    public_key.verify(jws_signature, jws_input, PKCS1, SHA256)  # bare sees the same work
    verdict = verify_detached(token, document, trusted_roots=roots, at=AT)
    assert verdict.valid, verdict

    # ---- CMS (detached): the exact bytes sign_cms signs
    cms_signature = sign_cms(document_bytes, key, chain, at=AT, detached=True)
    cms_input = cms_signed_attributes(cms_signature)
    cms_raw_signature = asn1_cms.ContentInfo.load(cms_signature)["content"]["signer_infos"][0][
        "signature"
    ].native
    public_key.verify(cms_raw_signature, cms_input, PKCS1, SHA256)
    result = verify_cms(cms_signature, document_bytes, trusted_roots=roots, at=AT)
    assert result.valid, result.verdict

    # ---- full validation: OCSP through an in-process transport
    ocsp_requests = 0

    def responder(request: httpx.Request) -> httpx.Response:
        nonlocal ocsp_requests
        ocsp_requests += 1
        body = answer_ocsp(
            request.content,
            issuers=[(pki.ca_cert, pki.ca_key)],
            lookup=lambda issuer, serial: CertStatusInfo("good"),
            at=AT,
        )
        return httpx.Response(200, content=body, headers={"Content-Type": OCSP_RESPONSE_CONTENT_TYPE})

    loop = asyncio.new_event_loop()
    client = httpx.AsyncClient(transport=httpx.MockTransport(responder))
    checker = RevocationChecker(client, policy="hard-fail")
    validator = SignatureValidator(
        trusted_roots=roots, issuing_cas=[pki.ca_cert], revocation=checker
    )

    def validate() -> Awaitable[Any]:
        return validator.jws(token, document, at=AT)

    def validate_cold() -> Awaitable[Any]:
        checker.clear_cache()
        jws.clear_caches()
        return validator.jws(token, document, at=AT)

    first = loop.run_until_complete(validate())
    second = loop.run_until_complete(validate())
    assert first.valid and first.revocation["source"] == "ocsp", first
    assert second.valid and second.revocation["source"] == "cache", second
    cold = loop.run_until_complete(validate_cold())
    assert cold.valid and cold.revocation["source"] == "ocsp", cold

    leaf, ca, root = pki.leaf_cert, pki.ca_cert, pki.root_cert

    def bare_chain() -> None:
        leaf.verify_directly_issued_by(ca)
        ca.verify_directly_issued_by(root)
        for cert in (leaf, ca, root):
            if not in_window(cert, AT):
                raise AssertionError("certificate not valid at AT")
        leaf.public_key().verify(jws_signature, jws_input, PKCS1, SHA256)

    bare_chain()

    timer = Timer(loop, args.seconds, args.rounds, args.warmup)
    print("measuring (egov-sim and bare alternating, median round):", flush=True)
    rows: dict[str, Measured] = {}
    rows["jws_sign"] = timer.compare(
        "JWS sign",
        lambda: sign_detached(document, key, chain),
        lambda: key.sign(jws_input, PKCS1, SHA256),
    )
    rows["jws_verify"] = timer.compare(
        "JWS verify",
        lambda: verify_detached(token, document, trusted_roots=roots, at=AT),
        lambda: public_key.verify(jws_signature, jws_input, PKCS1, SHA256),
    )
    rows["cms_sign"] = timer.compare(
        "CMS sign (detached)",
        lambda: sign_cms(document_bytes, key, chain, at=AT, detached=True),
        lambda: key.sign(cms_input, PKCS1, SHA256),
    )
    rows["cms_verify"] = timer.compare(
        "CMS verify",
        lambda: verify_cms(cms_signature, document_bytes, trusted_roots=roots, at=AT),
        lambda: public_key.verify(cms_raw_signature, cms_input, PKCS1, SHA256),
    )
    loop.run_until_complete(validate())  # the cache holds a fresh answer again
    requests_before = ocsp_requests
    rows["validate_cached"] = timer.compare(
        "validate, OCSP cached", validate, bare_chain, egov_async=True
    )
    cached_requests = ocsp_requests - requests_before
    requests_before = ocsp_requests
    rows["validate_cold"] = timer.compare(
        "validate, cold", validate_cold, bare_chain, egov_async=True
    )
    cold_requests = ocsp_requests - requests_before

    loop.run_until_complete(client.aclose())
    loop.close()
    elapsed = time.perf_counter() - started

    # ---- report
    print()
    header = f"{'operation':<24} {'egov-sim ops/s':>15} {'bare ops/s':>12} {'egov/bare':>10}   bare does"
    print(header)
    print("-" * len(header) + "-" * 40)
    bare_does = {
        "jws_sign": "RSA-2048 sign of the JWS signing input",
        "jws_verify": "RSA verify of the JWS signature",
        "cms_sign": "RSA-2048 sign of the DER signed attributes",
        "cms_verify": "RSA verify of the CMS signature",
        "validate_cached": "2 cert sig checks + 3 windows + RSA verify",
        "validate_cold": "2 cert sig checks + 3 windows + RSA verify",
    }
    for name, row in rows.items():
        print(
            f"{row.label:<24} {row.egov:>15,.1f} {row.bare:>12,.1f} {sig3(row.ratio):>10}   {bare_does[name]}"
        )
    print()
    print(
        "egov-sim rows: JWS = sign_detached / verify_detached (RFC 8785 canonicalisation, "
        "header + chain checks, cached per signer); CMS = sign_cms / verify_cms (asn1crypto "
        "build / parse, ESS, chain); validate = SignatureValidator.jws + RevocationChecker "
        "(cached: OCSP answer reused within freshness; cold: caches cleared, OCSP request built, "
        "POSTed through httpx.MockTransport, answered and RSA-signed by answer_ocsp, parsed and "
        "verified)."
    )
    widest = max(spread(r) for row in rows.values() for r in (row.egov_rates, row.bare_rates))
    print(
        f"OCSP requests during the timed rounds: cached {cached_requests}, cold {cold_requests}; "
        f"largest spread of a side's rounds (max-min)/median: {widest:.1%}; total {elapsed:.1f} s"
    )

    pairs = [
        ("jws_sign_per_s", rows["jws_sign"].egov),
        ("bare_sign_per_s", rows["jws_sign"].bare),
        ("jws_sign_ratio", rows["jws_sign"].ratio),
        ("jws_verify_per_s", rows["jws_verify"].egov),
        ("bare_verify_per_s", rows["jws_verify"].bare),
        ("jws_verify_ratio", rows["jws_verify"].ratio),
        ("cms_sign_per_s", rows["cms_sign"].egov),
        ("cms_bare_sign_per_s", rows["cms_sign"].bare),
        ("cms_sign_ratio", rows["cms_sign"].ratio),
        ("cms_verify_per_s", rows["cms_verify"].egov),
        ("cms_bare_verify_per_s", rows["cms_verify"].bare),
        ("cms_verify_ratio", rows["cms_verify"].ratio),
        ("validate_cached_per_s", rows["validate_cached"].egov),
        ("bare_chain_per_s", rows["validate_cached"].bare),
        ("validate_cached_ratio", rows["validate_cached"].ratio),
        ("validate_cold_per_s", rows["validate_cold"].egov),
        ("cold_bare_chain_per_s", rows["validate_cold"].bare),
        ("validate_cold_ratio", rows["validate_cold"].ratio),
    ]
    print(
        " ".join(
            f"{name}={sig3(value)}" if name.endswith("_ratio") else f"{name}={value:.1f}"
            for name, value in pairs
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
