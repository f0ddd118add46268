"""Revocation of certificates: CRLs, an OCSP responder, and an OCSP client with a cache.

НУЦ РК publishes the status of its certificates over plain HTTP, both as CRLs
(a full CRL and a delta CRL) and through an OCSP responder. This module is the
simulator's version of both sides.

CRLs (RFC 5280 §5)
==================

:func:`build_crl` makes a full CRL (CRLNumber + AuthorityKeyIdentifier, one
CRLReason per entry unless the reason is ``unspecified``, which RFC 5280 says to
leave out) or, with ``delta_base``, a delta CRL carrying the critical
DeltaCRLIndicator(``delta_base``) extension (§5.2.4). ``removeFromCRL`` is only
accepted in a delta CRL. Signatures use SHA-256 with the issuer's RSA or EC key.

OCSP responder (RFC 6960)
=========================

:func:`answer_ocsp` turns a DER OCSPRequest into a DER OCSPResponse. It never
raises for bad input: an unparsable request (or one with several CertIDs, which
this simulator does not serve) gets ``malformedRequest``; a CertID whose issuer
is not one of ``issuers`` gets ``unauthorized``; a ``lookup`` that raises or
answers nonsense gets ``internalError``. The answer is signed by the issuing CA
itself (no delegated OCSP-signing certificate), the ResponderID is ``byKey``
(SHA-1 of the CA's public key), the CA certificate is carried in ``certs`` so
that ``openssl ocsp`` finds the signer, ``producedAt`` = ``thisUpdate`` = ``at``,
``nextUpdate`` = ``at + validity``, and a request nonce is echoed.

The response is DER-encoded here rather than with ``cryptography``'s
``OCSPResponseBuilder``, because that builder stamps ``producedAt`` with the
wall clock, and the simulation runs on a virtual clock. Responses are checked
against ``cryptography``'s parser and ``openssl ocsp`` in the tests.

OCSP client (:class:`RevocationChecker`)
========================================

Works as X-Road's security server does: an answer is cached per (issuer key
hash, serial) and reused without asking while ``at - thisUpdate <= freshness``
(1 hour by default), so a short responder outage does not stop the exchange.
Once the cached answer is older than that, the responder is asked again; if it
cannot answer (transport error, timeout, non-200, unparsable / unsuccessful /
wrongly signed response, CertID or nonce mismatch, a response that is already
expired or too old):

* ``policy="hard-fail"``: the status is ``"unknown"`` (``source="none"``), with
  ``detail`` saying why; a stale cached answer is *not* used.
* ``policy="soft-fail"``: the last cached answer is used whatever its age
  (``source="cache"``, ``detail`` says it is stale); with nothing cached the
  status is ``"unknown"`` with ``source="none"`` and a ``detail`` starting with
  ``"soft-fail: "``. **Soft-fail callers accept ``unknown``**: it is up to them to
  let the exchange proceed (the check's outcome is still recorded).

A ``"revoked"`` answer is cached for good: revocation is final, it is never
asked again. An ``"unknown"`` answer of the responder itself (it does not know
the serial) is an ordinary answer, cached like ``"good"``. Concurrent checks of
one certificate share a single request. The cache lives in the checker (one
entry per certificate ever checked, no eviction: :meth:`RevocationChecker.clear_cache`).
:meth:`RevocationChecker.forget` drops one certificate's answers at once: the CA's revocation
reaching a gateway before its cached "good" would expire.

All times are passed in (the simulation's virtual clock); a naive datetime is
taken to be UTC. Nothing here reads the wall clock.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import os
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Awaitable, Callable, Literal, Sequence

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import OCSPExtensionOID

from signatures.certificates import authority_key_id

__all__ = [
    "RevokedEntry",
    "build_crl",
    "crl_to_pem",
    "crl_to_der",
    "parse_reason",
    "REASON_NAMES",
    "CertStatusInfo",
    "answer_ocsp",
    "RevocationStatus",
    "RevocationChecker",
    "OCSP_REQUEST_CONTENT_TYPE",
    "OCSP_RESPONSE_CONTENT_TYPE",
]

OCSP_REQUEST_CONTENT_TYPE = "application/ocsp-request"
OCSP_RESPONSE_CONTENT_TYPE = "application/ocsp-response"

_UTC = timezone.utc
_PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=_UTC)
    return moment.astimezone(_UTC)


def _check_key(key: Any, what: str) -> None:
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise TypeError(f"{what} must be an RSA or EC private key, got {type(key).__name__}")


def _same_public_key(cert: x509.Certificate, key: _PrivateKey) -> bool:
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    return cert.public_key().public_bytes(der, spki) == key.public_key().public_bytes(der, spki)


# --------------------------------------------------------------------------- reasons

#: RFC 5280 CRLReason names (as written in the RFC) -> ReasonFlags.
REASON_NAMES: dict[str, x509.ReasonFlags] = {
    "unspecified": x509.ReasonFlags.unspecified,
    "keyCompromise": x509.ReasonFlags.key_compromise,
    "cACompromise": x509.ReasonFlags.ca_compromise,
    "affiliationChanged": x509.ReasonFlags.affiliation_changed,
    "superseded": x509.ReasonFlags.superseded,
    "cessationOfOperation": x509.ReasonFlags.cessation_of_operation,
    "certificateHold": x509.ReasonFlags.certificate_hold,
    "removeFromCRL": x509.ReasonFlags.remove_from_crl,
    "privilegeWithdrawn": x509.ReasonFlags.privilege_withdrawn,
    "aACompromise": x509.ReasonFlags.aa_compromise,
}

# RFC 5280 CRLReason codes (the ENUMERATED values; 7 is not used).
_REASON_CODES: dict[x509.ReasonFlags, int] = {
    x509.ReasonFlags.unspecified: 0,
    x509.ReasonFlags.key_compromise: 1,
    x509.ReasonFlags.ca_compromise: 2,
    x509.ReasonFlags.affiliation_changed: 3,
    x509.ReasonFlags.superseded: 4,
    x509.ReasonFlags.cessation_of_operation: 5,
    x509.ReasonFlags.certificate_hold: 6,
    x509.ReasonFlags.remove_from_crl: 8,
    x509.ReasonFlags.privilege_withdrawn: 9,
    x509.ReasonFlags.aa_compromise: 10,
}


def _fold(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch not in "_- \t")


_REASONS_FOLDED: dict[str, x509.ReasonFlags] = {_fold(n): f for n, f in REASON_NAMES.items()}


def parse_reason(text: str | x509.ReasonFlags) -> x509.ReasonFlags:
    """The :class:`~cryptography.x509.ReasonFlags` named by ``text``.

    Accepts the RFC 5280 names (``keyCompromise``, ``cACompromise``, ...) in any
    letter case, with or without ``_`` / ``-`` / spaces between the words
    (``key_compromise``, ``ca-compromise``, ``key compromise``), and a ReasonFlags
    member as is. Raises ValueError, listing the accepted names, for anything else.
    """
    if isinstance(text, x509.ReasonFlags):
        return text
    if isinstance(text, str):
        flag = _REASONS_FOLDED.get(_fold(text))
        if flag is not None and text.strip():
            return flag
    accepted = ", ".join(REASON_NAMES)
    raise ValueError(
        f"unknown revocation reason {text!r}; accepted (RFC 5280 names, snake_case also "
        f"accepted): {accepted}"
    )


# --------------------------------------------------------------------------- CRLs


@dataclass(frozen=True, slots=True)
class RevokedEntry:
    """One CRL entry. ``reason`` may also be given as text (see :func:`parse_reason`)."""

    serial: int
    revoked_at: datetime
    reason: x509.ReasonFlags | None = None

    def __post_init__(self) -> None:
        if self.reason is not None:
            object.__setattr__(self, "reason", parse_reason(self.reason))


def build_crl(
    issuer_cert: x509.Certificate,
    issuer_key: _PrivateKey,
    entries: Sequence[RevokedEntry],
    *,
    number: int,
    this_update: datetime,
    next_update: datetime,
    delta_base: int | None = None,
) -> x509.CertificateRevocationList:
    """A full CRL, or a delta CRL when ``delta_base`` (the base CRL's number) is given.

    Extensions: CRLNumber(``number``), AuthorityKeyIdentifier (from the issuer's
    SubjectKeyIdentifier), and for a delta CRL a critical
    DeltaCRLIndicator(``delta_base``), which must be lower than ``number``. Each
    entry carries a CRLReason unless its reason is None or ``unspecified``.
    Signed with SHA-256. Raises ValueError / TypeError for inconsistent input.
    """
    _check_key(issuer_key, "issuer_key")
    if not _same_public_key(issuer_cert, issuer_key):
        raise ValueError("issuer_key is not the key of issuer_cert")
    if number < 0:
        raise ValueError("the CRL number must not be negative")
    if delta_base is not None and not 0 <= delta_base < number:
        raise ValueError("delta_base must be a CRL number lower than the delta CRL's number")
    this_update, next_update = _utc(this_update), _utc(next_update)
    if next_update <= this_update:
        raise ValueError("next_update must be later than this_update")

    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer_cert.subject)
        .last_update(this_update)
        .next_update(next_update)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(authority_key_id(issuer_cert), critical=False)
    )
    if delta_base is not None:
        builder = builder.add_extension(x509.DeltaCRLIndicator(delta_base), critical=True)
    seen: set[int] = set()
    for entry in entries:
        if entry.serial in seen:
            raise ValueError(f"serial {entry.serial:x} is listed twice")
        seen.add(entry.serial)
        if entry.reason is x509.ReasonFlags.remove_from_crl and delta_base is None:
            raise ValueError("removeFromCRL is only allowed in a delta CRL")
        revoked = (
            x509.RevokedCertificateBuilder()
            .serial_number(entry.serial)
            .revocation_date(_utc(entry.revoked_at))
        )
        if entry.reason is not None and entry.reason is not x509.ReasonFlags.unspecified:
            revoked = revoked.add_extension(x509.CRLReason(entry.reason), critical=False)
        builder = builder.add_revoked_certificate(revoked.build())
    return builder.sign(issuer_key, hashes.SHA256())


def crl_to_pem(crl: x509.CertificateRevocationList) -> bytes:
    return crl.public_bytes(serialization.Encoding.PEM)


def crl_to_der(crl: x509.CertificateRevocationList) -> bytes:
    return crl.public_bytes(serialization.Encoding.DER)


# --------------------------------------------------------------------------- DER


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _der_length(len(content)) + content


def _seq(*parts: bytes) -> bytes:
    return _tlv(0x30, b"".join(parts))


def _integer(value: int, tag: int = 0x02) -> bytes:
    return _tlv(tag, value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True))


def _oid(dotted: str) -> bytes:
    arcs = [int(arc) for arc in dotted.split(".")]
    body = bytearray()
    for arc in [40 * arcs[0] + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return _tlv(0x06, bytes(body))


def _octets(data: bytes) -> bytes:
    return _tlv(0x04, data)


def _generalized_time(moment: datetime) -> bytes:
    return _tlv(0x18, _utc(moment).strftime("%Y%m%d%H%M%SZ").encode("ascii"))


def _explicit(number: int, content: bytes) -> bytes:
    return _tlv(0xA0 | number, content)


def _read_tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of content, end of content) of the DER element at ``pos``."""
    tag = data[pos]
    first = data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > len(data):
        raise ValueError("truncated DER")
    return tag, pos, pos + length


@functools.lru_cache(maxsize=256)
def _public_key_bits(cert: x509.Certificate) -> bytes:
    """The subjectPublicKey BIT STRING's value (no unused-bits octet): what CertIDs hash."""
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _, start, _ = _read_tlv(spki, 0)
    _, _, algorithm_end = _read_tlv(spki, start)
    tag, bits_start, bits_end = _read_tlv(spki, algorithm_end)
    if tag != 0x03:
        raise ValueError("no BIT STRING in the SubjectPublicKeyInfo")
    return spki[bits_start + 1 : bits_end]


_HASH_OIDS = {
    "sha1": "1.3.14.3.2.26",
    "sha224": "2.16.840.1.101.3.4.2.4",
    "sha256": "2.16.840.1.101.3.4.2.1",
    "sha384": "2.16.840.1.101.3.4.2.2",
    "sha512": "2.16.840.1.101.3.4.2.3",
}

_NONCE_OID = OCSPExtensionOID.NONCE.dotted_string  # 1.3.6.1.5.5.7.48.1.2
_BASIC_RESPONSE_OID = "1.3.6.1.5.5.7.48.1.1"


@functools.lru_cache(maxsize=256)
def _issuer_hashes(cert: x509.Certificate, hash_name: str) -> tuple[bytes, bytes]:
    """(issuerNameHash, issuerKeyHash) of CertIDs naming ``cert`` as the issuer."""
    name_hash = hashlib.new(hash_name, cert.subject.public_bytes()).digest()
    key_hash = hashlib.new(hash_name, _public_key_bits(cert)).digest()
    return name_hash, key_hash


# --------------------------------------------------------------------------- OCSP responder


@dataclass(frozen=True, slots=True)
class CertStatusInfo:
    """What the CA's records say of one serial (the answer of ``lookup``).

    ``reason`` may also be given as text (see :func:`parse_reason`).
    """

    status: Literal["good", "revoked", "unknown"]
    revoked_at: datetime | None = None
    reason: x509.ReasonFlags | None = None

    def __post_init__(self) -> None:
        if self.status not in ("good", "revoked", "unknown"):
            raise ValueError(f"status must be good, revoked or unknown, got {self.status!r}")
        if self.status == "revoked" and self.revoked_at is None:
            raise ValueError("a revoked status needs revoked_at")
        if self.reason is not None:
            object.__setattr__(self, "reason", parse_reason(self.reason))


def _unsuccessful(status: ocsp.OCSPResponseStatus) -> bytes:
    return _seq(_integer(status.value, tag=0x0A))


def _signature_algorithm(key: _PrivateKey) -> bytes:
    if isinstance(key, rsa.RSAPrivateKey):
        return _seq(_oid("1.2.840.113549.1.1.11"), b"\x05\x00")  # sha256WithRSAEncryption
    return _seq(_oid("1.2.840.10045.4.3.2"))  # ecdsa-with-SHA256


def _sign(key: _PrivateKey, data: bytes) -> bytes:
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


def _cert_status(info: CertStatusInfo) -> bytes:
    if info.status == "good":
        return b"\x80\x00"  # good [0] IMPLICIT NULL
    if info.status == "unknown":
        return b"\x82\x00"  # unknown [2] IMPLICIT NULL
    assert info.revoked_at is not None
    revoked = _generalized_time(info.revoked_at)
    if info.reason is not None and info.reason is not x509.ReasonFlags.unspecified:
        revoked += _explicit(0, _integer(_REASON_CODES[info.reason], tag=0x0A))
    return _tlv(0xA1, revoked)  # revoked [1] IMPLICIT RevokedInfo


def answer_ocsp(
    request_der: bytes,
    *,
    issuers: Sequence[tuple[x509.Certificate, _PrivateKey]],
    lookup: Callable[[x509.Certificate, int], CertStatusInfo],
    at: datetime,
    validity: timedelta = timedelta(hours=1),
) -> bytes:
    """The DER OCSPResponse answering ``request_der``, as the CA's responder would.

    ``issuers`` are the CAs this responder answers for, each with its signing key;
    ``lookup(issuer_cert, serial)`` says what the CA knows of a serial. The
    response is signed by the issuing CA named in the request's CertID (SHA-1,
    SHA-224/256/384/512 CertIDs are matched), with ``producedAt`` = ``thisUpdate``
    = ``at`` and ``nextUpdate`` = ``at + validity``; the request nonce is echoed.

    Never raises for bad input: ``malformedRequest`` for an unparsable request
    (or one asking about several certificates), ``unauthorized`` for an issuer
    not served here, ``internalError`` when ``lookup`` fails.
    """
    try:
        request = ocsp.load_der_ocsp_request(bytes(request_der))
        name_hash = request.issuer_name_hash
        key_hash = request.issuer_key_hash
        serial = request.serial_number
        nonce_ext = None
        for ext in request.extensions:
            if ext.oid.dotted_string == _NONCE_OID:
                nonce_ext = ext.value.public_bytes()
    except Exception:  # noqa: BLE001 - any parse failure is the client's fault
        return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
    try:
        hash_name = request.hash_algorithm.name
    except Exception:  # noqa: BLE001 - unsupported CertID hash: no issuer can match
        return _unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)
    if hash_name not in _HASH_OIDS:
        return _unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)

    for issuer_cert, issuer_key in issuers:
        if _issuer_hashes(issuer_cert, hash_name) == (name_hash, key_hash):
            break
    else:
        return _unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)

    try:
        info = lookup(issuer_cert, serial)
        if not isinstance(info, CertStatusInfo):
            raise TypeError("lookup must return a CertStatusInfo")
        at = _utc(at)
        cert_id = _seq(
            _seq(_oid(_HASH_OIDS[hash_name]), b"\x05\x00"),
            _octets(name_hash),
            _octets(key_hash),
            _integer(serial),
        )
        single = _seq(
            cert_id,
            _cert_status(info),
            _generalized_time(at),
            _explicit(0, _generalized_time(at + validity)),
        )
        responder_id = _explicit(2, _octets(_issuer_hashes(issuer_cert, "sha1")[1]))
        tbs_parts = [responder_id, _generalized_time(at), _seq(single)]
        if nonce_ext is not None:
            tbs_parts.append(_explicit(1, _seq(_seq(_oid(_NONCE_OID), _octets(nonce_ext)))))
        tbs = _seq(*tbs_parts)
        signature = _sign(issuer_key, tbs)
        certs = _explicit(0, _seq(issuer_cert.public_bytes(serialization.Encoding.DER)))
        basic = _seq(tbs, _signature_algorithm(issuer_key), _tlv(0x03, b"\x00" + signature), certs)
    except Exception:  # noqa: BLE001 - the responder's own trouble, not the client's
        return _unsuccessful(ocsp.OCSPResponseStatus.INTERNAL_ERROR)
    response_bytes = _seq(_oid(_BASIC_RESPONSE_OID), _octets(basic))
    return _seq(_integer(0, tag=0x0A), _explicit(0, response_bytes))


# --------------------------------------------------------------------------- OCSP client


@dataclass(frozen=True, slots=True)
class RevocationStatus:
    """What is known of one certificate's revocation status at the time asked.

    ``checked_at`` is the ``thisUpdate`` of the OCSP answer the status comes from
    (for ``source="none"``, when there is no answer, it is the time of the
    attempt). ``source``: ``"ocsp"`` (just asked), ``"cache"`` (an earlier answer,
    fresh, revoked, or stale under soft-fail: see ``detail``) or ``"none"``.
    """

    status: Literal["good", "revoked", "unknown"]
    revoked_at: datetime | None
    reason: x509.ReasonFlags | None
    checked_at: datetime
    source: Literal["ocsp", "cache", "none"]
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: datetimes as ISO 8601, the reason by its RFC 5280 name."""
        return {
            "status": self.status,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "reason": self.reason.value if self.reason is not None else None,
            "checked_at": self.checked_at.isoformat(),
            "source": self.source,
            "detail": self.detail,
        }


class _ResponderFailure(Exception):
    """The responder gave no usable answer; the message says why."""


def _ocsp_url(cert: x509.Certificate) -> str | None:
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return None
    for description in aia:
        location = description.access_location
        if description.access_method == x509.AuthorityInformationAccessOID.OCSP and isinstance(
            location, x509.UniformResourceIdentifier
        ):
            return location.value
    return None


def _verify_signature(response: ocsp.OCSPResponse, issuer: x509.Certificate) -> None:
    public_key = issuer.public_key()
    try:
        algorithm = response.signature_hash_algorithm
        if algorithm is None:
            raise _ResponderFailure("the response's signature algorithm is not supported")
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(
                response.signature, response.tbs_response_bytes, padding.PKCS1v15(), algorithm
            )
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(
                response.signature, response.tbs_response_bytes, ec.ECDSA(algorithm)
            )
        else:
            raise _ResponderFailure("the issuer's key type is not supported")
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError):
        raise _ResponderFailure("the response is not signed by the issuing CA") from None


_Policy = Literal["hard-fail", "soft-fail"]


class RevocationChecker:
    """An OCSP client with a cache and a failure policy, as X-Road's security server.

    ``client`` is the httpx.AsyncClient used for the POSTs (its transport decides
    where they go; ``timeout`` overrides its timeout). ``responder_url``, when
    given, is used instead of each certificate's AIA OCSP address. ``nonce`` makes
    the request nonces (16 random bytes by default). ``clock_skew`` is the
    tolerance on the response's thisUpdate / nextUpdate. ``post``, when given,
    sends the requests to plain ``http://`` responders instead of ``client``
    where no ``timeout`` is set: a system's own hop client, which raises
    httpx's errors and over sockets costs far less (``SystemRuntime.post_bytes``).
    See the module docstring for the caching and failure rules.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        policy: _Policy = "hard-fail",
        freshness: timedelta = timedelta(hours=1),
        responder_url: str | None = None,
        *,
        timeout: float | None = None,
        clock_skew: timedelta = timedelta(minutes=5),
        nonce: Callable[[], bytes] = lambda: os.urandom(16),
        post: Callable[[str, bytes, dict[str, str]], Awaitable[tuple[int, bytes]]] | None = None,
    ) -> None:
        if policy not in ("hard-fail", "soft-fail"):
            raise ValueError(f"policy must be 'hard-fail' or 'soft-fail', got {policy!r}")
        if freshness <= timedelta(0):
            raise ValueError("freshness must be positive")
        self.client = client
        self.policy: _Policy = policy
        self.freshness = freshness
        self.responder_url = responder_url
        self.timeout = timeout
        self.clock_skew = clock_skew
        self._nonce = nonce
        self._post = post
        self._cache: dict[tuple[bytes, int], RevocationStatus] = {}
        # each cached answer as it is handed out again (source "cache"), made once per answer
        self._replies: dict[tuple[bytes, int], RevocationStatus] = {}
        self._locks: dict[tuple[bytes, int], asyncio.Lock] = {}
        self._forgotten = 0  # counts forget() calls: an answer fetched across one is not cached

    def clear_cache(self) -> None:
        """Forget every cached answer (revoked ones included)."""
        self._forgotten += 1
        self._cache.clear()
        self._replies.clear()

    def forget(self, serial: int, issuer: x509.Certificate | None = None) -> int:
        """Forget the cached answers for the certificate ``serial`` (of ``issuer``, or of any
        issuer): its next check asks the responder, whatever the freshness. The CA calls this,
        through its gateways' admin endpoint, when it revokes a certificate
        (:mod:`signatures.revocation_push`). Returns how many answers were forgotten.

        An answer being fetched meanwhile is handed to its caller but not cached: it may predate
        the revocation."""
        issuer_hash = _issuer_hashes(issuer, "sha1")[1] if issuer is not None else None
        keys = [k for k in self._cache if k[1] == serial and (issuer_hash is None or k[0] == issuer_hash)]
        self._forgotten += 1
        for key in keys:
            self._cache.pop(key, None)
            self._replies.pop(key, None)
        return len(keys)

    def cached(self, cert: x509.Certificate, issuer: x509.Certificate) -> RevocationStatus | None:
        """The last answer obtained for ``cert`` (whatever its age), or None."""
        return self._cache.get(self._key(cert, issuer))

    @staticmethod
    def _key(cert: x509.Certificate, issuer: x509.Certificate) -> tuple[bytes, int]:
        return _issuer_hashes(issuer, "sha1")[1], cert.serial_number

    async def status(
        self, cert: x509.Certificate, issuer: x509.Certificate, *, at: datetime
    ) -> RevocationStatus:
        """The revocation status of ``cert`` (issued by ``issuer``) at the virtual time ``at``."""
        at = _utc(at)
        key = self._key(cert, issuer)
        # A fresh (or final) cached answer needs no lock: the common case, once per signature.
        reply = self._from_cache(key, at)
        if reply is not None:
            return reply
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:  # one request per certificate at a time; later callers use its answer
            reply = self._from_cache(key, at)
            if reply is not None:
                return reply
            cached = self._cache.get(key)
            forgotten = self._forgotten
            try:
                answer = await self._ask(cert, issuer, at)
            except _ResponderFailure as failure:
                return self._on_failure(cached, at, str(failure))
            if forgotten == self._forgotten:
                self._cache[key] = answer
                self._replies.pop(key, None)
            return answer

    def _from_cache(self, key: tuple[bytes, int], at: datetime) -> RevocationStatus | None:
        """The cached answer for ``key`` as a cache hit, if it may still be used at ``at``."""
        cached = self._cache.get(key)
        if cached is None or not (cached.status == "revoked" or at - cached.checked_at <= self.freshness):
            return None
        reply = self._replies.get(key)
        if reply is None:
            why = "revocation is final" if cached.status == "revoked" else "fresh"
            reply = self._replies[key] = replace(
                cached,
                source="cache",
                detail=f"cached OCSP answer of {cached.checked_at.isoformat()} ({why})",
            )
        return reply

    def _on_failure(
        self, cached: RevocationStatus | None, at: datetime, why: str
    ) -> RevocationStatus:
        if self.policy == "soft-fail" and cached is not None:
            age = at - cached.checked_at
            return replace(
                cached,
                source="cache",
                detail=(
                    f"soft-fail: OCSP responder gave no usable answer ({why}); using a stale "
                    f"cached answer of {cached.checked_at.isoformat()} (age {age}, freshness "
                    f"{self.freshness})"
                ),
            )
        if cached is not None:
            why += (
                f"; the cached answer of {cached.checked_at.isoformat()} is older than the "
                f"freshness of {self.freshness}"
            )
        elif self.policy == "soft-fail":
            why += "; no cached answer (the caller decides whether to accept 'unknown')"
        return RevocationStatus(
            status="unknown",
            revoked_at=None,
            reason=None,
            checked_at=at,
            source="none",
            detail=f"{self.policy}: OCSP responder gave no usable answer ({why})",
        )

    async def _ask(
        self, cert: x509.Certificate, issuer: x509.Certificate, at: datetime
    ) -> RevocationStatus:
        url = self.responder_url or _ocsp_url(cert)
        if not url:
            raise _ResponderFailure("the certificate names no OCSP responder")
        nonce = self._nonce()
        request = (
            ocsp.OCSPRequestBuilder()
            .add_certificate(cert, issuer, hashes.SHA1())
            .add_extension(x509.OCSPNonce(nonce), critical=False)
            .build()
        )
        body = request.public_bytes(serialization.Encoding.DER)
        headers = {"Content-Type": OCSP_REQUEST_CONTENT_TYPE, "Accept": OCSP_RESPONSE_CONTENT_TYPE}
        post: Callable[..., Awaitable[httpx.Response]] = self.client.post
        try:
            if self._post is not None and self.timeout is None and url.startswith("http://"):
                status, content = await self._post(url, body, headers)
            else:
                if self.timeout is not None:
                    reply = await post(url, content=body, headers=headers, timeout=self.timeout)
                else:
                    reply = await post(url, content=body, headers=headers)
                status, content = reply.status_code, reply.content
        except httpx.TimeoutException as exc:
            raise _ResponderFailure(f"timeout asking {url}: {type(exc).__name__}") from None
        except httpx.HTTPError as exc:
            raise _ResponderFailure(f"cannot reach {url}: {type(exc).__name__}: {exc}") from None
        if status != 200:
            raise _ResponderFailure(f"{url} answered HTTP {status}")
        return self._read(content, request, nonce, issuer, at, url)

    def _read(
        self,
        data: bytes,
        request: ocsp.OCSPRequest,
        nonce: bytes,
        issuer: x509.Certificate,
        at: datetime,
        url: str,
    ) -> RevocationStatus:
        try:
            response = ocsp.load_der_ocsp_response(data)
        except Exception:  # noqa: BLE001
            raise _ResponderFailure("the response is not a DER OCSPResponse") from None
        if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
            raise _ResponderFailure(f"the responder answered {response.response_status.name}")
        _verify_signature(response, issuer)
        try:
            echoed = response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
        except x509.ExtensionNotFound:
            raise _ResponderFailure("the response does not echo the request nonce") from None
        except Exception:  # noqa: BLE001
            raise _ResponderFailure("the response's extensions are malformed") from None
        if echoed != nonce:
            raise _ResponderFailure("the response's nonce differs from the request's (replay?)")
        try:
            single = next(
                (
                    one
                    for one in response.responses
                    if one.serial_number == request.serial_number
                    and one.issuer_key_hash == request.issuer_key_hash
                    and one.issuer_name_hash == request.issuer_name_hash
                    and isinstance(one.hash_algorithm, type(request.hash_algorithm))
                ),
                None,
            )
        except Exception:  # noqa: BLE001
            raise _ResponderFailure("the response's single responses are malformed") from None
        if single is None:
            raise _ResponderFailure("the response does not answer for the certificate asked")
        this_update = single.this_update_utc
        next_update = single.next_update_utc
        if this_update > at + self.clock_skew:
            raise _ResponderFailure(f"the response's thisUpdate {this_update} is in the future")
        if next_update is not None and next_update < at - self.clock_skew:
            raise _ResponderFailure(f"the response expired at {next_update}")
        if at - this_update > self.freshness:
            raise _ResponderFailure(
                f"the response's thisUpdate {this_update} is older than the freshness"
            )

        status = single.certificate_status
        if status is ocsp.OCSPCertStatus.GOOD:
            name: Literal["good", "revoked", "unknown"] = "good"
            revoked_at, reason = None, None
        elif status is ocsp.OCSPCertStatus.REVOKED:
            name = "revoked"
            revoked_at, reason = single.revocation_time_utc, single.revocation_reason
        else:
            name = "unknown"
            revoked_at, reason = None, None
        detail = f"OCSP responder {url} answered {name}"
        if name == "unknown":
            detail += " (the responder does not know this certificate)"
        return RevocationStatus(
            status=name,
            revoked_at=revoked_at,
            reason=reason,
            checked_at=this_update,
            source="ocsp",
            detail=detail,
        )
