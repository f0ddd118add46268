"""CMS (RFC 5652) SignedData signatures, CAdES-BES style: the format of citizens' documents.

Business documents that citizens sign with NCALayer (``format: "cms"``) are CMS
signatures; this module makes and checks them for the simulation. :func:`sign_cms`
writes its one fixed structure as DER itself, a few dozen TLVs (asn1crypto took
~1.2 ms a signature to build it from objects, three times the RSA signature;
``tests/signatures/test_signatures_cms.py`` holds it to asn1crypto's DER of the
same structure byte for byte); signatures are parsed with ``asn1crypto``; the key
operations use ``cryptography``.

What :func:`sign_cms` produces (DER)::

    ContentInfo { contentType id-signedData,
      SignedData { version 1, digestAlgorithms { sha256 (parameters absent, RFC 5754) },
        encapContentInfo { id-data, eContent = the content (absent when detached) },
        certificates = the chain given (signer, issuing CA[s]; a DER SET OF, so sorted),
        signerInfos { SignerInfo { version 1, sid issuerAndSerialNumber, digestAlgorithm sha256,
          signedAttrs { contentType id-data, signingTime, messageDigest,
                        signingCertificateV2 (RFC 5035: SHA-256 hash of the signer's
                        certificate + issuerSerial) },
          signatureAlgorithm sha256WithRSAEncryption (RSA) | ecdsa-with-SHA256 (EC),
          signature over the DER ``SET OF`` the signed attributes } } } }

``signingTime`` is the simulation's virtual time ``at`` (whole seconds, UTCTime
for 1950-2049, GeneralizedTime otherwise, RFC 5652 §11.3); nothing here reads
the wall clock.

:func:`verify_cms` never raises for bad input; its :class:`CmsResult` carries a
:class:`~signatures.verdicts.Verdict` whose code is the first failed rule:

1. ``MALFORMED``: not a (BER/DER) ContentInfo with SignedData (PEM with a
   ``CMS`` / ``PKCS7`` label is accepted too); not exactly one SignerInfo;
   eContentType other than id-data; detached without content given; attached
   and a different content given; the signer's certificate (by
   issuerAndSerialNumber or subjectKeyIdentifier) not in ``certificates``;
   unsupported digest (SHA-256/384/512 are supported) or signature algorithm
   (RSA PKCS#1 v1.5 as rsaEncryption or shaNNNWithRSAEncryption, ECDSA with
   SHA-2) or one that does not fit the signer's key; the unsigned fields that
   must agree (SignedData / SignerInfo version, the digest in
   digestAlgorithms, algorithm parameters NULL or absent); missing or repeated
   contentType / messageDigest, contentType not id-data, unreadable signingTime.
2. ``SIGNATURE_MISMATCH``: messageDigest differs from the content's digest,
   the signature does not verify, or the ESS signingCertificateV2 (or v1)
   attribute names another certificate.
3. ``CHAIN_NOT_TRUSTED``, ``CERT_NOT_YET_VALID`` / ``CERT_EXPIRED``,
   ``WRONG_KEY_USAGE``: :mod:`signatures.chain` on the signer's certificate and
   the other certificates of the set (in any order), at the virtual time ``at``.

Signatures without signed attributes (the signature is then over the content
itself, RFC 5652 §5.4) and without the ESS attribute (plain CMS, e.g.
``openssl cms -sign`` without ``-cades``) are accepted; when the ESS attribute
is present it must match. Revocation (CRL / OCSP) and signature time-stamps
(CAdES-T) are not checked here.

The signed attributes and the certificates are verified byte for byte as
received (BER input, e.g. ``openssl cms -sign -stream``, is accepted), never
as re-encoded by asn1crypto. Certificates, trust paths (keyed by the
certificates and the trust anchors) and signer details are cached, so a repeat
signer costs parsing (~0.3 ms) plus one signature check.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Literal, Sequence

from asn1crypto import algos, cms, core, parser
from asn1crypto import tsp  # noqa: F401  # registers the ESS signing-certificate attributes, which verify_cms reads
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from .certificates import PrivateKey, subject_info
from .chain import CertPath, build_path, check_certificate, verification_arguments
from .verdicts import Verdict, VerdictCode

__all__ = ["CmsResult", "sign_cms", "verify_cms", "clear_caches"]

_log = logging.getLogger(__name__)

_MAX_SIGNATURE_LENGTH = 64 * 1024 * 1024
_MAX_CERTIFICATES = 20

# id-sha256 with absent parameters (RFC 5754 §2: SHOULD omit them)
_SHA256_ALGORITHM_DER = bytes.fromhex("300b0609608648016503040201")
# What sign_cms writes, as DER made once by asn1crypto: the signature algorithms (RSA's with NULL
# parameters, ECDSA's without), the object identifiers, version 1, the contentType attribute
_SHA256_RSA_DER = algos.SignedDigestAlgorithm({"algorithm": "sha256_rsa"}).dump()
_SHA256_ECDSA_DER = algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"}).dump()
_SIGNED_DATA_OID = cms.ContentType("signed_data").dump()
_DATA_OID = cms.ContentType("data").dump()
_SIGNING_TIME_OID = cms.CMSAttributeType("signing_time").dump()
_MESSAGE_DIGEST_OID = cms.CMSAttributeType("message_digest").dump()
_SIGNING_CERTIFICATE_V2_OID = cms.CMSAttributeType("signing_certificate_v2").dump()
_VERSION_1 = core.Integer(1).dump()
_CONTENT_TYPE_DATA_ATTRIBUTE = cms.CMSAttribute({"type": "content_type", "values": ["data"]}).dump()

_DIGESTS: dict[str, tuple[hashes.HashAlgorithm, str]] = {
    "2.16.840.1.101.3.4.2.1": (hashes.SHA256(), "sha256"),
    "2.16.840.1.101.3.4.2.2": (hashes.SHA384(), "sha384"),
    "2.16.840.1.101.3.4.2.3": (hashes.SHA512(), "sha512"),
}
_RSA_ENCRYPTION = "1.2.840.113549.1.1.1"
# signature algorithm OID -> (key kind, digest OID it implies)
_SIGNATURE_ALGORITHMS: dict[str, tuple[str, str]] = {
    "1.2.840.113549.1.1.11": ("rsa", "2.16.840.1.101.3.4.2.1"),
    "1.2.840.113549.1.1.12": ("rsa", "2.16.840.1.101.3.4.2.2"),
    "1.2.840.113549.1.1.13": ("rsa", "2.16.840.1.101.3.4.2.3"),
    "1.2.840.10045.4.3.2": ("ec", "2.16.840.1.101.3.4.2.1"),
    "1.2.840.10045.4.3.3": ("ec", "2.16.840.1.101.3.4.2.2"),
    "1.2.840.10045.4.3.4": ("ec", "2.16.840.1.101.3.4.2.3"),
}
_PKCS1 = padding.PKCS1v15()
_SHA256 = hashes.SHA256()

_PEM = re.compile(
    rb"-----BEGIN (CMS|PKCS7|PKCS #7 SIGNED DATA)-----\s*(.*?)\s*-----END \1-----", re.DOTALL
)

_Usage = Literal["sign", "auth"]


@dataclass(frozen=True, slots=True)
class CmsResult:
    """The outcome of :func:`verify_cms`.

    ``verdict.signer`` is the signer certificate's subject info once the
    signature has been proven to be made with its key. ``content`` is the signed
    content (attached, or the one given); ``signing_time`` the signingTime
    attribute (aware UTC), if any; ``certificate`` the signer's certificate when
    it was found in the signature.
    """

    verdict: Verdict
    content: bytes | None = None
    signing_time: datetime | None = None
    certificate: x509.Certificate | None = None

    @property
    def valid(self) -> bool:
        return self.verdict.valid


# --------------------------------------------------------------------------- caches


@lru_cache(maxsize=1024)
def _load_certificate(der: bytes) -> x509.Certificate:
    return x509.load_der_x509_certificate(der)


@lru_cache(maxsize=1024)
def _path(certs: tuple[x509.Certificate, ...], roots: tuple[x509.Certificate, ...]) -> CertPath | str:
    return build_path(certs, roots)


@lru_cache(maxsize=1024)
def _signer_info(cert: x509.Certificate) -> dict[str, Any]:
    return subject_info(cert)


@lru_cache(maxsize=256)
def _signing_parts(
    key: PrivateKey, chain: tuple[x509.Certificate, ...]
) -> tuple[bytes, bytes, bytes, bytes]:
    """DER of the certificate set's members (sorted, as a DER SET OF), the sid, the
    signingCertificateV2 attribute, and the signature algorithm."""
    if not chain:
        raise ValueError("chain must hold at least the signer's certificate")
    for cert in chain:
        if not isinstance(cert, x509.Certificate):
            raise TypeError("chain must hold x509.Certificate objects")
    if isinstance(key, rsa.RSAPrivateKey):
        algorithm = _SHA256_RSA_DER
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        algorithm = _SHA256_ECDSA_DER
    else:
        raise TypeError(f"key must be an RSA or EC private key, got {type(key).__name__}")
    if chain[0].public_key() != key.public_key():
        raise ValueError("the private key does not belong to chain[0]")
    ders = [cert.public_bytes(Encoding.DER) for cert in chain]
    serial, issuer = _serial_and_issuer(chain[0].tbs_certificate_bytes)
    sid = _tlv(0x30, issuer + serial)  # issuerAndSerialNumber
    issuer_serial = _tlv(0x30, _tlv(0x30, _tlv(0xA4, issuer)) + serial)  # GeneralNames { directoryName }
    cert_id = _tlv(0x30, _tlv(0x04, hashlib.sha256(ders[0]).digest()) + issuer_serial)  # hashAlgorithm: DEFAULT sha256
    ess = _tlv(0x30, _SIGNING_CERTIFICATE_V2_OID + _tlv(0x31, _tlv(0x30, _tlv(0x30, cert_id))))
    return b"".join(sorted(ders)), sid, ess, algorithm


def _tlv(tag: int, content: bytes) -> bytes:
    """One DER TLV: ``tag`` (one octet) and the definite length of ``content``."""
    length = len(content)
    if length < 0x80:
        return bytes((tag, length)) + content
    octets = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(octets))) + octets + content


def _next_tlv(der: bytes, at: int) -> int:
    """Where the DER TLV starting at ``at`` ends."""
    length = der[at + 1]
    if length < 0x80:
        return at + 2 + length
    count = length & 0x7F
    return at + 2 + count + int.from_bytes(der[at + 2:at + 2 + count], "big")


def _serial_and_issuer(tbs: bytes) -> tuple[bytes, bytes]:
    """The serialNumber and issuer TLVs of a TBSCertificate, as the certificate holds them."""
    at = 2 + (tbs[1] & 0x7F if tbs[1] & 0x80 else 0)  # the first field, past the SEQUENCE's header
    if tbs[at] == 0xA0:  # [0] version
        at = _next_tlv(tbs, at)
    serial_end = _next_tlv(tbs, at)
    serial = tbs[at:serial_end]
    issuer_at = _next_tlv(tbs, serial_end)  # past the signature AlgorithmIdentifier
    return serial, tbs[issuer_at:_next_tlv(tbs, issuer_at)]


def clear_caches() -> None:
    """Forget cached certificates, paths and signer parts (never needed for correctness)."""
    _load_certificate.cache_clear()
    _path.cache_clear()
    _signer_info.cache_clear()
    _signing_parts.cache_clear()
    with _proven_lock:
        _proven.clear()


# --------------------------------------------------------------------------- signing


def _signing_time(at: datetime) -> bytes:
    """The signingTime value (DER): UTCTime for 1950-2049, else GeneralizedTime (RFC 5652 §11.3)."""
    at = at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at.astimezone(timezone.utc)
    if 1950 <= at.year < 2050:
        return _tlv(0x17, at.strftime("%y%m%d%H%M%SZ").encode("ascii"))
    return _tlv(0x18, f"{at.year:04d}{at:%m%d%H%M%S}Z".encode("ascii"))


def sign_cms(
    content: bytes,
    key: PrivateKey,
    chain: Sequence[x509.Certificate],
    *,
    at: datetime,
    detached: bool = False,
) -> bytes:
    """A CMS SignedData (DER) over ``content`` by ``key``, whose certificate is ``chain[0]``.

    ``chain`` is the signer's certificate followed by the issuing CA(s); all of
    it goes into ``certificates``. ``at`` (the virtual time) becomes the
    signingTime attribute. ``detached=True`` leaves the content out. Raises
    ``TypeError`` / ``ValueError`` when the arguments do not fit.
    """
    if not isinstance(content, (bytes, bytearray, memoryview)):
        raise TypeError(f"content must be bytes, got {type(content).__name__}")
    if not isinstance(at, datetime):
        raise TypeError("at must be a datetime")
    content = bytes(content)
    certificates, sid, ess, algorithm = _signing_parts(key, tuple(chain))
    attributes = b"".join(sorted((  # a DER SET OF: its members in the order of their encodings
        _CONTENT_TYPE_DATA_ATTRIBUTE,
        _tlv(0x30, _SIGNING_TIME_OID + _tlv(0x31, _signing_time(at))),
        _tlv(0x30, _MESSAGE_DIGEST_OID + _tlv(0x31, _tlv(0x04, hashlib.sha256(content).digest()))),
        ess,
    )))
    to_sign = _tlv(0x31, attributes)  # the signature is over the SET OF, not its [0] in SignerInfo
    if algorithm is _SHA256_RSA_DER:
        signature = key.sign(to_sign, _PKCS1, _SHA256)  # type: ignore[call-arg]
    else:
        signature = key.sign(to_sign, ec.ECDSA(_SHA256))  # type: ignore[call-arg]
    signer_info = _tlv(0x30, _VERSION_1 + sid + _SHA256_ALGORITHM_DER + _tlv(0xA0, attributes) + algorithm
                       + _tlv(0x04, signature))
    encap = _DATA_OID if detached else _DATA_OID + _tlv(0xA0, _tlv(0x04, content))
    signed_data = _tlv(0x30, _VERSION_1 + _tlv(0x31, _SHA256_ALGORITHM_DER) + _tlv(0x30, encap)
                       + _tlv(0xA0, certificates) + _tlv(0x31, signer_info))
    return _tlv(0x30, _SIGNED_DATA_OID + _tlv(0xA0, signed_data))


# --------------------------------------------------------------------------- verification


class _Malformed(Exception):
    """Raised inside the parser; becomes a MALFORMED verdict."""


def _der(signature: Any) -> bytes:
    if isinstance(signature, str):
        try:
            signature = signature.encode("ascii")
        except UnicodeEncodeError:
            raise _Malformed("the signature text is not ASCII PEM") from None
    if not isinstance(signature, (bytes, bytearray, memoryview)):
        raise _Malformed("the signature is not bytes")
    data = bytes(signature)
    if len(data) > _MAX_SIGNATURE_LENGTH:
        raise _Malformed("the signature is too long")
    stripped = data.lstrip()
    if stripped.startswith(b"-----BEGIN"):
        match = _PEM.match(stripped)
        if not match:
            raise _Malformed("not a CMS / PKCS7 PEM block")
        try:
            return base64.b64decode(re.sub(rb"\s+", b"", match.group(2)), validate=True)
        except (ValueError, binascii.Error):
            raise _Malformed("the PEM body is not base64") from None
    return data


def _octets(value: Any) -> bytes:
    """The bytes of an (eContent) OCTET STRING, primitive or constructed."""
    if isinstance(value, core.Any):
        value = value.parse(core.OctetString)
    native = value.native
    if isinstance(native, (bytes, bytearray)):
        return bytes(native)
    if isinstance(value, core.ParsableOctetString):
        return bytes(value.__bytes__())
    raise _Malformed("eContent is not an OCTET STRING")


def _null_or_absent(parameters: Any) -> bool:
    """RFC 4055 / 5754: the parameters of SHA-2 and RSA PKCS#1 v1.5 are NULL or absent."""
    if isinstance(parameters, (core.Void, core.Null)):
        return True
    return isinstance(parameters, core.Any) and parameters.dump() == b"\x05\x00"


def _single(attrs: dict[str, list[Any]], name: str, required: bool) -> Any:
    values = attrs.get(name)
    if values is None:
        if required:
            raise _Malformed(f"the {name} signed attribute is missing")
        return None
    if len(values) != 1:
        raise _Malformed(f"the {name} signed attribute must occur once with one value")
    return values[0]


def _find_signer(sid: cms.SignerIdentifier, certs: list[x509.Certificate]) -> x509.Certificate | None:
    """The certificate that ``sid`` (issuerAndSerialNumber or subjectKeyIdentifier) names."""
    if sid.name == "issuer_and_serial_number":
        issuer = sid.chosen["issuer"]
        serial = sid.chosen["serial_number"].native
        wanted = issuer.dump()
        for cert in certs:
            if cert.serial_number != serial:
                continue
            try:
                encoded = cert.issuer.public_bytes()
            except ValueError:
                continue
            if encoded == wanted or asn1_x509.Name.load(encoded) == issuer:
                return cert
        return None
    if sid.name == "subject_key_identifier":
        wanted = sid.chosen.native
        for cert in certs:
            try:
                ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            except (x509.ExtensionNotFound, ValueError):
                continue
            if ski.digest == wanted:
                return cert
        return None
    raise _Malformed("unknown signer identifier")


def _children(contents: bytes) -> list[tuple[int, int, int, bytes, bytes, bytes]]:
    """The (class, constructed, tag, header, contents, trailer) of each value in ``contents``."""
    items = []
    while contents:
        length = parser.peek(contents)
        items.append(parser.parse(contents[:length], strict=True))
        contents = contents[length:]
    return items


def _received_parts(data: bytes) -> tuple[list[bytes], bytes | None]:
    """The certificates' encodings and the signedAttrs contents, byte for byte as received.

    asn1crypto's ``dump()`` re-encodes values it normalised while parsing (it
    adds NULL parameters to some AlgorithmIdentifiers, for one), which would
    change a certificate or the signed attributes; so their bytes are taken from
    the input with asn1crypto's low-level parser, along the structure that
    ``cms.ContentInfo`` has already validated.
    """
    content_info = parser.parse(data, strict=True)[4]
    explicit = _children(content_info)[1]  # [0] EXPLICIT SignedData
    signed_data = _children(explicit[4])[0][4]
    fields = _children(signed_data)
    certificates: list[bytes] = []
    for class_, _, tag, _, contents, _ in fields[3:-1]:  # between encapContentInfo and signerInfos
        if class_ == 2 and tag == 0:  # [0] IMPLICIT CertificateSet
            certificates = [
                header + inner + trailer
                for inner_class, _, inner_tag, header, inner, trailer in _children(contents)
                if (inner_class, inner_tag) == (0, 16)  # the `certificate` choice (a SEQUENCE)
            ]
    signer_info = _children(_children(fields[-1][4])[0][4])
    for class_, _, tag, _, contents, _ in signer_info[3:]:  # after version, sid, digestAlgorithm
        if class_ == 2 and tag == 0:  # [0] IMPLICIT signedAttrs
            return certificates, contents
    return certificates, None


@dataclass(frozen=True, slots=True)
class _EssCertId:
    """The first certificate id of an ESS signing-certificate attribute (RFC 2634 / 5035)."""

    hash_name: str
    cert_hash: bytes
    serial: int | None
    issuers: tuple[bytes, ...]  # DER (RDNSequence) of the directoryName issuers, if any


def _ess_cert_id(version: str, value: Any) -> _EssCertId:
    ids = value["certs"]
    if len(ids) == 0:
        raise _Malformed("the signing-certificate attribute lists no certificate")
    first = ids[0]  # RFC 5035 §5.4: the first one identifies the signer's certificate
    if version == "v2":
        hash_oid = first["hash_algorithm"]["algorithm"].dotted
        if hash_oid not in _DIGESTS:
            raise _Malformed(f"unsupported signingCertificateV2 hash algorithm {hash_oid}")
        hash_name = _DIGESTS[hash_oid][1]
    else:
        hash_name = "sha1"
    serial = None
    issuers: tuple[bytes, ...] = ()
    issuer_serial = first["issuer_serial"]
    if not isinstance(issuer_serial, core.Void):
        serial = issuer_serial["serial_number"].native
        issuers = tuple(
            name.chosen.chosen.dump()  # the RDNSequence, without GeneralName's [4] tag
            for name in issuer_serial["issuer"]
            if name.name == "directory_name"
        )
    return _EssCertId(hash_name, first["cert_hash"].native, serial, issuers)


