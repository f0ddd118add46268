"""Revocation: CRLs (full and delta), the OCSP responder, and the caching OCSP client.

The PKI here is issued around the *real* current time (not the conftest's fixed
NOW) so that the ``openssl`` CLI, which checks validity against the wall clock,
accepts the certificates, CRLs and OCSP responses. The library code itself
never reads the clock: every time is passed in.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.x509 import ocsp
from cryptography.x509.oid import SignatureAlgorithmOID

from signatures.certificates import (
    Subject,
    cert_to_pem,
    chain_to_pem,
    create_issuing_ca,
    create_root_ca,
    generate_key,
    issue_certificate,
)
from signatures.revocation import (
    OCSP_REQUEST_CONTENT_TYPE,
    OCSP_RESPONSE_CONTENT_TYPE,
    REASON_NAMES,
    CertStatusInfo,
    RevocationChecker,
    RevocationStatus,
    RevokedEntry,
    answer_ocsp,
    build_crl,
    crl_to_der,
    crl_to_pem,
    parse_reason,
)

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="the openssl CLI is not installed")

REAL_NOW = datetime.now(timezone.utc).replace(microsecond=0)
ISSUED = REAL_NOW - timedelta(hours=1)
OCSP_URL = "http://ocsp.pki.sim.kz/"
CRL_URL = "http://crl.pki.sim.kz/nca_rsa.crl"
HOUR = timedelta(hours=1)
REVOKED_AT = REAL_NOW - timedelta(minutes=30)

PERSON = Subject.individual(iin="900101300126", surname="Тестов", name="Тест")
OTHER = Subject.individual(iin="850505400127", surname="Әлиева", name="Айгүл")


class RevPki:
    """Root (RSA) -> issuing CA (RSA) -> leaves; and a second issuing CA with an EC key."""

    def __init__(self) -> None:
        self.root_key = generate_key("rsa")
        self.root = create_root_ca(self.root_key, now=ISSUED)
        self.ca_key = generate_key("rsa")
        self.ca = create_issuing_ca(self.ca_key, self.root, self.root_key, now=ISSUED)
        self.ec_ca_key = generate_key("ec")
        self.ec_ca = create_issuing_ca(
            self.ec_ca_key, self.root, self.root_key, now=ISSUED, name="ТЕСТ EC CA"
        )
        self.good = self.issue(PERSON)
        self.revoked = self.issue(OTHER)
        self.stranger = self.issue(PERSON)  # a serial the CA's records do not hold
        self.no_aia = self.issue(PERSON, ocsp_url=None)
        self.ec_leaf = issue_certificate(
            generate_key("ec").public_key(),
            PERSON,
            issuer_cert=self.ec_ca,
            issuer_key=self.ec_ca_key,
            now=ISSUED,
            usage="sign",
            days=30,
            ocsp_url=OCSP_URL,
        )
        self.other_key = generate_key("rsa")

    def issue(self, subject: Subject, ocsp_url: str | None = OCSP_URL) -> x509.Certificate:
        return issue_certificate(
            generate_key("ec").public_key(),
            subject,
            issuer_cert=self.ca,
            issuer_key=self.ca_key,
            now=ISSUED,
            usage="sign",
            days=30,
            ocsp_url=ocsp_url,
            crl_url=CRL_URL,
        )

    def records(self) -> dict[int, CertStatusInfo]:
        """What the CA knows, per serial (a fresh copy that a test may change)."""
        return {
            self.good.serial_number: CertStatusInfo("good"),
            self.no_aia.serial_number: CertStatusInfo("good"),
            self.revoked.serial_number: CertStatusInfo("revoked", REVOKED_AT, "keyCompromise"),
            self.ec_leaf.serial_number: CertStatusInfo("good"),
            self.ca.serial_number: CertStatusInfo("good"),
        }

    def lookup(self, issuer: x509.Certificate, serial: int) -> CertStatusInfo:
        return self.records().get(serial, CertStatusInfo("unknown"))


@pytest.fixture(scope="module")
def rpki() -> RevPki:
    return RevPki()


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert OPENSSL is not None
    return subprocess.run(
        [OPENSSL, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def ocsp_request(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    algorithm: hashes.HashAlgorithm | None = None,
    nonce: bytes | None = None,
) -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, algorithm or hashes.SHA1())
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def verify_with(response: ocsp.OCSPResponse, issuer: x509.Certificate) -> None:
    key = issuer.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(response.signature, response.tbs_response_bytes, ec.ECDSA(hashes.SHA256()))
    else:
        key.verify(
            response.signature, response.tbs_response_bytes, padding.PKCS1v15(), hashes.SHA256()
        )


# --------------------------------------------------------------------------- reasons


@pytest.mark.parametrize(
    ("text", "flag"),
    [
        ("keyCompromise", x509.ReasonFlags.key_compromise),
        ("key_compromise", x509.ReasonFlags.key_compromise),
        ("KEY_COMPROMISE", x509.ReasonFlags.key_compromise),
        ("cACompromise", x509.ReasonFlags.ca_compromise),
        ("ca_compromise", x509.ReasonFlags.ca_compromise),
        ("affiliationChanged", x509.ReasonFlags.affiliation_changed),
        ("affiliation_changed", x509.ReasonFlags.affiliation_changed),
        ("superseded", x509.ReasonFlags.superseded),
        ("cessationOfOperation", x509.ReasonFlags.cessation_of_operation),
        ("cessation_of_operation", x509.ReasonFlags.cessation_of_operation),
        ("certificateHold", x509.ReasonFlags.certificate_hold),
        ("certificate_hold", x509.ReasonFlags.certificate_hold),
        ("privilegeWithdrawn", x509.ReasonFlags.privilege_withdrawn),
        ("privilege_withdrawn", x509.ReasonFlags.privilege_withdrawn),
        ("aACompromise", x509.ReasonFlags.aa_compromise),
        ("aa_compromise", x509.ReasonFlags.aa_compromise),
        ("unspecified", x509.ReasonFlags.unspecified),
        (" superseded ", x509.ReasonFlags.superseded),
        (x509.ReasonFlags.superseded, x509.ReasonFlags.superseded),
    ],
)
def test_parse_reason(text, flag):
    assert parse_reason(text) is flag


@pytest.mark.parametrize("text", ["", "compromised", "key compromise!", "7", None])
def test_parse_reason_rejects_with_the_accepted_names(text):
    with pytest.raises(ValueError) as info:
        parse_reason(text)  # type: ignore[arg-type]
    for name in ("keyCompromise", "cACompromise", "privilegeWithdrawn", "aACompromise"):
        assert name in str(info.value)


def test_every_rfc_name_round_trips():
    for name, flag in REASON_NAMES.items():
        assert parse_reason(name) is flag
        assert flag.value == name  # cryptography's values are the RFC 5280 names


# --------------------------------------------------------------------------- CRLs


def full_crl(rpki: RevPki, **kwargs) -> x509.CertificateRevocationList:
    entries = kwargs.pop(
        "entries",
        [
            RevokedEntry(rpki.revoked.serial_number, REVOKED_AT, x509.ReasonFlags.key_compromise),
            RevokedEntry(12345, REVOKED_AT, "superseded"),
            RevokedEntry(67890, REVOKED_AT, x509.ReasonFlags.unspecified),
            RevokedEntry(424242, REVOKED_AT, None),
        ],
    )
    kwargs.setdefault("number", 7)
    kwargs.setdefault("this_update", REAL_NOW - timedelta(minutes=10))
    kwargs.setdefault("next_update", REAL_NOW + timedelta(days=1))
    return build_crl(rpki.ca, rpki.ca_key, entries, **kwargs)


def test_full_crl_extensions_and_entries(rpki):
    crl = full_crl(rpki)
    assert crl.issuer == rpki.ca.subject
    assert crl.is_signature_valid(rpki.ca.public_key())
    assert crl.signature_algorithm_oid == SignatureAlgorithmOID.RSA_WITH_SHA256
    assert crl.last_update_utc == REAL_NOW - timedelta(minutes=10)
    assert crl.next_update_utc == REAL_NOW + timedelta(days=1)
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 7
    aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = rpki.ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    with pytest.raises(x509.ExtensionNotFound):
        crl.extensions.get_extension_for_class(x509.DeltaCRLIndicator)

    assert len(crl) == 4
    entry = crl.get_revoked_certificate_by_serial_number(rpki.revoked.serial_number)
    assert entry is not None
    assert entry.revocation_date_utc == REVOKED_AT
    reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    assert reason is x509.ReasonFlags.key_compromise
    superseded = crl.get_revoked_certificate_by_serial_number(12345)
    assert superseded.extensions.get_extension_for_class(x509.CRLReason).value.reason is (
        x509.ReasonFlags.superseded
    )
    for serial in (67890, 424242):  # unspecified / no reason: no CRLReason extension
        assert len(crl.get_revoked_certificate_by_serial_number(serial).extensions) == 0
    assert crl.get_revoked_certificate_by_serial_number(rpki.good.serial_number) is None


def test_crl_encodings_round_trip(rpki):
    crl = full_crl(rpki)
    assert crl_to_pem(crl).startswith(b"-----BEGIN X509 CRL-----")
    assert x509.load_pem_x509_crl(crl_to_pem(crl)) == crl
    assert x509.load_der_x509_crl(crl_to_der(crl)) == crl


def test_crl_signed_with_an_ec_key(rpki):
    crl = build_crl(
        rpki.ec_ca,
        rpki.ec_ca_key,
        [RevokedEntry(99, REVOKED_AT, "cessation_of_operation")],
        number=1,
        this_update=REAL_NOW,
        next_update=REAL_NOW + HOUR,
    )
    assert crl.signature_algorithm_oid == SignatureAlgorithmOID.ECDSA_WITH_SHA256
    assert crl.is_signature_valid(rpki.ec_ca.public_key())
    assert not crl.is_signature_valid(rpki.ca.public_key())


def test_delta_crl(rpki):
    entries = [
        RevokedEntry(1001, REVOKED_AT, "certificateHold"),
        RevokedEntry(1002, REVOKED_AT, "removeFromCRL"),
    ]
    delta = build_crl(
        rpki.ca,
        rpki.ca_key,
        entries,
        number=8,
        this_update=REAL_NOW,
        next_update=REAL_NOW + HOUR,
        delta_base=7,
    )
    indicator = delta.extensions.get_extension_for_class(x509.DeltaCRLIndicator)
    assert indicator.critical is True
    assert indicator.value.crl_number == 7
    assert delta.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 8
    assert sorted(entry.serial_number for entry in delta) == [1001, 1002]
    assert delta.is_signature_valid(rpki.ca.public_key())


def test_crl_input_checks(rpki):
    when = {"this_update": REAL_NOW, "next_update": REAL_NOW + HOUR}
    with pytest.raises(ValueError, match="delta"):  # removeFromCRL only in a delta CRL
        build_crl(rpki.ca, rpki.ca_key, [RevokedEntry(1, REVOKED_AT, "removeFromCRL")],
                  number=1, **when)
    with pytest.raises(ValueError, match="delta_base"):
        build_crl(rpki.ca, rpki.ca_key, [], number=3, delta_base=3, **when)
    with pytest.raises(ValueError, match="key"):
        build_crl(rpki.ca, rpki.ec_ca_key, [], number=1, **when)
    with pytest.raises(ValueError, match="next_update"):
        build_crl(rpki.ca, rpki.ca_key, [], number=1, this_update=REAL_NOW, next_update=REAL_NOW)
    with pytest.raises(ValueError, match="twice"):
        build_crl(rpki.ca, rpki.ca_key, [RevokedEntry(5, REVOKED_AT), RevokedEntry(5, REVOKED_AT)],
                  number=1, **when)
    with pytest.raises(ValueError, match="accepted"):
        RevokedEntry(5, REVOKED_AT, "stolen")  # type: ignore[arg-type]


def test_naive_times_are_utc(rpki):
    naive = REAL_NOW.replace(tzinfo=None)
    crl = build_crl(
        rpki.ca,
        rpki.ca_key,
        [RevokedEntry(5, naive)],
        number=1,
        this_update=naive,
        next_update=naive + HOUR,
    )
    assert crl.last_update_utc == REAL_NOW
    assert crl.get_revoked_certificate_by_serial_number(5).revocation_date_utc == REAL_NOW


@needs_openssl
def test_openssl_verify_with_the_crl(rpki, tmp_path):
    (tmp_path / "chain.pem").write_bytes(chain_to_pem([rpki.ca, rpki.root]))
    (tmp_path / "crl.pem").write_bytes(crl_to_pem(full_crl(rpki)))
    (tmp_path / "good.pem").write_bytes(cert_to_pem(rpki.good))
    (tmp_path / "revoked.pem").write_bytes(cert_to_pem(rpki.revoked))
    common = ("verify", "-crl_check", "-CAfile", "chain.pem", "-CRLfile", "crl.pem")

    good = run(*common, "good.pem", cwd=tmp_path)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "good.pem: OK" in good.stdout

    revoked = run(*common, "revoked.pem", cwd=tmp_path)
    assert revoked.returncode != 0
    assert "certificate revoked" in revoked.stdout + revoked.stderr


@needs_openssl
def test_openssl_crl_text_shows_reasons_and_delta_indicator(rpki, tmp_path):
    (tmp_path / "crl.pem").write_bytes(crl_to_pem(full_crl(rpki)))
    text = run("crl", "-in", "crl.pem", "-noout", "-text", cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    assert "Key Compromise" in text.stdout
    assert "Superseded" in text.stdout
    assert "X509v3 CRL Number" in text.stdout
    assert "Delta CRL Indicator" not in text.stdout

    delta = build_crl(
        rpki.ca,
        rpki.ca_key,
        [RevokedEntry(1001, REVOKED_AT, "privilege_withdrawn")],
        number=8,
        this_update=REAL_NOW,
        next_update=REAL_NOW + HOUR,
        delta_base=7,
    )
    (tmp_path / "delta.der").write_bytes(crl_to_der(delta))
    text = run("crl", "-in", "delta.der", "-inform", "DER", "-noout", "-text", cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    assert "Delta CRL Indicator" in text.stdout
    assert "Privilege Withdrawn" in text.stdout


# --------------------------------------------------------------------------- OCSP responder


def answer(rpki: RevPki, request: bytes, at: datetime = REAL_NOW, **kwargs) -> ocsp.OCSPResponse:
    kwargs.setdefault("issuers", [(rpki.ca, rpki.ca_key)])
    kwargs.setdefault("lookup", rpki.lookup)
    return ocsp.load_der_ocsp_response(answer_ocsp(request, at=at, **kwargs))


def test_ocsp_good(rpki):
    response = answer(rpki, ocsp_request(rpki.good, rpki.ca))
    assert response.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL
    assert response.certificate_status is ocsp.OCSPCertStatus.GOOD
    assert response.serial_number == rpki.good.serial_number
    assert isinstance(response.hash_algorithm, hashes.SHA1)
    assert response.this_update_utc == response.produced_at_utc == REAL_NOW
    assert response.next_update_utc == REAL_NOW + HOUR
    ski = x509.SubjectKeyIdentifier.from_public_key(rpki.ca.public_key()).digest
    assert response.responder_key_hash == ski
    assert response.responder_name is None
    assert response.signature_algorithm_oid == SignatureAlgorithmOID.RSA_WITH_SHA256
    assert response.certificates == [rpki.ca]
    verify_with(response, rpki.ca)
    assert len(response.extensions) == 0  # no nonce asked, none sent


def test_ocsp_revoked_with_time_and_reason(rpki):
    response = answer(rpki, ocsp_request(rpki.revoked, rpki.ca), validity=timedelta(minutes=10))
    assert response.certificate_status is ocsp.OCSPCertStatus.REVOKED
    assert response.revocation_time_utc == REVOKED_AT
    assert response.revocation_reason is x509.ReasonFlags.key_compromise
    assert response.next_update_utc == REAL_NOW + timedelta(minutes=10)
    verify_with(response, rpki.ca)


def test_ocsp_revoked_without_reason(rpki):
    info = CertStatusInfo("revoked", REVOKED_AT, x509.ReasonFlags.unspecified)
    response = answer(rpki, ocsp_request(rpki.good, rpki.ca), lookup=lambda issuer, serial: info)
    assert response.certificate_status is ocsp.OCSPCertStatus.REVOKED
    assert response.revocation_reason is None


def test_ocsp_unknown_serial(rpki):
    response = answer(rpki, ocsp_request(rpki.stranger, rpki.ca))
    assert response.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL
    assert response.certificate_status is ocsp.OCSPCertStatus.UNKNOWN
    verify_with(response, rpki.ca)


@pytest.mark.parametrize("algorithm", [hashes.SHA256(), hashes.SHA384(), hashes.SHA512()])
def test_ocsp_sha2_cert_ids(rpki, algorithm):
    response = answer(rpki, ocsp_request(rpki.revoked, rpki.ca, algorithm))
    assert response.certificate_status is ocsp.OCSPCertStatus.REVOKED
    assert type(response.hash_algorithm) is type(algorithm)
    request = ocsp.load_der_ocsp_request(ocsp_request(rpki.revoked, rpki.ca, algorithm))
    assert response.issuer_key_hash == request.issuer_key_hash
    assert response.issuer_name_hash == request.issuer_name_hash


def test_ocsp_unknown_issuer_is_unauthorized(rpki):
    response = answer(rpki, ocsp_request(rpki.ec_leaf, rpki.ec_ca))
    assert response.response_status is ocsp.OCSPResponseStatus.UNAUTHORIZED


@pytest.mark.parametrize(
    "request_der", [b"", b"garbage", b"\x30\x03\x02\x01", b"\x30\x80" + b"\x00" * 10]
)
def test_ocsp_malformed_request(rpki, request_der):
    response = answer(rpki, request_der)
    assert response.response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_ocsp_truncated_request_is_malformed(rpki):
    good = ocsp_request(rpki.good, rpki.ca)
    assert answer(rpki, good[:-3]).response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_ocsp_lookup_failure_is_an_internal_error(rpki):
    def broken(issuer, serial):
        raise RuntimeError("database down")

    for lookup in (broken, lambda issuer, serial: "good"):
        response = answer(rpki, ocsp_request(rpki.good, rpki.ca), lookup=lookup)
        assert response.response_status is ocsp.OCSPResponseStatus.INTERNAL_ERROR


def test_ocsp_nonce_is_echoed(rpki):
    nonce = bytes(range(16))
    response = answer(rpki, ocsp_request(rpki.good, rpki.ca, nonce=nonce))
    extension = response.extensions.get_extension_for_class(x509.OCSPNonce)
    assert extension.value.nonce == nonce
    assert extension.critical is False
    verify_with(response, rpki.ca)


def test_ocsp_signed_by_an_ec_issuer(rpki):
    response = answer(
        rpki, ocsp_request(rpki.ec_leaf, rpki.ec_ca), issuers=[(rpki.ca, rpki.ca_key),
                                                               (rpki.ec_ca, rpki.ec_ca_key)]
    )
    assert response.certificate_status is ocsp.OCSPCertStatus.GOOD
    assert response.signature_algorithm_oid == SignatureAlgorithmOID.ECDSA_WITH_SHA256
    assert response.certificates == [rpki.ec_ca]
    verify_with(response, rpki.ec_ca)


def test_ocsp_root_answers_for_the_issuing_ca(rpki):
    response = answer(
        rpki,
        ocsp_request(rpki.ca, rpki.root),
        issuers=[(rpki.root, rpki.root_key), (rpki.ca, rpki.ca_key)],
    )
    assert response.certificate_status is ocsp.OCSPCertStatus.GOOD
    verify_with(response, rpki.root)


def test_ocsp_naive_at_is_utc(rpki):
    response = answer(rpki, ocsp_request(rpki.good, rpki.ca), at=REAL_NOW.replace(tzinfo=None))
    assert response.produced_at_utc == REAL_NOW


@needs_openssl
def test_openssl_request_answered_and_checked_by_openssl(rpki, tmp_path):
    (tmp_path / "ca.pem").write_bytes(cert_to_pem(rpki.ca))
    (tmp_path / "chain.pem").write_bytes(chain_to_pem([rpki.ca, rpki.root]))
    for name, cert, expected in (("good", rpki.good, "good"), ("revoked", rpki.revoked, "revoked")):
        (tmp_path / f"{name}.pem").write_bytes(cert_to_pem(cert))
        made = run(
            "ocsp", "-issuer", "ca.pem", "-cert", f"{name}.pem", "-reqout", f"{name}.req",
            cwd=tmp_path,
        )
        assert made.returncode == 0, made.stderr
        request_der = (tmp_path / f"{name}.req").read_bytes()
        request = ocsp.load_der_ocsp_request(request_der)
        assert isinstance(request.hash_algorithm, hashes.SHA1)  # openssl's default CertID
        sent_nonce = request.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce

        response_der = answer_ocsp(
            request_der, issuers=[(rpki.ca, rpki.ca_key)], lookup=rpki.lookup, at=REAL_NOW
        )
        response = ocsp.load_der_ocsp_response(response_der)
        assert response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == (
            sent_nonce
        )
        (tmp_path / f"{name}.resp").write_bytes(response_der)

        # openssl checks the nonce of its own request against the response...
        checked = run(
            "ocsp", "-reqin", f"{name}.req", "-respin", f"{name}.resp", "-CAfile", "chain.pem",
            cwd=tmp_path,
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "Response verify OK" in checked.stderr
        assert "nonce" not in (checked.stdout + checked.stderr).lower()
        # ...and reads the status.
        shown = run(
            "ocsp", "-respin", f"{name}.resp", "-issuer", "ca.pem", "-cert", f"{name}.pem",
            "-CAfile", "chain.pem", "-no_nonce",
            cwd=tmp_path,
        )
        assert shown.returncode == 0, shown.stdout + shown.stderr
        assert "Response verify OK" in shown.stderr
        assert f"{name}.pem: {expected}" in shown.stdout
        if expected == "revoked":
            assert "Reason: keyCompromise" in shown.stdout


@needs_openssl
def test_cryptography_request_checked_by_openssl(rpki, tmp_path):
    (tmp_path / "ca.pem").write_bytes(cert_to_pem(rpki.ca))
    (tmp_path / "chain.pem").write_bytes(chain_to_pem([rpki.ca, rpki.root]))
    (tmp_path / "revoked.pem").write_bytes(cert_to_pem(rpki.revoked))
    (tmp_path / "resp.der").write_bytes(
        answer_ocsp(
            ocsp_request(rpki.revoked, rpki.ca, nonce=b"n" * 16),
            issuers=[(rpki.ca, rpki.ca_key)],
            lookup=rpki.lookup,
            at=REAL_NOW,
        )
    )
    shown = run(
        "ocsp", "-respin", "resp.der", "-issuer", "ca.pem", "-cert", "revoked.pem",
        "-CAfile", "chain.pem", "-no_nonce",
        cwd=tmp_path,
    )
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "revoked.pem: revoked" in shown.stdout
    assert "Reason: keyCompromise" in shown.stdout


@needs_openssl
def test_openssl_request_for_an_unknown_issuer(rpki, tmp_path):
    (tmp_path / "ca.pem").write_bytes(cert_to_pem(rpki.ec_ca))
    (tmp_path / "leaf.pem").write_bytes(cert_to_pem(rpki.ec_leaf))
    made = run("ocsp", "-issuer", "ca.pem", "-cert", "leaf.pem", "-reqout", "req.der", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    response = answer(rpki, (tmp_path / "req.der").read_bytes())
    assert response.response_status is ocsp.OCSPResponseStatus.UNAUTHORIZED


# --------------------------------------------------------------------------- OCSP client


T0 = REAL_NOW


@dataclass
class Responder:
    """An OCSP responder behind an httpx.MockTransport, calling answer_ocsp."""

    pki: RevPki
    now: datetime = T0  # the responder's (virtual) clock
    mode: str = "up"  # up | down | timeout | http503 | garbage | replay
    signing_key: object = None
    requests: list[httpx.Request] = field(default_factory=list)
    records: dict[int, CertStatusInfo] = field(default_factory=dict)
    issuers: list[tuple[x509.Certificate, object]] = field(default_factory=list)
    last_body: bytes = b""

    def __post_init__(self) -> None:
        self.records = self.pki.records()
        self.issuers = [
            (self.pki.ca, self.pki.ca_key),
            (self.pki.ec_ca, self.pki.ec_ca_key),
        ]

    @property
    def calls(self) -> int:
        return len(self.requests)

    def lookup(self, issuer: x509.Certificate, serial: int) -> CertStatusInfo:
        return self.records.get(serial, CertStatusInfo("unknown"))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.mode == "down":
            raise httpx.ConnectError("connection refused", request=request)
        if self.mode == "timeout":
            raise httpx.ReadTimeout("timed out", request=request)
        if self.mode == "http503":
            return httpx.Response(503, text="Service Unavailable")
        if self.mode == "garbage":
            return httpx.Response(200, content=b"<html>maintenance</html>")
        if self.mode == "replay":
            return httpx.Response(200, content=self.last_body)
        issuers = self.issuers
        if self.signing_key is not None:
            issuers = [(cert, self.signing_key) for cert, _ in issuers]
        body = answer_ocsp(request.content, issuers=issuers, lookup=self.lookup, at=self.now)
        self.last_body = body
        return httpx.Response(
            200, content=body, headers={"Content-Type": OCSP_RESPONSE_CONTENT_TYPE}
        )


@pytest.fixture
def responder(rpki) -> Responder:
    return Responder(rpki)


@pytest.fixture
async def http(responder):
    async with httpx.AsyncClient(transport=httpx.MockTransport(responder)) as client:
        yield client


def checker(http: httpx.AsyncClient, policy: str = "hard-fail", **kwargs) -> RevocationChecker:
    return RevocationChecker(http, policy, **kwargs)  # type: ignore[arg-type]


async def test_asks_the_aia_responder_with_a_nonce(rpki, responder, http):
    result = await checker(http).status(rpki.good, rpki.ca, at=T0)
    assert result.status == "good"
    assert result.source == "ocsp"
    assert result.checked_at == T0
    assert result.revoked_at is None and result.reason is None
    assert OCSP_URL in result.detail
    (sent,) = responder.requests
    assert sent.method == "POST"
    assert str(sent.url) == OCSP_URL
    assert sent.headers["content-type"] == OCSP_REQUEST_CONTENT_TYPE
    request = ocsp.load_der_ocsp_request(sent.content)
    assert request.serial_number == rpki.good.serial_number
    assert isinstance(request.hash_algorithm, hashes.SHA1)
    assert len(request.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce) == 16


async def test_responder_url_override(rpki, responder, http):
    url = "http://ocsp.override.test/ocsp"
    result = await checker(http, responder_url=url).status(rpki.no_aia, rpki.ca, at=T0)
    assert result.status == "good"
    assert str(responder.requests[0].url) == url


async def test_no_responder_known(rpki, responder, http):
    result = await checker(http).status(rpki.no_aia, rpki.ca, at=T0)
    assert (result.status, result.source) == ("unknown", "none")
    assert "names no OCSP responder" in result.detail
    assert responder.calls == 0


async def test_fresh_answer_is_cached(rpki, responder, http):
    check = checker(http)
    first = await check.status(rpki.good, rpki.ca, at=T0)
    assert first.source == "ocsp"
    for later in (T0 + timedelta(minutes=1), T0 + timedelta(minutes=59), T0 + HOUR):
        again = await check.status(rpki.good, rpki.ca, at=later)
        assert (again.status, again.source, again.checked_at) == ("good", "cache", T0)
        assert "fresh" in again.detail
    assert responder.calls == 1
    assert check.cached(rpki.good, rpki.ca) == first


async def test_refreshed_after_freshness(rpki, responder, http):
    check = checker(http, freshness=timedelta(minutes=15))
    await check.status(rpki.good, rpki.ca, at=T0)
    hit = await check.status(rpki.good, rpki.ca, at=T0 + timedelta(minutes=1))
    assert (hit.source, hit.checked_at) == ("cache", T0)
    later = T0 + timedelta(minutes=15, seconds=1)
    responder.now = later
    again = await check.status(rpki.good, rpki.ca, at=later)
    assert (again.source, again.checked_at) == ("ocsp", later)
    assert responder.calls == 2
    # the new answer is fresh from its own thisUpdate on
    third = await check.status(rpki.good, rpki.ca, at=later + timedelta(minutes=10))
    assert (third.source, third.checked_at) == ("cache", later)  # the new answer's, not the old one's
    assert later.isoformat() in third.detail
    assert responder.calls == 2


async def test_refresh_notices_a_revocation(rpki, responder, http):
    check = checker(http)
    assert (await check.status(rpki.good, rpki.ca, at=T0)).status == "good"
    responder.records[rpki.good.serial_number] = CertStatusInfo(
        "revoked", T0 + timedelta(minutes=5), "superseded"
    )
    # within freshness the cached "good" stands (the X-Road trade-off)
    assert (await check.status(rpki.good, rpki.ca, at=T0 + timedelta(minutes=30))).status == "good"
    responder.now = T0 + 2 * HOUR
    result = await check.status(rpki.good, rpki.ca, at=T0 + 2 * HOUR)
    assert (result.status, result.source) == ("revoked", "ocsp")
    assert result.reason is x509.ReasonFlags.superseded


async def test_forget_makes_the_next_check_ask_at_once(rpki, responder, http):
    check = checker(http)
    assert (await check.status(rpki.good, rpki.ca, at=T0)).status == "good"
    await check.status(rpki.revoked, rpki.ca, at=T0)
    responder.records[rpki.good.serial_number] = CertStatusInfo("revoked", T0 + timedelta(minutes=5), "keyCompromise")
    responder.now = T0 + timedelta(minutes=6)
    # the CA's notice: forget this serial (of another issuer: nothing; of any issuer: its answer)
    assert check.forget(rpki.good.serial_number, rpki.ec_ca) == 0
    assert check.forget(rpki.good.serial_number) == 1
    assert check.cached(rpki.good, rpki.ca) is None
    assert check.cached(rpki.revoked, rpki.ca) is not None  # the others stay
    result = await check.status(rpki.good, rpki.ca, at=T0 + timedelta(minutes=6))  # well within freshness
    assert (result.status, result.source) == ("revoked", "ocsp")
    assert responder.calls == 3


async def test_an_answer_fetched_across_a_forget_is_not_cached(rpki, responder, http):
    check = checker(http)
    started = asyncio.Event()
    release = asyncio.Event()
    plain = responder.__call__

    async def slow(request: httpx.Request) -> httpx.Response:
        started.set()
        await release.wait()
        return plain(request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(slow)) as slow_http:
        check = checker(slow_http)
        asking = asyncio.create_task(check.status(rpki.good, rpki.ca, at=T0))
        await asyncio.wait_for(started.wait(), 10)
        check.forget(rpki.good.serial_number)  # the CA revoked it while the answer was on its way
        release.set()
        answer = await asking
    assert answer.status == "good"  # handed to its caller ...
    assert check.cached(rpki.good, rpki.ca) is None  # ... but not kept


@pytest.mark.parametrize(
    ("mode", "why"),
    [
        ("down", "ConnectError"),
        ("timeout", "timeout"),
        ("http503", "HTTP 503"),
        ("garbage", "not a DER OCSPResponse"),
    ],
)
async def test_hard_fail_when_the_responder_is_down(rpki, responder, http, mode, why):
    check = checker(http, policy="hard-fail")
    await check.status(rpki.good, rpki.ca, at=T0)
    responder.mode = mode
    # a short outage: the fresh cached answer is used without asking
    before = await check.status(rpki.good, rpki.ca, at=T0 + timedelta(minutes=40))
    assert (before.status, before.source) == ("good", "cache")
    assert responder.calls == 1
    # a long one: unknown
    after = await check.status(rpki.good, rpki.ca, at=T0 + 2 * HOUR)
    assert (after.status, after.source) == ("unknown", "none")
    assert after.detail.startswith("hard-fail: ")
    assert why in after.detail
    assert "older than the freshness" in after.detail
    assert after.checked_at == T0 + 2 * HOUR
    assert responder.calls == 2


async def test_hard_fail_without_any_answer(rpki, responder, http):
    responder.mode = "down"
    result = await checker(http).status(rpki.good, rpki.ca, at=T0)
    assert (result.status, result.source) == ("unknown", "none")
    assert result.detail.startswith("hard-fail: ")


async def test_soft_fail_uses_a_stale_answer(rpki, responder, http):
    check = checker(http, policy="soft-fail")
    await check.status(rpki.good, rpki.ca, at=T0)
    responder.mode = "down"
    result = await check.status(rpki.good, rpki.ca, at=T0 + timedelta(days=3))
    assert (result.status, result.source, result.checked_at) == ("good", "cache", T0)
    assert result.detail.startswith("soft-fail: ")
    assert "stale" in result.detail
    assert responder.calls == 2  # it did ask


async def test_soft_fail_without_any_answer(rpki, responder, http):
    responder.mode = "timeout"
    result = await checker(http, policy="soft-fail").status(rpki.good, rpki.ca, at=T0)
    assert (result.status, result.source) == ("unknown", "none")
    assert result.detail.startswith("soft-fail: ")
    assert result.revoked_at is None and result.reason is None


async def test_revoked_is_cached_for_good(rpki, responder, http):
    check = checker(http, policy="hard-fail")
    first = await check.status(rpki.revoked, rpki.ca, at=T0)
    assert (first.status, first.source) == ("revoked", "ocsp")
    assert first.revoked_at == REVOKED_AT
    assert first.reason is x509.ReasonFlags.key_compromise
    responder.mode = "down"
    for later in (T0 + 2 * HOUR, T0 + timedelta(days=400)):
        again = await check.status(rpki.revoked, rpki.ca, at=later)
        assert (again.status, again.source, again.revoked_at) == ("revoked", "cache", REVOKED_AT)
        assert "final" in again.detail
    assert responder.calls == 1


async def test_responder_unknown_is_an_answer(rpki, responder, http):
    check = checker(http)
    result = await check.status(rpki.stranger, rpki.ca, at=T0)
    assert (result.status, result.source) == ("unknown", "ocsp")
    assert "does not know" in result.detail
    assert (await check.status(rpki.stranger, rpki.ca, at=T0 + timedelta(minutes=5))).source == (
        "cache"
    )


@pytest.mark.parametrize("policy", ["hard-fail", "soft-fail"])
async def test_response_signed_by_the_wrong_key_is_a_failure(rpki, responder, http, policy):
    check = checker(http, policy=policy)
    await check.status(rpki.good, rpki.ca, at=T0)
    responder.signing_key = rpki.other_key
    responder.now = T0 + 2 * HOUR
    result = await check.status(rpki.good, rpki.ca, at=T0 + 2 * HOUR)
    assert "not signed by the issuing CA" in result.detail
    if policy == "hard-fail":
        assert (result.status, result.source) == ("unknown", "none")
    else:
        assert (result.status, result.source, result.checked_at) == ("good", "cache", T0)
    assert responder.calls == 2


async def test_replayed_response_is_a_failure(rpki, responder, http):
    check = checker(http)
    await check.status(rpki.good, rpki.ca, at=T0)
    responder.mode = "replay"  # the same (validly signed) response, with the old nonce
    result = await check.status(rpki.good, rpki.ca, at=T0 + timedelta(minutes=61))
    assert (result.status, result.source) == ("unknown", "none")
    assert "nonce" in result.detail


async def test_unauthorized_answer_is_a_failure(rpki, responder, http):
    responder.issuers = [(rpki.ca, rpki.ca_key)]  # this responder does not serve the EC CA
    result = await checker(http).status(rpki.ec_leaf, rpki.ec_ca, at=T0)
    assert (result.status, result.source) == ("unknown", "none")
    assert "UNAUTHORIZED" in result.detail


async def test_ec_issuer_answer_is_verified(rpki, responder, http):
    result = await checker(http).status(rpki.ec_leaf, rpki.ec_ca, at=T0)
    assert (result.status, result.source) == ("good", "ocsp")


@pytest.mark.parametrize(
    ("responder_time", "freshness", "why"),
    [
        (T0 - 3 * HOUR, HOUR, "expired"),  # nextUpdate (responder time + 1 h) already past
        (T0 - timedelta(minutes=45), timedelta(minutes=30), "older than the freshness"),
        (T0 + HOUR, HOUR, "in the future"),
    ],
)
async def test_out_of_time_responses_are_failures(
    rpki, responder, http, responder_time, freshness, why
):
    responder.now = responder_time
    result = await checker(http, freshness=freshness).status(rpki.good, rpki.ca, at=T0)
    assert (result.status, result.source) == ("unknown", "none")
    assert why in result.detail


async def test_concurrent_checks_ask_once(rpki, responder, http):
    check = checker(http)
    results = await asyncio.gather(*(check.status(rpki.good, rpki.ca, at=T0) for _ in range(5)))
    assert responder.calls == 1
    assert sorted(r.source for r in results) == ["cache"] * 4 + ["ocsp"]


async def test_cache_is_per_certificate(rpki, responder, http):
    check = checker(http)
    await check.status(rpki.good, rpki.ca, at=T0)
    await check.status(rpki.revoked, rpki.ca, at=T0)
    assert responder.calls == 2
    check.clear_cache()
    assert check.cached(rpki.good, rpki.ca) is None
    await check.status(rpki.good, rpki.ca, at=T0)
    assert responder.calls == 3


async def test_to_dict_is_json(rpki, responder, http):
    result = await checker(http).status(rpki.revoked, rpki.ca, at=T0)
    data = result.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data == {
        "status": "revoked",
        "revoked_at": REVOKED_AT.isoformat(),
        "reason": "keyCompromise",
        "checked_at": T0.isoformat(),
        "source": "ocsp",
        "detail": result.detail,
    }
    unknown = RevocationStatus("unknown", None, None, T0, "none", "soft-fail: x").to_dict()
    assert unknown["revoked_at"] is None and unknown["reason"] is None


async def test_checker_arguments(http):
    with pytest.raises(ValueError):
        RevocationChecker(http, policy="best-effort")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        RevocationChecker(http, policy="soft-fail", freshness=timedelta(0))


def test_cert_status_info_checks():
    with pytest.raises(ValueError):
        CertStatusInfo("revoked")  # no time
    with pytest.raises(ValueError):
        CertStatusInfo("maybe")  # type: ignore[arg-type]
    assert CertStatusInfo("revoked", REVOKED_AT, "ca_compromise").reason is (
        x509.ReasonFlags.ca_compromise
    )


@needs_openssl
def test_request_for_several_certificates_is_refused(rpki, tmp_path):
    """A documented limitation: one CertID per request (as cryptography parses them)."""
    (tmp_path / "ca.pem").write_bytes(cert_to_pem(rpki.ca))
    (tmp_path / "a.pem").write_bytes(cert_to_pem(rpki.good))
    (tmp_path / "b.pem").write_bytes(cert_to_pem(rpki.revoked))
    made = run(
        "ocsp", "-issuer", "ca.pem", "-cert", "a.pem", "-cert", "b.pem", "-reqout", "req.der",
        cwd=tmp_path,
    )
    assert made.returncode == 0, made.stderr
    response = answer(rpki, (tmp_path / "req.der").read_bytes())
    assert response.response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST
