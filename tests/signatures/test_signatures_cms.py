"""CMS SignedData (CAdES-BES style): round trips, every verdict, interoperability with openssl."""

from __future__ import annotations

import base64
import hashlib
import random
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from asn1crypto import algos, cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from signatures import cms as cms_module
from signatures.certificates import (
    cert_to_pem,
    chain_to_pem,
    create_issuing_ca,
    create_root_ca,
    generate_key,
    issue_certificate,
    key_to_pem,
)
from signatures.cms import CmsResult, sign_cms, verify_cms
from signatures.verdicts import Verdict, VerdictCode

CONTENT = "Өтініш: тұрғын үй кезегіне қою. ЖСН 900101300126.\r\n".encode() + bytes(range(256))
SHA256_NO_PARAMS = bytes.fromhex("300b0609608648016503040201")


class Signers:
    """Signers for the CMS tests, derived from the shared PKI (issued at pki.NOW)."""

    def __init__(self, pki) -> None:
        self.pki = pki
        self.now = pki.NOW
        self.at = pki.NOW + timedelta(hours=1)  # the moment of signing
        self.check_at = pki.NOW + timedelta(hours=2)  # the moment of checking
        self.roots = [pki.root]
        self.rsa_cert = pki.issue(pki.rsa_key, pki.INDIVIDUAL, "sign")
        self.ec_cert = pki.issue(pki.ec_key, pki.EMPLOYEE, "sign")
        self.ec_auth_cert = pki.issue(pki.ec_auth_key, pki.INDIVIDUAL, "auth")
        self.rsa_chain = [self.rsa_cert, pki.ca]
        self.ec_chain = [self.ec_cert, pki.ca]

    def key_chain(self, kind: str):
        if kind == "rsa":
            return self.pki.rsa_key, self.rsa_chain
        return self.pki.ec_key, self.ec_chain

    def sign(self, kind: str = "ec", content: bytes = CONTENT, **kwargs) -> bytes:
        key, chain = self.key_chain(kind)
        kwargs.setdefault("at", self.at)
        return sign_cms(content, key, chain, **kwargs)

    def verify(self, signature, content=None, **kwargs) -> CmsResult:
        kwargs.setdefault("trusted_roots", self.roots)
        kwargs.setdefault("at", self.check_at)
        return verify_cms(signature, content, **kwargs)


@pytest.fixture(scope="module")
def s(pki) -> Signers:
    return Signers(pki)


# --------------------------------------------------------------------------- helpers


def signed_data(signature: bytes) -> tuple[cms.ContentInfo, cms.SignedData]:
    info = cms.ContentInfo.load(signature)
    return info, info["content"]


def raw_sign(key, data: bytes) -> bytes:
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


def resign(signature: bytes, key, change) -> bytes:
    """Change the signed attributes with ``change(list) -> list`` and sign them again."""
    info, sd = signed_data(signature)
    signer_info = sd["signer_infos"][0]
    attrs = [cms.CMSAttribute.load(attr.dump()) for attr in signer_info["signed_attrs"]]
    new_attrs = cms.CMSAttributes(change(attrs))
    signer_info["signed_attrs"] = new_attrs
    signer_info["signature"] = raw_sign(key, new_attrs.dump())
    return info.dump(force=True)


def rebuild(signature: bytes, change) -> bytes:
    """Apply ``change(signed_data)`` (in place) and re-encode, without signing again."""
    info, sd = signed_data(signature)
    change(sd)
    return info.dump(force=True)


def replace_attr(name: str, value):
    def change(attrs):
        return [
            cms.CMSAttribute({"type": name, "values": [value]}) if a["type"].native == name else a
            for a in attrs
        ]

    return change


def without_attr(name: str):
    return lambda attrs: [a for a in attrs if a["type"].native != name]


def flip_byte_of(signature: bytes, part: bytes, offset: int = 3) -> bytes:
    index = signature.index(part) + offset
    data = bytearray(signature)
    data[index] ^= 0x01
    return bytes(data)


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("kind", ["rsa", "ec"])
@pytest.mark.parametrize("detached", [False, True])
def test_round_trip(s, kind, detached):
    signature = s.sign(kind, detached=detached)
    assert isinstance(signature, bytes) and signature[0] == 0x30
    result = s.verify(signature, CONTENT if detached else None)
    assert isinstance(result, CmsResult)
    assert result.valid and result.verdict.code == VerdictCode.VALID, result.verdict.message
    assert result.content == CONTENT
    assert result.signing_time == s.at
    assert result.certificate == s.key_chain(kind)[1][0]
    signer = result.verdict.signer
    if kind == "rsa":
        assert (signer["iin"], signer["common_name"], signer["usage"]) == (
            "900101300126", "ТЕСТОВ ТЕСТ", "sign",
        )
    else:
        assert (signer["bin"], signer["roles"]) == ("123456789025", ["first_head", "signer"])
    # the attached content may also be given, when it is the same
    if not detached:
        assert s.verify(signature, CONTENT).valid


def test_empty_and_large_content(s):
    for content in (b"", bytes(1_000_000)):
        for detached in (False, True):
            signature = s.sign("ec", content, detached=detached)
            result = s.verify(signature, content if detached else None)
            assert result.valid and result.content == content


def test_structure(s):
    """SignedData v1, SHA-256, id-data, the chain, one v1 SignerInfo with the CAdES-BES attributes."""
    for kind, algorithm in (("rsa", "sha256_rsa"), ("ec", "sha256_ecdsa")):
        key, chain = s.key_chain(kind)
        info, sd = signed_data(sign_cms(CONTENT, key, chain, at=s.at))
        assert info["content_type"].native == "signed_data"
        assert sd["version"].native == "v1"
        assert [d.dump() for d in sd["digest_algorithms"]] == [SHA256_NO_PARAMS]
        encap = sd["encap_content_info"]
        assert encap["content_type"].native == "data" and encap["content"].native == CONTENT
        # a DER SET OF: the chain's certificates, sorted by their encoding
        assert [c.chosen.dump() for c in sd["certificates"]] == sorted(
            c.public_bytes(Encoding.DER) for c in chain
        )
        assert len(sd["signer_infos"]) == 1
        si = sd["signer_infos"][0]
        assert si["version"].native == "v1"
        assert si["sid"].name == "issuer_and_serial_number"
        assert si["sid"].chosen["serial_number"].native == chain[0].serial_number
        assert si["sid"].chosen["issuer"].dump() == chain[0].issuer.public_bytes()
        assert si["digest_algorithm"].dump() == SHA256_NO_PARAMS
        assert si["signature_algorithm"]["algorithm"].native == algorithm

        attrs = {a["type"].native: a["values"] for a in si["signed_attrs"]}
        assert set(attrs) == {"content_type", "signing_time", "message_digest", "signing_certificate_v2"}
        assert [v.native for v in attrs["content_type"]] == ["data"]
        assert [v.native for v in attrs["message_digest"]] == [hashlib.sha256(CONTENT).digest()]
        assert [v.name for v in attrs["signing_time"]] == ["utc_time"]
        assert attrs["signing_time"][0].native == s.at
        (ess,) = attrs["signing_certificate_v2"]
        (cert_id,) = ess["certs"]
        assert cert_id.contents[0] == 0x04  # hashAlgorithm left out: DEFAULT id-sha256 (DER)
        assert cert_id["cert_hash"].native == hashlib.sha256(chain[0].public_bytes(Encoding.DER)).digest()
        assert cert_id["issuer_serial"]["serial_number"].native == chain[0].serial_number
        (general_name,) = cert_id["issuer_serial"]["issuer"]
        assert general_name.name == "directory_name"
        # built in parts, the same DER as asn1crypto makes of the whole attribute given at once
        signer = asn1_x509.Certificate.load(chain[0].public_bytes(Encoding.DER))
        whole = cms.CMSAttribute({"type": "signing_certificate_v2", "values": [{"certs": [{
            "cert_hash": hashlib.sha256(chain[0].public_bytes(Encoding.DER)).digest(),
            "issuer_serial": {"issuer": [asn1_x509.GeneralName({"directory_name": signer.issuer})],
                              "serial_number": signer.serial_number},
        }]}]}).dump()
        assert [a.dump() for a in si["signed_attrs"] if a["type"].native == "signing_certificate_v2"] == [whole]

        # DER: the SET OF attributes is sorted, and the signature is over it with the SET tag
        raw = si["signed_attrs"].dump()
        to_sign = b"\x31" + raw[1:]
        members = [a.dump() for a in si["signed_attrs"]]
        assert members == sorted(members)
        public = chain[0].public_key()
        if kind == "rsa":
            public.verify(si["signature"].native, to_sign, padding.PKCS1v15(), hashes.SHA256())
        else:
            public.verify(si["signature"].native, to_sign, ec.ECDSA(hashes.SHA256()))

    # detached: no eContent
    _, sd = signed_data(s.sign(detached=True))
    assert isinstance(sd["encap_content_info"]["content"], core.Void)


def asn1crypto_cms(content: bytes, chain, at: datetime, signature: bytes, algorithm: str, detached: bool) -> bytes:
    """The SignedData sign_cms makes, built by asn1crypto from its parts (with the signature given)."""
    ders = [cert.public_bytes(Encoding.DER) for cert in chain]
    signer = asn1_x509.Certificate.load(ders[0])
    at = at.astimezone(timezone.utc).replace(microsecond=0)
    time = cms.Time({"utc_time": at} if 1950 <= at.year < 2050 else {"generalized_time": at})
    attributes = cms.CMSAttributes([
        cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
        cms.CMSAttribute({"type": "signing_time", "values": [time]}),
        cms.CMSAttribute({"type": "message_digest", "values": [hashlib.sha256(content).digest()]}),
        cms.CMSAttribute({"type": "signing_certificate_v2", "values": [{"certs": [{
            "cert_hash": hashlib.sha256(ders[0]).digest(),
            "issuer_serial": {"issuer": [asn1_x509.GeneralName({"directory_name": signer.issuer})],
                              "serial_number": signer.serial_number},
        }]}]}),
    ])
    signer_info = cms.SignerInfo({
        "version": "v1",
        "sid": cms.SignerIdentifier({"issuer_and_serial_number": cms.IssuerAndSerialNumber(
            {"issuer": signer.issuer, "serial_number": signer.serial_number})}),
        "digest_algorithm": algos.DigestAlgorithm.load(SHA256_NO_PARAMS),
        "signed_attrs": attributes,
        "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": algorithm}),
        "signature": signature,
    })
    encap = {"content_type": "data"} if detached else {"content_type": "data", "content": core.OctetString(content)}
    return cms.ContentInfo({"content_type": "signed_data", "content": cms.SignedData({
        "version": "v1",
        "digest_algorithms": [algos.DigestAlgorithm.load(SHA256_NO_PARAMS)],
        "encap_content_info": cms.ContentInfo(encap),
        "certificates": cms.CertificateSet(
            [cms.CertificateChoices({"certificate": asn1_x509.Certificate.load(der)}) for der in sorted(ders)]),
        "signer_infos": [signer_info],
    })}).dump()


@pytest.mark.parametrize("kind", ["rsa", "ec"])
@pytest.mark.parametrize("detached", [False, True])
@pytest.mark.parametrize("at", [datetime(2026, 12, 6, 1, 2, 3, 456789, tzinfo=timezone.utc),
                                datetime(2051, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=5))),
                                datetime(1949, 12, 31, 23, 59, 59)])
@pytest.mark.parametrize("size", [0, 100, 200, 70_000])
def test_the_der_written_is_asn1cryptos(s, kind, detached, at, size):
    """sign_cms writes its DER itself (asn1crypto took ~1.2 ms a signature to build it); byte for
    byte what asn1crypto makes of the same structure, short and long lengths, both time types,
    the chain in either order."""
    key, chain = s.key_chain(kind)
    content = (CONTENT * (size // len(CONTENT) + 1))[:size]
    for order in (chain, list(reversed(chain))[-1:] + list(reversed(chain))[:-1]):
        ours = sign_cms(content, key, order, at=at, detached=detached)
        _, sd = signed_data(ours)
        signature = sd["signer_infos"][0]["signature"].native
        algorithm = "sha256_rsa" if kind == "rsa" else "sha256_ecdsa"
        assert ours == asn1crypto_cms(content, order, at, signature, algorithm, detached)
    if kind == "rsa":  # PKCS #1 v1.5 is deterministic: the same signature over the same attributes
        assert sign_cms(content, key, chain, at=at, detached=detached) == ours
    assert s.verify(ours, content if detached else None, at=s.check_at).verdict.code in (
        VerdictCode.VALID, VerdictCode.CERT_EXPIRED, VerdictCode.CERT_NOT_YET_VALID)


def test_signing_time_is_the_virtual_time(s):
    def signing_time(at):
        _, sd = signed_data(s.sign(at=at))
        (value,) = [a["values"][0] for a in sd["signer_infos"][0]["signed_attrs"] if a["type"].native == "signing_time"]
        return value

    value = signing_time(s.at + timedelta(microseconds=987654))
    assert value.name == "utc_time" and value.native == s.at  # whole seconds
    assert signing_time(s.at.replace(tzinfo=None)).native == s.at  # naive = UTC
    almaty = timezone(timedelta(hours=5))
    assert signing_time(s.at.astimezone(almaty)).native == s.at
    late = datetime(2051, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    value = signing_time(late)
    assert value.name == "generalized_time" and value.native == late  # RFC 5652 §11.3
    result = s.verify(s.sign(at=late), at=s.check_at)
    assert result.valid and result.signing_time == late


def test_sign_argument_errors(s):
    with pytest.raises(ValueError):
        sign_cms(CONTENT, s.pki.ec_key, s.rsa_chain, at=s.at)  # the key is not chain[0]'s
    with pytest.raises(ValueError):
        sign_cms(CONTENT, s.pki.ec_key, [], at=s.at)
    with pytest.raises(TypeError):
        sign_cms("text", s.pki.ec_key, s.ec_chain, at=s.at)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        sign_cms(CONTENT, s.pki.ec_key, s.ec_chain, at="2025-03-20")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        sign_cms(CONTENT, b"key", s.ec_chain, at=s.at)  # type: ignore[arg-type]
    # bytearray / memoryview content and a tuple chain are fine
    assert s.verify(sign_cms(bytearray(CONTENT), s.pki.ec_key, tuple(s.ec_chain), at=s.at)).valid
    assert s.verify(sign_cms(memoryview(CONTENT), s.pki.ec_key, s.ec_chain, at=s.at)).valid


def test_pem_is_accepted(s):
    der = s.sign()
    body = base64.encodebytes(der).decode()
    for label in ("CMS", "PKCS7"):
        pem = f"-----BEGIN {label}-----\n{body}-----END {label}-----\n"
        assert s.verify(pem).valid
        assert s.verify(pem.encode()).valid
        assert s.verify("\n" + pem.replace("\n", "\r\n")).valid
    assert s.verify(f"-----BEGIN CMS-----\n{body}-----END PKCS7-----\n").verdict.code == VerdictCode.MALFORMED
    assert s.verify("-----BEGIN CMS-----\n!!!!\n-----END CMS-----\n").verdict.code == VerdictCode.MALFORMED
    assert s.verify(cert_to_pem(s.ec_cert)).verdict.code == VerdictCode.MALFORMED


# --------------------------------------------------------------------------- MALFORMED


def test_detached_without_content_is_malformed(s):
    result = s.verify(s.sign(detached=True))
    assert result.verdict.code == VerdictCode.MALFORMED
    assert "detached" in result.verdict.message
    assert result.verdict.signer is None and result.certificate is None


def test_attached_with_other_content_is_malformed(s):
    result = s.verify(s.sign(), CONTENT + b"!")
    assert result.verdict.code == VerdictCode.MALFORMED
    assert "differs" in result.verdict.message


def test_content_must_be_bytes(s):
    assert s.verify(s.sign(detached=True), CONTENT.decode("latin-1")).verdict.code == VerdictCode.MALFORMED
    assert s.verify(s.sign(detached=True), bytearray(CONTENT)).valid
    assert s.verify(s.sign(detached=True), memoryview(CONTENT)).valid


def test_signer_certificate_missing_from_the_set_is_malformed(s):
    def drop_leaf(sd):
        sd["certificates"] = cms.CertificateSet([c for c in sd["certificates"] if c.chosen.dump() != s.ec_cert.public_bytes(Encoding.DER)])

    result = s.verify(rebuild(s.sign(), drop_leaf))
    assert result.verdict.code == VerdictCode.MALFORMED
    assert "signer's certificate is not in" in result.verdict.message

    def no_certificates(sd):
        del sd["certificates"]

    assert s.verify(rebuild(s.sign(), no_certificates)).verdict.code == VerdictCode.MALFORMED

    def other_leaf(sd):  # the set holds another certificate of the same signer name
        sd["certificates"] = cms.CertificateSet(
            [
                cms.CertificateChoices({"certificate": cms.Certificate.load(c.public_bytes(Encoding.DER))})
                for c in (s.rsa_cert, s.pki.ca)
            ]
        )

    assert s.verify(rebuild(s.sign(), other_leaf)).verdict.code == VerdictCode.MALFORMED


def test_signer_info_count(s):
    def two(sd):
        sd["signer_infos"] = cms.SignerInfos([sd["signer_infos"][0], cms.SignerInfo.load(sd["signer_infos"][0].dump())])

    def none(sd):
        sd["signer_infos"] = cms.SignerInfos([])

    for change in (two, none):
        result = s.verify(rebuild(s.sign(), change))
        assert result.verdict.code == VerdictCode.MALFORMED
        assert "exactly one SignerInfo" in result.verdict.message


def test_unsupported_algorithms_are_malformed(s):
    def digest(oid):
        def change(sd):
            sd["signer_infos"][0]["digest_algorithm"] = algos.DigestAlgorithm({"algorithm": oid})
        return change

    def signature_algorithm(name):
        def change(sd):
            sd["signer_infos"][0]["signature_algorithm"] = algos.SignedDigestAlgorithm({"algorithm": name})
        return change

    cases = {
        "sha1 digest": (digest("sha1"), "ec"),
        "md5 digest": (digest("md5"), "rsa"),
        "rsassa-pss": (signature_algorithm("rsassa_pss"), "rsa"),
        "ecdsa on an rsa key": (signature_algorithm("sha256_ecdsa"), "rsa"),
        "rsa on an ec key": (signature_algorithm("sha256_rsa"), "ec"),
        "sha384 signature over a sha256 digest": (signature_algorithm("sha384_rsa"), "rsa"),
        "dsa": (signature_algorithm("sha256_dsa"), "ec"),
    }
    for name, (change, kind) in cases.items():
        result = s.verify(rebuild(s.sign(kind), change))
        assert result.verdict.code == VerdictCode.MALFORMED, (name, result.verdict.message)


def test_unsigned_fields_are_checked_too(s):
    """Versions, algorithm parameters and the digestAlgorithms set are not covered by the
    signature; nonsense there is MALFORMED rather than silently accepted."""

    def version(value):
        def change(sd):
            sd["version"] = value
        return change

    def signer_version(sd):
        sd["signer_infos"][0]["version"] = "v3"  # v3 goes with a subjectKeyIdentifier

    def no_digest_algorithms(sd):
        sd["digest_algorithms"] = [algos.DigestAlgorithm({"algorithm": "sha512"})]

    def ecdsa_parameters(sd):
        sd["signer_infos"][0]["signature_algorithm"] = algos.SignedDigestAlgorithm.load(
            bytes.fromhex("300c06082a8648ce3d0403020500")  # ecdsa-with-SHA256 with NULL
        )

    for name, change in {
        "version 2": version(2),
        "version 7": version(7),
        "signer version": signer_version,
        "digestAlgorithms": no_digest_algorithms,
        "ecdsa parameters": ecdsa_parameters,
    }.items():
        result = s.verify(rebuild(s.sign("ec"), change))
        assert result.verdict.code == VerdictCode.MALFORMED, (name, result.verdict.message)
    # NULL digest parameters (RFC 5754 says accept them) and version 3 are fine
    def null_parameters(sd):
        sd["signer_infos"][0]["digest_algorithm"] = algos.DigestAlgorithm({"algorithm": "sha256"})

    assert s.verify(rebuild(s.sign("ec"), null_parameters)).valid
    assert s.verify(rebuild(s.sign("ec"), version("v3"))).valid


def test_rsa_encryption_signature_algorithm_is_accepted(s):
    """RFC 5754 allows rsaEncryption as the signature algorithm (openssl writes it)."""

    def change(sd):
        sd["signer_infos"][0]["signature_algorithm"] = algos.SignedDigestAlgorithm({"algorithm": "rsassa_pkcs1v15"})

    assert s.verify(rebuild(s.sign("rsa"), change)).valid


def test_required_signed_attributes(s):
    key = s.pki.ec_key
    for name in ("content_type", "message_digest"):
        result = s.verify(resign(s.sign(), key, without_attr(name)))
        assert result.verdict.code == VerdictCode.MALFORMED, name
        assert name in result.verdict.message
    repeated = resign(s.sign(), key, lambda attrs: attrs + [attrs[0]])
    assert s.verify(repeated).verdict.code == VerdictCode.MALFORMED
    two_values = resign(
        s.sign(), key,
        lambda attrs: [cms.CMSAttribute({"type": "message_digest", "values": [b"1" * 32, b"2" * 32]})
                       if a["type"].native == "message_digest" else a for a in attrs],
    )
    assert s.verify(two_values).verdict.code == VerdictCode.MALFORMED
    wrong_type = resign(s.sign(), key, replace_attr("content_type", "signed_data"))
    assert s.verify(wrong_type).verdict.code == VerdictCode.MALFORMED
    # signingTime and the ESS attribute are optional
    for name in ("signing_time", "signing_certificate_v2"):
        result = s.verify(resign(s.sign(), key, without_attr(name)))
        assert result.valid, name
    assert s.verify(resign(s.sign(), key, without_attr("signing_time"))).signing_time is None


def test_garbage_is_malformed(s):
    good = s.sign()
    garbage = {
        "empty": b"",
        "word": b"garbage",
        "text": "garbage",
        "non-ascii text": "қолтаңба",
        "none": None,
        "int": 12345,
        "a certificate": s.ec_cert.public_bytes(Encoding.DER),
        "truncated": good[:-10],
        "trailing data": good + b"\x00",
        "half": good[: len(good) // 2],
        "id-data content info": cms.ContentInfo({"content_type": "data", "content": core.OctetString(b"x")}).dump(),
        "random": bytes(random.Random(5652).randrange(256) for _ in range(500)),
        "sequence of nothing": b"\x30\x00",
        "deep nesting": b"\x30\x80" * 5000,
    }
    for name, signature in garbage.items():
        result = s.verify(signature, CONTENT)
        assert isinstance(result.verdict, Verdict), name
        assert result.verdict.code == VerdictCode.MALFORMED, (name, result.verdict)
        assert not result.valid and result.verdict.signer is None, name
        assert "unexpected error" not in result.verdict.message, (name, result.verdict.message)
        assert result.verdict.message_kk == "Қолтаңбаның пішімі дұрыс емес"


def test_random_mutations_never_raise(s):
    signature = s.sign("rsa")
    rng = random.Random(5652)
    for _ in range(400):
        data = bytearray(signature)
        for _ in range(rng.randrange(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        result = s.verify(bytes(data))
        assert result.verdict.code in set(VerdictCode)
        assert "unexpected error" not in result.verdict.message, result.verdict.message


def test_bad_arguments_are_programming_errors(s):
    signature = s.sign()
    with pytest.raises(TypeError):
        verify_cms(signature, trusted_roots=s.roots, at="2025-03-20")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        verify_cms(signature, trusted_roots=s.roots, at=s.check_at, usage="encrypt")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        verify_cms(signature, trusted_roots=[b"pem"], at=s.check_at)  # type: ignore[list-item]


# --------------------------------------------------------------------------- SIGNATURE_MISMATCH


def test_tampered_attached_content_is_signature_mismatch(s):
    for kind in ("rsa", "ec"):
        tampered = flip_byte_of(s.sign(kind), CONTENT, 10)
        result = s.verify(tampered)
        assert result.verdict.code == VerdictCode.SIGNATURE_MISMATCH
        assert result.verdict.signer is None
        assert result.verdict.message_ru == "Подпись не соответствует документу"
        assert result.content != CONTENT and result.signing_time == s.at


def test_wrong_content_for_detached_is_signature_mismatch(s):
    for kind in ("rsa", "ec"):
        signature = s.sign(kind, detached=True)
        other = bytearray(CONTENT)
        other[0] ^= 0x01
        result = s.verify(signature, bytes(other))
        assert result.verdict.code == VerdictCode.SIGNATURE_MISMATCH
        assert "messageDigest" in result.verdict.message
        assert result.content == bytes(other)


def test_tampered_signature_value_is_signature_mismatch(s):
    for kind in ("rsa", "ec"):
        signature = s.sign(kind)
        value = signed_data(signature)[1]["signer_infos"][0]["signature"].native
        result = s.verify(flip_byte_of(signature, value, len(value) - 1))
        assert result.verdict.code == VerdictCode.SIGNATURE_MISMATCH


def test_tampered_signed_attribute_is_signature_mismatch(s):
    """Changing a signed attribute without signing again breaks the signature."""

    def later(sd):
        attrs = sd["signer_infos"][0]["signed_attrs"]
        new = [
            cms.CMSAttribute({"type": "signing_time", "values": [cms.Time({"utc_time": s.at + timedelta(days=1)})]})
            if a["type"].native == "signing_time" else cms.CMSAttribute.load(a.dump())
            for a in attrs
        ]
        sd["signer_infos"][0]["signed_attrs"] = cms.CMSAttributes(new)

    result = s.verify(rebuild(s.sign(), later))
    assert result.verdict.code == VerdictCode.SIGNATURE_MISMATCH


def test_signature_by_another_key_is_signature_mismatch(s):
    """Signed attributes naming one person's certificate, signed with another person's key."""
    other_key = generate_key("rsa")
    other = s.pki.issue(other_key, s.pki.INDIVIDUAL, "sign")
    forged = resign(sign_cms(CONTENT, other_key, [other, s.pki.ca], at=s.at), s.pki.rsa_key, lambda a: a)
    assert s.verify(forged).verdict.code == VerdictCode.SIGNATURE_MISMATCH


def test_signing_certificate_v2_must_name_the_signer(s):
    key = s.pki.ec_key
    ess = signed_data(s.sign())[1]["signer_infos"][0]["signed_attrs"]
    (ess_attr,) = [a for a in ess if a["type"].native == "signing_certificate_v2"]
    value = ess_attr["values"][0]

    def with_cert_id(**changes):
        new = cms.CMSAttribute.load(ess_attr.dump())["values"][0]
        cert_id = new["certs"][0]
        for field, field_value in changes.items():
            cert_id[field] = field_value
        return replace_attr("signing_certificate_v2", new)

    other_hash = hashlib.sha256(s.rsa_cert.public_bytes(Encoding.DER)).digest()
    result = s.verify(resign(s.sign(), key, with_cert_id(cert_hash=other_hash)))
    assert result.verdict.code == VerdictCode.SIGNATURE_MISMATCH
    assert "signing-certificate" in result.verdict.message

    issuer_serial = cms.CMSAttribute.load(ess_attr.dump())["values"][0]["certs"][0]["issuer_serial"]
    issuer_serial["serial_number"] = s.rsa_cert.serial_number
    result = s.verify(resign(s.sign(), key, with_cert_id(issuer_serial=issuer_serial)))
    assert result.verdict.code == VerdictCode.SIGNATURE_MISMATCH

    # another hash algorithm is fine when the hash is right; an unknown one is malformed
    sha512 = hashlib.sha512(s.ec_cert.public_bytes(Encoding.DER)).digest()
    ok = with_cert_id(hash_algorithm=algos.DigestAlgorithm({"algorithm": "sha512"}), cert_hash=sha512)
    assert s.verify(resign(s.sign(), key, ok)).valid
    # the same with the parameters absent (not NULL): the signed attributes are verified as
    # received, not as asn1crypto would re-encode them (it adds NULL parameters to SHA-2)
    absent = algos.DigestAlgorithm.load(bytes.fromhex("300b0609608648016503040203"))
    forged = resign(s.sign(), key, with_cert_id(hash_algorithm=absent, cert_hash=sha512))
    assert absent.dump() in forged
    assert s.verify(forged).valid
    md5 = with_cert_id(hash_algorithm=algos.DigestAlgorithm({"algorithm": "md5"}))
    assert s.verify(resign(s.sign(), key, md5)).verdict.code == VerdictCode.MALFORMED
    assert value["certs"][0]["cert_hash"].native == hashlib.sha256(s.ec_cert.public_bytes(Encoding.DER)).digest()


def test_signature_without_signed_attributes(s):
    """RFC 5652 §5.4: without signed attributes the signature is over the content itself."""
    for kind in ("rsa", "ec"):
        key, _ = s.key_chain(kind)

        def change(sd, key=key):
            si = sd["signer_infos"][0]
            del si["signed_attrs"]
            si["signature"] = raw_sign(key, CONTENT)

        signature = rebuild(s.sign(kind), change)
        result = s.verify(signature)
        assert result.valid and result.signing_time is None
        assert s.verify(flip_byte_of(signature, CONTENT, 5)).verdict.code == VerdictCode.SIGNATURE_MISMATCH


def test_signer_identified_by_subject_key_identifier(s):
    ski = s.ec_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest

    def change(sd):
        sd["version"] = "v3"
        sd["signer_infos"][0]["version"] = "v3"
        sd["signer_infos"][0]["sid"] = cms.SignerIdentifier({"subject_key_identifier": ski})

    assert s.verify(rebuild(s.sign(), change)).valid

    def wrong(sd):
        sd["signer_infos"][0]["sid"] = cms.SignerIdentifier({"subject_key_identifier": b"\x01" * 20})

    assert s.verify(rebuild(s.sign(), wrong)).verdict.code == VerdictCode.MALFORMED


# --------------------------------------------------------------------------- chain verdicts


@pytest.fixture(scope="module")
def rogue(s):
    """A self-made CA copying the real names, and a signer it issued."""
    pki = s.pki
    root_key = generate_key("ec")
    root = create_root_ca(root_key, now=pki.NOW)
    ca_key = generate_key("ec")
    ca = create_issuing_ca(ca_key, root, root_key, now=pki.NOW)
    key = generate_key("ec")
    cert = issue_certificate(
        key.public_key(), pki.INDIVIDUAL, issuer_cert=ca, issuer_key=ca_key, now=pki.NOW, usage="sign"
    )
    return {"root": root, "ca": ca, "key": key, "cert": cert}


def test_untrusted_chain(s, rogue):
    signature = sign_cms(CONTENT, rogue["key"], [rogue["cert"], rogue["ca"], rogue["root"]], at=s.at)
    result = s.verify(signature)
    assert result.verdict.code == VerdictCode.CHAIN_NOT_TRUSTED
    assert result.verdict.signer["iin"] == "900101300126"  # who claims to have signed
    assert result.certificate == rogue["cert"]
    assert s.verify(signature, trusted_roots=[rogue["root"]]).valid
    assert s.verify(signature, trusted_roots=[]).verdict.code == VerdictCode.CHAIN_NOT_TRUSTED
    # a rogue leaf next to the real CA
    mixed = sign_cms(CONTENT, rogue["key"], [rogue["cert"], s.pki.ca], at=s.at)
    assert s.verify(mixed).verdict.code == VerdictCode.CHAIN_NOT_TRUSTED


def test_certificate_set_is_unordered(s):
    """The certificates may come in any order, with the root and unrelated ones among them."""
    key = s.pki.ec_key
    unrelated = s.rsa_cert
    for chain in (
        [s.ec_cert, s.pki.root, s.pki.ca],
        [s.ec_cert, unrelated, s.pki.ca],
        [s.ec_cert, s.pki.ca, s.pki.ca],
    ):
        assert s.verify(sign_cms(CONTENT, key, chain, at=s.at)).valid, chain

    def leaf_last(sd):
        certs = list(sd["certificates"])
        sd["certificates"] = cms.CertificateSet(certs[1:] + certs[:1])

    assert s.verify(rebuild(s.sign(), leaf_last)).valid


def test_missing_intermediate_is_chain_not_trusted(s):
    signature = sign_cms(CONTENT, s.pki.ec_key, [s.ec_cert], at=s.at)
    result = s.verify(signature)
    assert result.verdict.code == VerdictCode.CHAIN_NOT_TRUSTED
    assert "no trusted root issued" in result.verdict.message


def test_path_length_and_non_ca_intermediate(s):
    pki = s.pki
    sub_key = generate_key("ec")
    sub = create_issuing_ca(sub_key, pki.ca, pki.ca_key, now=pki.NOW, name="SUB CA")
    key = generate_key("ec")
    cert = issue_certificate(key.public_key(), pki.SYSTEM, issuer_cert=sub, issuer_key=sub_key, now=pki.NOW, usage="sign")
    result = s.verify(sign_cms(CONTENT, key, [cert, pki.ca, sub], at=s.at))
    assert result.verdict.code == VerdictCode.CHAIN_NOT_TRUSTED and "path length" in result.verdict.message

    key2 = generate_key("ec")
    below_leaf = issue_certificate(
        key2.public_key(), pki.SYSTEM, issuer_cert=s.ec_cert, issuer_key=pki.ec_key, now=pki.NOW, usage="sign"
    )
    result = s.verify(sign_cms(CONTENT, key2, [below_leaf, pki.ca, s.ec_cert], at=s.at))
    assert result.verdict.code == VerdictCode.CHAIN_NOT_TRUSTED and "not a CA" in result.verdict.message


def test_expired_and_not_yet_valid(s):
    signature = s.sign("rsa")
    expired = s.verify(signature, at=s.now + timedelta(days=366))
    assert expired.verdict.code == VerdictCode.CERT_EXPIRED
    assert expired.verdict.signer["common_name"] == "ТЕСТОВ ТЕСТ"
    early = s.verify(signature, at=s.now - timedelta(seconds=1))
    assert early.verdict.code == VerdictCode.CERT_NOT_YET_VALID
    # bounds are inclusive; a naive `at` is UTC
    assert s.verify(signature, at=s.rsa_cert.not_valid_after_utc).valid
    assert s.verify(signature, at=s.rsa_cert.not_valid_before_utc).valid
    assert s.verify(signature, at=s.check_at.replace(tzinfo=None)).valid


def test_auth_certificate_is_wrong_key_usage(s):
    signature = sign_cms(CONTENT, s.pki.ec_auth_key, [s.ec_auth_cert, s.pki.ca], at=s.at)
    result = s.verify(signature)  # usage="sign" by default
    assert result.verdict.code == VerdictCode.WRONG_KEY_USAGE
    assert result.verdict.signer["usage"] == "auth"
    assert s.verify(signature, usage="auth").valid
    assert s.verify(signature, usage=None).valid
    assert s.verify(s.sign(), usage="auth").verdict.code == VerdictCode.WRONG_KEY_USAGE


def test_rule_order(s, rogue):
    auth = sign_cms(CONTENT, s.pki.ec_auth_key, [s.ec_auth_cert, s.pki.ca], at=s.at)
    assert s.verify(auth, at=s.now + timedelta(days=400)).verdict.code == VerdictCode.CERT_EXPIRED
    untrusted = sign_cms(CONTENT, rogue["key"], [rogue["cert"], rogue["ca"]], at=s.at, detached=True)
    late = s.now + timedelta(days=400)
    assert s.verify(untrusted, CONTENT, at=late).verdict.code == VerdictCode.CHAIN_NOT_TRUSTED
    assert s.verify(untrusted, b"other", at=late).verdict.code == VerdictCode.SIGNATURE_MISMATCH
    assert s.verify(untrusted, None, at=late).verdict.code == VerdictCode.MALFORMED


def test_caches_can_be_cleared(s):
    signature = s.sign()
    assert s.verify(signature).valid
    cms_module.clear_caches()
    assert s.verify(signature).valid


def test_module_never_reads_the_wall_clock():
    source = Path(cms_module.__file__).read_text(encoding="utf-8")
    for forbidden in ("datetime.now", "utcnow", "time.time", "date.today"):
        assert forbidden not in source


# --------------------------------------------------------------------------- openssl interop

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="the openssl command-line tool is not installed")
OPENSSL_VERSION = (
    subprocess.run([OPENSSL, "version"], capture_output=True, check=False).stdout.decode()
    if OPENSSL
    else ""
)
CADES = ["-cades"] if OPENSSL_VERSION.startswith("OpenSSL 3") else []
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def openssl(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(OPENSSL), *map(str, args)], cwd=cwd, capture_output=True, timeout=60, check=False
    )


class RealPki:
    """A root, an issuing CA and signers valid around the real current time (openssl checks it)."""

    def __init__(self, subject) -> None:
        self.now = datetime.now(timezone.utc).replace(microsecond=0)
        start = self.now - timedelta(days=1)
        self.root_key = generate_key("rsa")
        self.root = create_root_ca(self.root_key, now=start)
        self.ca_key = generate_key("rsa")
        self.ca = create_issuing_ca(self.ca_key, self.root, self.root_key, now=start)
        self.keys = {"rsa": generate_key("rsa"), "ec": generate_key("ec")}
        self.certs = {
            kind: issue_certificate(
                key.public_key(), subject, issuer_cert=self.ca, issuer_key=self.ca_key,
                now=start, usage="sign",
            )
            for kind, key in self.keys.items()
        }

    def write(self, directory: Path, kind: str) -> None:
        (directory / "chain.pem").write_bytes(chain_to_pem([self.root, self.ca]))
        (directory / "ca.pem").write_bytes(cert_to_pem(self.ca))
        (directory / "cert.pem").write_bytes(cert_to_pem(self.certs[kind]))
        (directory / "key.pem").write_bytes(key_to_pem(self.keys[kind]))
        (directory / "content.bin").write_bytes(CONTENT)


@pytest.fixture(scope="module")
def real(pki) -> RealPki:
    if OPENSSL is None:
        pytest.skip("the openssl command-line tool is not installed")
    return RealPki(pki.INDIVIDUAL)


def openssl_verify(directory: Path, signature: bytes, content: bytes | None) -> subprocess.CompletedProcess:
    (directory / "sig.der").write_bytes(signature)
    # -cades: also require and check the ESS signingCertificateV2 attribute (OpenSSL 3)
    args = ["cms", "-verify", *CADES, "-inform", "DER", "-in", "sig.der", "-CAfile", "chain.pem",
            "-purpose", "any", "-binary", "-out", "out.bin"]
    if content is not None:
        (directory / "detached.bin").write_bytes(content)
        args += ["-content", "detached.bin"]
    return openssl(*args, cwd=directory)


@needs_openssl
@pytest.mark.parametrize("kind", ["rsa", "ec"])
@pytest.mark.parametrize("detached", [False, True])
def test_openssl_verifies_our_signatures(real, tmp_path, kind, detached):
    real.write(tmp_path, kind)
    at = real.now - timedelta(minutes=5)
    signature = sign_cms(CONTENT, real.keys[kind], [real.certs[kind], real.ca], at=at, detached=detached)
    done = openssl_verify(tmp_path, signature, CONTENT if detached else None)
    assert done.returncode == 0, done.stderr.decode()
    assert b"Verification successful" in done.stderr
    if not detached:
        assert (tmp_path / "out.bin").read_bytes() == CONTENT
    # one byte of the content changed: openssl refuses too
    if detached:
        changed = bytearray(CONTENT)
        changed[7] ^= 0x01
        done = openssl_verify(tmp_path, signature, bytes(changed))
    else:
        done = openssl_verify(tmp_path, flip_byte_of(signature, CONTENT, 7), None)
    assert done.returncode != 0
    assert b"Verification failure" in done.stderr


@needs_openssl
def test_openssl_checks_our_signing_certificate_v2(real, tmp_path):
    """With -cades OpenSSL 3 checks the ESS attribute; one naming another certificate is refused."""
    real.write(tmp_path, "ec")
    signature = sign_cms(CONTENT, real.keys["ec"], [real.certs["ec"], real.ca], at=real.now)

    def wrong_hash(attrs):
        out = []
        for attr in attrs:
            if attr["type"].native == "signing_certificate_v2":
                value = attr["values"][0]
                value["certs"][0]["cert_hash"] = b"\x00" * 32
                attr = cms.CMSAttribute({"type": "signing_certificate_v2", "values": [value]})
            out.append(attr)
        return out

    forged = resign(signature, real.keys["ec"], wrong_hash)
    ours = verify_cms(forged, trusted_roots=[real.root], at=real.now)
    assert ours.verdict.code == VerdictCode.SIGNATURE_MISMATCH
    if not CADES:
        pytest.skip(f"{OPENSSL_VERSION.strip()} has no cms -verify -cades")
    assert openssl_verify(tmp_path, forged, None).returncode != 0
    assert openssl_verify(tmp_path, signature, None).returncode == 0


@needs_openssl
def test_openssl_prints_our_signing_time(real, tmp_path):
    at = datetime(2025, 3, 20, 15, 4, 5, tzinfo=timezone.utc)
    signature = sign_cms(CONTENT, real.keys["rsa"], [real.certs["rsa"], real.ca], at=at)
    (tmp_path / "sig.der").write_bytes(signature)
    done = openssl("cms", "-cmsout", "-print", "-inform", "DER", "-in", "sig.der", cwd=tmp_path)
    assert done.returncode == 0, done.stderr.decode()
    text = done.stdout.decode("utf-8", "replace")
    assert f"UTCTIME:{MONTHS[at.month - 1]} {at.day:2d} {at:%H:%M:%S} {at.year} GMT" in text
    assert "signingTime" in text and "messageDigest" in text and "contentType" in text
    assert "signingCertificateV2" in text
    assert "version: 1" in text


OPENSSL_SIGN_OPTIONS = {
    "attached": ["-nodetach"],
    "detached": [],
    "attached-noattr": ["-nodetach", "-noattr"],
    "detached-noattr": ["-noattr"],
    "attached-cades": ["-nodetach", "-cades"],
    "detached-keyid": ["-keyid"],
    "attached-stream-ber": ["-nodetach", "-stream"],
}


@needs_openssl
@pytest.mark.parametrize("kind", ["rsa", "ec"])
@pytest.mark.parametrize("variant", list(OPENSSL_SIGN_OPTIONS))
def test_openssl_signatures_verify_with_us(real, tmp_path, kind, variant):
    real.write(tmp_path, kind)
    options = OPENSSL_SIGN_OPTIONS[variant]
    done = openssl(
        "cms", "-sign", "-binary", *options, "-md", "sha256", "-in", "content.bin",
        "-signer", "cert.pem", "-inkey", "key.pem", "-certfile", "ca.pem",
        "-outform", "DER", "-out", "sig.der", cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr.decode()
    signature = (tmp_path / "sig.der").read_bytes()
    detached = "-nodetach" not in options
    at = datetime.now(timezone.utc)
    result = verify_cms(signature, CONTENT if detached else None, trusted_roots=[real.root], at=at)
    assert result.valid, result.verdict.message
    assert result.content == CONTENT
    assert result.certificate == real.certs[kind]
    assert result.verdict.signer["iin"] == "900101300126"
    if "-noattr" in options:
        assert result.signing_time is None
    else:
        assert abs(result.signing_time - at) < timedelta(minutes=5)
    # the PEM form openssl writes is accepted too
    pem = base64.encodebytes(signature).decode()
    assert verify_cms(f"-----BEGIN CMS-----\n{pem}-----END CMS-----\n", CONTENT if detached else None,
                      trusted_roots=[real.root], at=at).valid
    # and a changed content is refused
    changed = bytearray(CONTENT)
    changed[7] ^= 0x01
    if detached:
        bad = verify_cms(signature, bytes(changed), trusted_roots=[real.root], at=at)
        assert bad.verdict.code == VerdictCode.SIGNATURE_MISMATCH
    elif variant != "attached-stream-ber":
        bad = verify_cms(flip_byte_of(signature, CONTENT, 7), trusted_roots=[real.root], at=at)
        assert bad.verdict.code == VerdictCode.SIGNATURE_MISMATCH


# --------------------------------------------------------------------------- proven signatures


@pytest.mark.parametrize("detached", [False, True])
def test_a_proven_signature_is_not_checked_again_and_changed_bytes_are(s, detached, monkeypatch):
    cms_module.clear_caches()
    calls = []
    checked = cms_module._signature_matches
    monkeypatch.setattr(cms_module, "_signature_matches", lambda parsed: calls.append(1) or checked(parsed))
    signature = s.sign(detached=detached)
    content = CONTENT if detached else None
    assert s.verify(signature, content).valid and s.verify(signature, content).valid
    assert len(calls) == 1  # the second check found it proven
    if detached:  # other content under the same signature: checked, and refused
        assert s.verify(signature, CONTENT + b"!").verdict.code == VerdictCode.SIGNATURE_MISMATCH
    tampered = flip_byte_of(signature, CONTENT) if not detached else signature[:-1] + bytes([signature[-1] ^ 1])
    assert s.verify(tampered, content).verdict.code == VerdictCode.SIGNATURE_MISMATCH
    assert len(calls) == (1 if not detached else 2)  # a changed content fails its digest first
    # the time is decided at each check
    later = s.verify(signature, content, at=s.check_at + timedelta(days=365 * 30))
    assert later.verdict.code == VerdictCode.CERT_EXPIRED


def test_proven_signatures_are_remembered_up_to_a_bound(s, monkeypatch):
    cms_module.clear_caches()
    monkeypatch.setattr(cms_module, "PROVEN_REMEMBERED", 2)
    for n in range(4):
        assert s.verify(s.sign(content=b"%d" % n)).valid
    assert len(cms_module._proven) == 2
    cms_module.clear_caches()
    assert not cms_module._proven