def _ess_problem(ess: _EssCertId, cert: x509.Certificate) -> str | None:
    """Why the ESS signing-certificate attribute does not name ``cert``, or None."""
    der = cert.public_bytes(Encoding.DER)
    if hashlib.new(ess.hash_name, der).digest() != ess.cert_hash:
        return "the signing-certificate attribute names another certificate"
    if ess.serial is not None and ess.serial != cert.serial_number:
        return "the signing-certificate attribute names another serial number"
    if ess.issuers:
        issuer = asn1_x509.Certificate.load(der).issuer
        wanted = issuer.chosen.dump()
        if not any(
            candidate == wanted or asn1_x509.Name.load(candidate) == issuer
            for candidate in ess.issuers
        ):
            return "the signing-certificate attribute names another issuer"
    return None


@dataclass(slots=True)
class _Parsed:
    content: bytes
    signing_time: datetime | None
    signer: x509.Certificate
    others: tuple[x509.Certificate, ...]
    digest: hashes.HashAlgorithm
    digest_name: str
    key_kind: str
    signed_input: bytes
    signature: bytes
    message_digest: bytes | None
    ess: _EssCertId | None


def _parse(data: bytes, content: bytes | None) -> _Parsed:
    info = cms.ContentInfo.load(data, strict=True)
    if info["content_type"].dotted != "1.2.840.113549.1.7.2":
        raise _Malformed("not a CMS SignedData (contentType is not id-signedData)")
    signed_data = info["content"]
    if not isinstance(signed_data, cms.SignedData):
        raise _Malformed("not a CMS SignedData")
    signer_infos = signed_data["signer_infos"]
    if len(signer_infos) != 1:
        raise _Malformed(f"expected exactly one SignerInfo, found {len(signer_infos)}")
    signer_info = signer_infos[0]
    if signed_data["version"].native not in ("v1", "v3", "v4", "v5"):
        raise _Malformed(f"unsupported SignedData version {signed_data['version'].native}")
    sid_kind = signer_info["sid"].name
    expected_version = "v1" if sid_kind == "issuer_and_serial_number" else "v3"
    if signer_info["version"].native != expected_version:
        raise _Malformed(f"a SignerInfo with {sid_kind} must be {expected_version}")

    # the content
    encap = signed_data["encap_content_info"]
    if encap["content_type"].dotted != "1.2.840.113549.1.7.1":
        raise _Malformed(f"unsupported eContentType {encap['content_type'].dotted}")
    if isinstance(encap["content"], core.Void):
        if content is None:
            raise _Malformed("the signature is detached and no content was given")
    else:
        attached = _octets(encap["content"])
        if content is not None and content != attached:
            raise _Malformed("the content given differs from the content in the signature")
        content = attached

    # the certificates (as received) and the signer's one
    raw_certificates, raw_signed_attrs = _received_parts(data)
    if len(raw_certificates) > _MAX_CERTIFICATES:
        raise _Malformed(f"more than {_MAX_CERTIFICATES} certificates")
    certificates = []
    for der in raw_certificates:
        try:
            certificates.append(_load_certificate(der))
        except (ValueError, x509.InvalidVersion):
            continue  # an unreadable certificate can be neither the signer's nor in a path
    signer = _find_signer(signer_info["sid"], certificates)
    if signer is None:
        raise _Malformed("the signer's certificate is not in the signature")
    others = [cert for cert in certificates if cert is not signer]

    # algorithms
    digest_oid = signer_info["digest_algorithm"]["algorithm"].dotted
    if digest_oid not in _DIGESTS:
        raise _Malformed(f"unsupported digest algorithm {digest_oid}")
    if not _null_or_absent(signer_info["digest_algorithm"]["parameters"]):
        raise _Malformed("the digest algorithm has parameters")
    if digest_oid not in {d["algorithm"].dotted for d in signed_data["digest_algorithms"]}:
        raise _Malformed("the signer's digest algorithm is not in digestAlgorithms")
    digest, digest_name = _DIGESTS[digest_oid]
    signature_algorithm = signer_info["signature_algorithm"]
    signature_oid = signature_algorithm["algorithm"].dotted
    if signature_oid == _RSA_ENCRYPTION:
        key_kind = "rsa"
    elif signature_oid in _SIGNATURE_ALGORITHMS:
        key_kind, implied = _SIGNATURE_ALGORITHMS[signature_oid]
        if implied != digest_oid:
            raise _Malformed("the signature algorithm's hash differs from the digest algorithm")
    else:
        raise _Malformed(f"unsupported signature algorithm {signature_oid}")
    parameters = signature_algorithm["parameters"]
    if not (_null_or_absent(parameters) if key_kind == "rsa" else isinstance(parameters, core.Void)):
        raise _Malformed("unexpected signature algorithm parameters")
    try:
        public_key = signer.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise _Malformed(f"the signer's key cannot be read ({str(exc)[:200]})") from None
    expected = rsa.RSAPublicKey if key_kind == "rsa" else ec.EllipticCurvePublicKey
    if not isinstance(public_key, expected):
        raise _Malformed("the signature algorithm does not fit the signer's key")

    # signed attributes
    signed_attrs = signer_info["signed_attrs"]
    signing_time = None
    message_digest = None
    ess = None
    if isinstance(signed_attrs, core.Void):
        signed_input = content
    else:
        attrs: dict[str, list[Any]] = {}
        for attr in signed_attrs:
            name = attr["type"].native
            if name in attrs:
                raise _Malformed(f"the {name} signed attribute is repeated")
            attrs[name] = list(attr["values"])
        content_type = _single(attrs, "content_type", True)
        if content_type.dotted != "1.2.840.113549.1.7.1":
            raise _Malformed("the contentType attribute is not id-data")
        message_digest = _single(attrs, "message_digest", True).native
        time_value = _single(attrs, "signing_time", False)
        if time_value is not None:
            signing_time = time_value.native
            if not isinstance(signing_time, datetime):
                raise _Malformed("the signingTime attribute cannot be read")
            signing_time = signing_time.astimezone(timezone.utc)
        v2 = _single(attrs, "signing_certificate_v2", False)
        v1 = _single(attrs, "signing_certificate", False)
        if v2 is not None:
            ess = _ess_cert_id("v2", v2)
        elif v1 is not None:
            ess = _ess_cert_id("v1", v1)
        if raw_signed_attrs is None:  # cannot happen: asn1crypto found them
            raise _Malformed("the signed attributes cannot be located")
        # the signature covers the attributes as received, with the universal SET OF tag
        # in place of [0] IMPLICIT (RFC 5652 §5.4)
        signed_input = parser.emit(0, 1, 17, raw_signed_attrs)
    return _Parsed(
        content=content,
        signing_time=signing_time,
        signer=signer,
        others=tuple(others),
        digest=digest,
        digest_name=digest_name,
        key_kind=key_kind,
        signed_input=signed_input,
        signature=signer_info["signature"].native,
        message_digest=message_digest,
        ess=ess,
    )


