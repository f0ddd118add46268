"""Detached JWS signatures over canonical JSON: the signature format of egov-sim.

Format
======

A signature is a JWS (RFC 7515) in compact serialization with **detached
content** (RFC 7515 Appendix F)::

    <BASE64URL(UTF8(protected header))> . <empty> . <BASE64URL(signature)>

* The protected header is a JSON object with exactly these members::

      {"alg": "RS256" | "ES256", "x5c": ["<base64 DER of the signer's certificate>",
                                         "<base64 DER of the issuing CA>", ...]}

  ``x5c`` (RFC 7515 §4.1.6) uses *standard* base64 with padding (not base64url);
  ``x5c[0]`` is the signer's certificate, each next one certifies the one before.
  The root CA need not be included (the verifier has its own trust anchors).
  ``alg`` is ``RS256`` (RSASSA-PKCS1-v1_5 with SHA-256) for an RSA key and
  ``ES256`` (ECDSA P-256 with SHA-256, the signature being the 64-byte ``r || s``
  concatenation of RFC 7518 §3.4, *not* DER) for an EC key.
  No ``crit`` and no ``b64`` parameters are used (the payload is base64url-encoded
  as usual; the verifier rejects tokens that carry ``crit`` or ``b64``).
* The payload is the signed content's **RFC 8785 (JCS) canonical JSON**, UTF-8
  (sorted keys, no whitespace, ES6 number formatting); it is *not* carried in
  the token, so the middle part of the compact form is empty.
* The signing input is ``ASCII(header_part + "." + BASE64URL(JCS(content)))``,
  where ``header_part`` is the first part of the token exactly as transmitted.

To verify a token with any standard JWS library:

1. take the content (the JSON value the signature is about), canonicalize it
   per RFC 8785, and base64url-encode the result without padding;
2. put it between the two dots: ``header_part + "." + payload + "." + signature_part``;
3. verify that ordinary compact JWS with the public key of the certificate in
   ``x5c[0]`` (and, for trust, validate the ``x5c`` chain up to the
   НЕГІЗГІ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ root).

Libraries with detached-payload support (e.g. ``joserfc``:
``jws.deserialize_compact(token, key, payload=jcs_bytes, registry=registry)``) do
step 2 themselves. Note that ``joserfc`` rejects headers over 512 bytes by
default and an ``x5c`` chain makes the header 2-4 KB: raise
``registry.max_header_length`` on a ``JWSRegistry`` first.

Verification (:func:`verify_detached`) never raises for bad input; it returns a
:class:`~signatures.verdicts.Verdict` whose code is the first failed rule, in
this order: ``MALFORMED`` (unparsable token or header, a part that is not canonical
unpadded base64url -- padding, a character outside the URL-safe alphabet, whitespace, or
non-zero bits after the last byte -- an ``x5c`` entry that is not canonical base64,
unsupported ``alg``, ``alg`` not matching the key of ``x5c[0]``, content that has no
canonical JSON form),
``SIGNATURE_MISMATCH``, ``CHAIN_NOT_TRUSTED`` (every link checked with
``verify_directly_issued_by``; each CA must have BasicConstraints ``ca=True``,
keyCertSign when it has a KeyUsage, and respect pathLen), ``CERT_NOT_YET_VALID`` /
``CERT_EXPIRED`` (every certificate of the path, leaf first, at the virtual
time ``at``), ``WRONG_KEY_USAGE``. The chain rules are those of
:mod:`signatures.chain` (shared with :mod:`signatures.cms`), with ``x5c`` taken in
order. Revocation (CRL / OCSP) is not checked here.

Content must be plain JSON data: dict (str keys), list / tuple, str, int (within
±(2**53 - 1), as RFC 8785 requires), float (finite), bool, None. Pydantic
models should be passed as ``model.model_dump(mode="json")``.

Speed: parsed headers, certificate chains and trust decisions are cached (keyed
by the header text and the trust anchors), so a repeat signer costs one
signature operation plus canonicalization. Canonicalization takes a fast path
through ``orjson`` (sorted keys, integers held to 53 bits) when the content has
no floats and no non-BMP characters in keys -- where its output is byte for byte
RFC 8785's, as a property test checks against the ``rfc8785`` package -- and
otherwise uses the ``rfc8785`` package.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal, Sequence

import orjson
import rfc8785
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.serialization import Encoding

from .certificates import PrivateKey, subject_info
from .chain import CertPath, build_path, check_certificate, verification_arguments
from .verdicts import Verdict, VerdictCode

__all__ = ["canonical_json", "sign_detached", "verify_detached", "verify_signed_by", "clear_caches"]

_log = logging.getLogger(__name__)

RS256 = "RS256"
ES256 = "ES256"

_SHA256 = hashes.SHA256()
_PKCS1 = padding.PKCS1v15()
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())

_MAX_TOKEN_LENGTH = 256 * 1024
_MAX_X5C = 10
_B64URL = re.compile(r"[A-Za-z0-9_-]+")
_SAFE_INT = 2**53 - 1

# --------------------------------------------------------------------------- canonical JSON

_ORJSON_CANONICAL = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER | orjson.OPT_PASSTHROUGH_SUBCLASS


def _is_plain(value: Any) -> bool:
    """True when orjson's sorted output is byte-for-byte RFC 8785 for ``value``.

    That holds for exact dict / list / tuple / str / int / bool / None values,
    with ints in the safe range, floats with a fraction between 1e-5 and 1e16
    in magnitude (both write them in plain decimals, shortest round trip: an
    area, a price, an income; outside it, and for whole floats, which JCS
    writes as integers, the two differ), and keys that sort the same by code
    point as by UTF-16 code unit (true unless a key has a character above
    U+FFFF). Anything else is rewritten by :func:`_plain_form` where that
    makes it plain, and takes the rfc8785 path where not.
    """
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return -_SAFE_INT <= value <= _SAFE_INT
    if kind is float:  # NaN and the infinities fail the range; 1e16 and up are whole
        return 1e-5 <= abs(value) < 1e16 and not value.is_integer()
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                return False
            if not key.isascii() and max(key) > "\uffff":
                return False
            if not _is_plain(item):
                return False
        return True
    if kind is list or kind is tuple:
        for item in value:
            if not _is_plain(item):
                return False
        return True
    return False


_NOT_PLAIN = object()


def _plain_form(value: Any) -> Any:
    """``value`` rewritten so that orjson's sorted output is RFC 8785's for it (see
    :func:`_is_plain`), or ``_NOT_PLAIN`` when no rewriting makes it so.

    A whole float in the safe integer range becomes the int JCS writes for it (an area of 40.0 is
    ``40`` in both); a subclass of str, int, float, dict, list or tuple (a ``str`` enum's member,
    a verdict's code) becomes its base value, as rfc8785 reads it. Floats outside the fast path's
    range, ints beyond the safe range, keys beyond U+FFFF and other types stay with rfc8785. A
    message's amounts and areas are mostly whole floats: without this they took the pure-Python
    path at every signature and every check (2 % of an application's CPU in one process)."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return value
    if kind is int:
        return value if -_SAFE_INT <= value <= _SAFE_INT else _NOT_PLAIN
    if kind is float:
        if value.is_integer():  # -0.0 included: JCS writes 0
            return int(value) if abs(value) <= _SAFE_INT else _NOT_PLAIN
        return value if 1e-5 <= abs(value) < 1e16 else _NOT_PLAIN  # NaN and the infinities fail
    if kind is dict:
        form = {}
        for key, item in value.items():
            if type(key) is not str:
                if not isinstance(key, str):
                    return _NOT_PLAIN
                key = str.__str__(key)
            if not key.isascii() and max(key) > "\uffff":
                return _NOT_PLAIN
            item = _plain_form(item)
            if item is _NOT_PLAIN or key in form:  # (a str-subclass key equal to another key)
                return _NOT_PLAIN
            form[key] = item
        return form
    if kind is list or kind is tuple:
        items = []
        for item in value:
            item = _plain_form(item)
            if item is _NOT_PLAIN:
                return _NOT_PLAIN
            items.append(item)
        return items
    for base in (str, int, float, dict, list, tuple):  # subclasses, as rfc8785 reads them
        if isinstance(value, base):
            return _plain_form(base.__str__(value) if base is str else base(value))
    return _NOT_PLAIN


def canonical_json(obj: Any) -> bytes:
    """The RFC 8785 (JCS) canonical UTF-8 JSON of ``obj``.

    Raises ``ValueError`` / ``TypeError`` for values that have no canonical form
    (NaN, infinities, ints beyond ±(2**53 - 1), non-str keys, other types,
    lone surrogates).
    """
    try:
        plain = _is_plain(obj)
    except RecursionError:
        raise ValueError("content is nested too deeply") from None
    form = obj if plain else _plain_form(obj)
    if form is not _NOT_PLAIN:
        try:
            return orjson.dumps(form, option=_ORJSON_CANONICAL)
        except orjson.JSONEncodeError:  # lone surrogates, nesting beyond orjson's 254 levels
            pass
    return rfc8785.dumps(obj)


# --------------------------------------------------------------------------- base64


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    """Strict, canonical unpadded base64url (RFC 7515 §2; RFC 4648 §3.5); ValueError otherwise.

    One byte string has one encoding: no padding, no character outside the URL-safe alphabet,
    no length that leaves a lone character, and the bits after the last whole byte are zero.
    A token whose parts could be written another way decodes to the same bytes under other
    texts -- a second form of one signature that a log or a replay check would count as new.
    """
    if not _B64URL.fullmatch(text):
        raise ValueError("not unpadded base64url (padding, or a character outside A-Z a-z 0-9 - _)")
    if len(text) % 4 == 1:
        raise ValueError("not base64url (a length no byte string encodes to)")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64url(data) != text:
        raise ValueError("not canonical base64url (the bits after the last byte are not zero)")
    return data


def _b64_decode_canonical(text: str) -> bytes:
    """Strict, canonical standard base64 with padding (``x5c``, RFC 7515 §4.1.6); ValueError otherwise."""
    data = base64.b64decode(text, validate=True)
    if base64.b64encode(data).decode("ascii") != text:
        raise ValueError("not canonical base64 (the bits after the last byte are not zero, or missing padding)")
    return data


# --------------------------------------------------------------------------- signing


def _alg_for_key(public_key: Any) -> str | None:
    if isinstance(public_key, rsa.RSAPublicKey):
        return RS256
    if isinstance(public_key, ec.EllipticCurvePublicKey) and isinstance(
        public_key.curve, ec.SECP256R1
    ):
        return ES256
    return None


@lru_cache(maxsize=256)
def _signing_header(key: PrivateKey, chain: tuple[x509.Certificate, ...]) -> tuple[str, str]:
    """(alg, header part) for a key and its chain; checks the key matches ``chain[0]``."""
    if not chain:
        raise ValueError("chain must hold at least the signer's certificate")
    for cert in chain:
        if not isinstance(cert, x509.Certificate):
            raise TypeError("chain must hold x509.Certificate objects")
    alg = _alg_for_key(key.public_key())
    if alg is None:
        raise ValueError("only RSA and ECDSA P-256 keys can sign (RS256 / ES256)")
    if chain[0].public_key() != key.public_key():
        raise ValueError("the private key does not belong to chain[0]")
    header = {
        "alg": alg,
        "x5c": [base64.b64encode(cert.public_bytes(Encoding.DER)).decode("ascii") for cert in chain],
    }
    return alg, _b64url(json.dumps(header, separators=(",", ":")).encode("ascii"))


def sign_detached(content: Any, key: PrivateKey, chain: Sequence[x509.Certificate]) -> str:
    """Sign ``content`` (a JSON value) as a detached JWS: ``<header>..<signature>``.

    ``chain`` is the signer's certificate followed by the intermediate CA
    certificates (the root may be left out). Raises ``ValueError`` / ``TypeError``
    when the content has no canonical JSON form or the key does not fit the chain.
    """
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise TypeError(f"key must be an RSA or EC private key, got {type(key).__name__}")
    alg, header_part = _signing_header(key, tuple(chain))
    signing_input = f"{header_part}.{_b64url(canonical_json(content))}".encode("ascii")
    if alg == RS256:
        signature = key.sign(signing_input, _PKCS1, _SHA256)  # type: ignore[call-arg]
    else:
        r, s = decode_dss_signature(key.sign(signing_input, _ECDSA_SHA256))  # type: ignore[call-arg]
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return f"{header_part}..{_b64url(signature)}"


# --------------------------------------------------------------------------- verification


@dataclass(slots=True, eq=False)
class _Header:
    """A parsed, checked protected header (cached by its base64url text)."""

    alg: str
    certs: tuple[x509.Certificate, ...]
    public_key: Any
    signer: dict[str, Any]
    trust: dict[tuple[x509.Certificate, ...], CertPath | str] = field(default_factory=dict)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member in the JWS header")
    return result


@lru_cache(maxsize=2048)
def _parse_header(header_part: str) -> _Header | str:
    """The parsed header, or a string saying why it is malformed."""
    try:
        raw = _b64url_decode(header_part)
    except (ValueError, binascii.Error) as exc:
        return f"the header is {exc}"
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        return f"the header is not a JSON object ({exc})"
    if not isinstance(header, dict):
        return "the header is not a JSON object"
    if "crit" in header:
        return "critical header extensions are not supported"
    if "b64" in header:
        return "the b64 header parameter (RFC 7797) is not supported"
    alg = header.get("alg")
    if alg not in (RS256, ES256):
        return f"unsupported alg {alg!r} (expected RS256 or ES256)"
    x5c = header.get("x5c")
    if not isinstance(x5c, list) or not x5c:
        return "the header has no x5c certificate chain"
    if len(x5c) > _MAX_X5C:
        return f"x5c holds more than {_MAX_X5C} certificates"
    certs = []
    for index, item in enumerate(x5c):
        if not isinstance(item, str):
            return f"x5c[{index}] is not a string"
        try:
            der = _b64_decode_canonical(item)
        except (ValueError, binascii.Error) as exc:
            return f"x5c[{index}] is not a base64 DER certificate ({exc})"
        try:
            certs.append(x509.load_der_x509_certificate(der))
        except ValueError:
            return f"x5c[{index}] is not a base64 DER certificate"
    leaf = certs[0]
    try:
        public_key = leaf.public_key()
        _optional_extension(leaf, x509.KeyUsage)  # unreadable extensions: MALFORMED
        _optional_extension(leaf, x509.ExtendedKeyUsage)
        signer = subject_info(leaf)
    except (ValueError, UnsupportedAlgorithm) as exc:
        return f"x5c[0] cannot be read ({exc})"
    if _alg_for_key(public_key) != alg:
        return f"alg {alg} does not match the key of x5c[0]"
    return _Header(alg, tuple(certs), public_key, signer)


def _optional_extension(cert: x509.Certificate, cls: type) -> Any:
    try:
        return cert.extensions.get_extension_for_class(cls).value
    except x509.ExtensionNotFound:
        return None


MATCHES_REMEMBERED = 8192
"""How many proven (signing input, signature) pairs :func:`_signature_matches` remembers."""

_matched: OrderedDict[bytes, None] = OrderedDict()
_matched_lock = threading.Lock()


def _signature_matches(header: _Header, signing_input: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is the header's key's signature over ``signing_input``.

    A pair once proven is remembered (by the SHA-256 of the signing input, which holds the
    header and so the signer's certificate, and the signature itself): the mathematics gives the
    same answer every time, and a message through the gateways is checked by each system it
    passes -- in one process half of the checks of a run repeated one made before (an ECDSA
    P-256 verification is ~60 us). Only what a check depends on besides the mathematics -- the
    chain, the time, the key usage, the revocation -- is decided anew at each check."""
    key = hashlib.sha256(signing_input).digest() + signature
    with _matched_lock:
        if key in _matched:
            _matched.move_to_end(key)
            return True
    if not _proven(header, signing_input, signature):
        return False
    with _matched_lock:
        _matched[key] = None
        if len(_matched) > MATCHES_REMEMBERED:
            _matched.popitem(last=False)
    return True


def _proven(header: _Header, signing_input: bytes, signature: bytes) -> bool:
    try:
        if header.alg == RS256:
            header.public_key.verify(signature, signing_input, _PKCS1, _SHA256)
        else:
            if len(signature) != 64:
                return False
            r = int.from_bytes(signature[:32], "big")
            s = int.from_bytes(signature[32:], "big")
            header.public_key.verify(encode_dss_signature(r, s), signing_input, _ECDSA_SHA256)
    except (InvalidSignature, ValueError):
        return False
    return True


def verify_detached(
    token: str,
    content: Any,
    *,
    trusted_roots: Sequence[x509.Certificate],
    at: datetime,
    usage: Literal["sign", "auth"] | None = "sign",
) -> Verdict:
    """Check a detached JWS made by :func:`sign_detached` over ``content``.

    ``at`` is the (virtual) moment of the check; ``usage`` the key usage the
    signer's certificate must allow (None: any). Returns a Verdict, never raises
    for a bad token or content; raises only for a wrong ``at`` / ``usage`` / ``trusted_roots``
    argument (programming errors).
    """
    at, roots = verification_arguments(at, usage, trusted_roots)
    try:
        return _verify(token, content, roots, at, usage)
    except Exception as exc:  # a gateway must answer with a verdict, not a crash
        _log.exception("unexpected error while verifying a signature")
        return Verdict.fail(VerdictCode.MALFORMED, f"unexpected error: {type(exc).__name__}")


def _parse_token(token: Any, content: Any) -> tuple[_Header, str, bytes, bytes] | Verdict:
    """(header, header part, signature, canonical content) of a well-formed token, else a
    MALFORMED verdict saying what is wrong."""
    if isinstance(token, (bytes, bytearray)):
        try:
            token = token.decode("ascii")
        except UnicodeDecodeError:
            return Verdict.fail(VerdictCode.MALFORMED, "the token is not ASCII")
    if not isinstance(token, str):
        return Verdict.fail(VerdictCode.MALFORMED, "the token is not a string")
    if len(token) > _MAX_TOKEN_LENGTH:
        return Verdict.fail(VerdictCode.MALFORMED, "the token is too long")
    parts = token.split(".")
    if len(parts) != 3:
        return Verdict.fail(VerdictCode.MALFORMED, "not a compact JWS (expected 3 dot-separated parts)")
    header_part, payload_part, signature_part = parts
    if payload_part:
        return Verdict.fail(VerdictCode.MALFORMED, "the payload must be detached (empty middle part)")
    header = _parse_header(header_part)
    if isinstance(header, str):
        return Verdict.fail(VerdictCode.MALFORMED, header)
    try:
        signature = _b64url_decode(signature_part)
    except (ValueError, binascii.Error) as exc:
        return Verdict.fail(VerdictCode.MALFORMED, f"the signature part is {exc}")
    try:
        payload = canonical_json(content)
    except (ValueError, TypeError) as exc:
        return Verdict.fail(VerdictCode.MALFORMED, f"the content has no canonical JSON form ({exc})")
    return header, header_part, signature, payload


def _verify(
    token: Any,
    content: Any,
    roots: tuple[x509.Certificate, ...],
    at: datetime,
    usage: str | None,
) -> Verdict:
    # 1. MALFORMED
    parsed = _parse_token(token, content)
    if isinstance(parsed, Verdict):
        return parsed
    header, header_part, signature, payload = parsed

    # 2. SIGNATURE_MISMATCH
    signing_input = f"{header_part}.{_b64url(payload)}".encode("ascii")
    if not _signature_matches(header, signing_input, signature):
        return Verdict.fail(VerdictCode.SIGNATURE_MISMATCH)

    signer = dict(header.signer)
    signer["roles"] = list(signer["roles"])

    # 3-5. CHAIN_NOT_TRUSTED, CERT_NOT_YET_VALID / CERT_EXPIRED, WRONG_KEY_USAGE
    path = header.trust.get(roots)
    if path is None:
        path = build_path(header.certs, roots, ordered=True)
        if len(header.trust) >= 16:
            header.trust.clear()
        header.trust[roots] = path
    failure = check_certificate(path, at=at, usage=usage, signer=signer)
    if failure is not None:
        return failure
    return Verdict.ok(signer)


def verify_signed_by(token: str, content: Any, certificate: x509.Certificate) -> Verdict:
    """Whether ``token`` is a detached JWS over ``content`` made with the key of ``certificate``,
    the one its ``x5c[0]`` names.

    For a party that holds ``certificate`` on record (the CA checking that a request comes from
    the holder of a key it certified): only the form (MALFORMED, canonical base64url included)
    and the signature (SIGNATURE_MISMATCH; ``x5c[0]`` not ``certificate`` is one) are checked
    here -- the chain, the validity period and the revocation status are the caller's to judge.
    """
    try:
        parsed = _parse_token(token, content)
        if isinstance(parsed, Verdict):
            return parsed
        header, header_part, signature, payload = parsed
        if header.certs[0] != certificate:
            return Verdict.fail(
                VerdictCode.SIGNATURE_MISMATCH,
                f"made with the key of certificate {format(header.certs[0].serial_number, 'x')}, "
                f"not of {format(certificate.serial_number, 'x')}",
            )
        signing_input = f"{header_part}.{_b64url(payload)}".encode("ascii")
        if not _signature_matches(header, signing_input, signature):
            return Verdict.fail(VerdictCode.SIGNATURE_MISMATCH)
        signer = dict(header.signer)
        signer["roles"] = list(signer["roles"])
        return Verdict.ok(signer)
    except Exception as exc:  # a verdict, not a crash
        _log.exception("unexpected error while verifying a signature")
        return Verdict.fail(VerdictCode.MALFORMED, f"unexpected error: {type(exc).__name__}")


def clear_caches() -> None:
    """Forget cached headers, chains and trust decisions.

    Never needed for correctness (trust decisions are keyed by the trust anchors
    themselves); useful to release memory or in tests.
    """
    _parse_header.cache_clear()
    _signing_header.cache_clear()
    with _matched_lock:
        _matched.clear()


def signer_certificate(token: str) -> x509.Certificate | None:
    """The certificate in ``x5c[0]`` of a token's header (None when the header is unreadable).

    It says who *claims* to have signed; only :func:`verify_detached` says whether they did.
    """
    try:
        header = _parse_header(token.split(".", 1)[0])
    except Exception:
        return None
    return None if isinstance(header, str) else header.certs[0]