def _signature_matches(parsed: _Parsed) -> bool:
    public_key: Any = parsed.signer.public_key()
    try:
        if parsed.key_kind == "rsa":
            public_key.verify(parsed.signature, parsed.signed_input, _PKCS1, parsed.digest)
        else:
            public_key.verify(parsed.signature, parsed.signed_input, ec.ECDSA(parsed.digest))
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


def verify_cms(
    signature: bytes,
    content: bytes | None = None,
    *,
    trusted_roots: Sequence[x509.Certificate],
    at: datetime,
    usage: _Usage | None = "sign",
) -> CmsResult:
    """Check a CMS SignedData ``signature`` (DER, or PEM) over ``content``.

    ``content`` is needed for a detached signature; for an attached one it may
    be left out (when given it must equal the attached content). ``at`` is the
    (virtual) moment of the check, ``usage`` the key usage the signer's
    certificate must allow (None: any). Never raises for bad input; raises only
    for a wrong ``at`` / ``usage`` / ``trusted_roots`` argument.
    """
    at, roots = verification_arguments(at, usage, trusted_roots)
    try:
        return _verify(signature, content, roots, at, usage)
    except Exception as exc:  # a gateway must answer with a verdict, not a crash
        _log.exception("unexpected error while verifying a CMS signature")
        return CmsResult(
            Verdict.fail(VerdictCode.MALFORMED, f"unexpected error: {type(exc).__name__}")
        )


PROVEN_REMEMBERED = 2048
"""How many signatures :func:`verify_cms` remembers as proven over their content."""

_proven: OrderedDict[bytes, _Parsed] = OrderedDict()
"""By the SHA-256 of the signature's DER and of the detached content: signatures whose digest,
signature value and signing-certificate attribute were proven. These depend on the bytes alone,
and a citizen's signed application is checked by each system it reaches (a third of a run's
checks repeated one made before); the chain, the time and the key usage are decided at each."""
_proven_lock = threading.Lock()


def _mismatch(parsed: _Parsed) -> Verdict | None:
    """SIGNATURE_MISMATCH when the content, the signature value or the signing-certificate
    attribute does not fit; None when all do."""
    if parsed.message_digest is not None:
        if hashlib.new(parsed.digest_name, parsed.content).digest() != parsed.message_digest:
            return Verdict.fail(VerdictCode.SIGNATURE_MISMATCH, "the content's digest differs from messageDigest")
    if not _signature_matches(parsed):
        return Verdict.fail(VerdictCode.SIGNATURE_MISMATCH)
    if parsed.ess is not None:
        problem = _ess_problem(parsed.ess, parsed.signer)
        if problem:
            return Verdict.fail(VerdictCode.SIGNATURE_MISMATCH, problem)
    return None


def _verify(
    signature: Any,
    content: Any,
    roots: tuple[x509.Certificate, ...],
    at: datetime,
    usage: str | None,
) -> CmsResult:
    # 1. MALFORMED
    if content is not None:
        if not isinstance(content, (bytes, bytearray, memoryview)):
            return CmsResult(Verdict.fail(VerdictCode.MALFORMED, "the content is not bytes"))
        content = bytes(content)
    try:
        der = _der(signature)
        proof = hashlib.sha256(der).digest() + (b"" if content is None else hashlib.sha256(content).digest())
        with _proven_lock:
            parsed = _proven.get(proof)
        proven = parsed is not None
        if parsed is None:
            parsed = _parse(der, content)
    except _Malformed as exc:
        return CmsResult(Verdict.fail(VerdictCode.MALFORMED, str(exc)), content)
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, RecursionError) as exc:
        detail = f"not a CMS SignedData ({type(exc).__name__}: {str(exc)[:200]})"
        return CmsResult(Verdict.fail(VerdictCode.MALFORMED, detail), content)
    content = parsed.content

    def result(verdict: Verdict, certificate: x509.Certificate | None = None) -> CmsResult:
        return CmsResult(verdict, content, parsed.signing_time, certificate)

    # 2. SIGNATURE_MISMATCH (once proven for these bytes, proven: see _proven)
    if not proven:
        mismatch = _mismatch(parsed)
        if mismatch is not None:
            return result(mismatch, parsed.signer)
        with _proven_lock:
            _proven[proof] = parsed
            if len(_proven) > PROVEN_REMEMBERED:
                _proven.popitem(last=False)

    try:
        signer = dict(_signer_info(parsed.signer))
    except ValueError as exc:
        return result(
            Verdict.fail(VerdictCode.MALFORMED, f"the signer's certificate cannot be read ({exc})"),
            parsed.signer,
        )
    signer["roles"] = list(signer["roles"])

    # 3-5. CHAIN_NOT_TRUSTED, CERT_NOT_YET_VALID / CERT_EXPIRED, WRONG_KEY_USAGE
    path = _path((parsed.signer, *parsed.others), roots)
    failure = check_certificate(path, at=at, usage=usage, signer=signer)  # type: ignore[arg-type]
    if failure is not None:
        return result(failure, parsed.signer)
    return result(Verdict.ok(signer), parsed.signer)
