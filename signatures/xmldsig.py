"""WS-Security XML signatures over a SOAP 1.1 Body: the ШЭП's signature profile, simulated.

Profile
=======

A signed envelope carries, in ``soap:Header``, one ``wsse:Security`` header (OASIS WSS 1.0,
``wsse`` = ``oasis-200401-wss-wssecurity-secext-1.0.xsd``, ``wsu`` =
``oasis-200401-wss-wssecurity-utility-1.0.xsd``; :func:`sign_envelope` marks it
``soap:mustUnderstand="1"`` as the ШЭП's clients do) holding one ``ds:Signature``:

* ``SignedInfo`` canonicalised with Exclusive XML Canonicalization 1.0
  (``http://www.w3.org/2001/10/xml-exc-c14n#``, without comments);
* exactly one ``Reference``, ``URI="#<wsu:Id of soap:Body>"``, with the single transform
  Exclusive C14N (an ``ec:InclusiveNamespaces`` prefix list is allowed) and the digest
  SHA-256 (``http://www.w3.org/2001/04/xmlenc#sha256``);
* ``SignatureMethod`` by the key of the signer's certificate: ECDSA P-256 with SHA-256
  (``http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256``, the value ``r || s`` as XML-DSig
  1.1 says) or RSA PKCS#1 v1.5 with SHA-256 (``http://www.w3.org/2001/04/xmldsig-more#rsa-sha256``);
* ``KeyInfo`` = ``wsse:SecurityTokenReference/wsse:KeyIdentifier`` with the ValueType
  ``…oasis-200401-wss-x509-token-profile-1.0#X509v3`` and the EncodingType
  ``…oasis-200401-wss-soap-message-security-1.0#Base64Binary``: the signer's certificate
  (DER, base64). Issuing CAs are not carried; the verifier has them (``issuing_cas``).

Tolerated as real clients write them: an unqualified ``Id`` on the Body instead of ``wsu:Id``
(Kalkan's PHP client), ``ec:InclusiveNamespaces`` in the CanonicalizationMethod and the transform
(WSS4J), extra ``Id`` attributes on the Signature, KeyInfo and SecurityTokenReference, and
``ds:Signature`` elements inside the Body (a payload's own signature is content, signed with
it); the Header holds exactly one, the child of ``wsse:Security``.

Only those algorithms are accepted. The real ШЭП signs with GOST 34.10 / 34.11
(``xmldsig-more#gost34310-gost34311``, ``xmldsig-more#gost34311``, and the
``urn:ietf:params:xml:ns:pkigovkz:xmlsec:algorithms:gostr3410…`` / ``gostr3411…`` URIs of the
2015 curves); the simulated PKI issues no GOST keys -- ECDSA P-256 with SHA-256 stands in for
them -- so a GOST-signed envelope is refused as MALFORMED with ``algorithm_refused`` set and a
message naming the algorithm received and the ones accepted (the gateway turns that into its
own fault).

Canonicalisation, digests and the signature value are signxml's (:class:`signxml.XMLSigner`
in detached mode, :class:`signxml.XMLVerifier`), on lxml; nothing here canonicalises by hand.

Verification (:func:`verify_envelope`) never raises for bad input. The first failed rule
names the verdict, in this order: ``MALFORMED`` (too large, not XML, a DTD or entity, no SOAP
1.1 Envelope / one Body / one Security header / one Signature, a Reference that is not the
Body's ``wsu:Id`` or an id that names more than one element, an algorithm not accepted, a
KeyIdentifier that is no certificate, a key that does not fit the SignatureMethod),
``SIGNATURE_MISMATCH`` (the Body's digest or the signature value), then the chain rules of
:mod:`signatures.chain` exactly as :mod:`signatures.jws` applies them (``CHAIN_NOT_TRUSTED``,
``CERT_NOT_YET_VALID`` / ``CERT_EXPIRED`` at the virtual time ``at``, ``WRONG_KEY_USAGE``).
Revocation and the signer's identity are :meth:`signatures.validation.SignatureValidator.xmldsig`'s.

Parsing is hardened (no DTD, no entities, no network, no huge_tree): an envelope over
:data:`MAX_ENVELOPE_BYTES` is refused unread, and libxml2 without huge_tree refuses a single text
node over 10 MB (an escaped payload in ``data`` larger than that is MALFORMED, "Text node too long").

Against signature wrapping the signed element must be the envelope's one ``soap:Body`` (a child
of the Envelope), the Reference must name that Body's ``wsu:Id``, no other element may carry the
same id, and the bytes signxml digested must be the canonical form of that very Body. The Body
handed back is signxml's re-parse of the canonical bytes that were digested, so a comment an
attacker slips into the text (exclusive C14N leaves comments out of the digest) never reaches
the caller.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal, Sequence

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree
from lxml.etree import _Element as XmlElement  # lxml's element type, as its documentation annotates it
from signxml import (
    CanonicalizationMethod,
    DigestAlgorithm,
    SignatureConstructionMethod,
    SignatureMethod,
    XMLSigner,
    XMLVerifier,
)
from signxml.exceptions import (
    InvalidCertificate,
    InvalidDigest,
    InvalidInput,
    InvalidSignature,
    SignXMLException,
)
from signxml.verifier import SignatureConfiguration

from .certificates import subject_info
from .chain import CertPath, build_path, check_certificate, verification_arguments
from .identity import Identity
from .verdicts import Verdict, VerdictCode

__all__ = [
    "ACCEPTED_DIGEST_METHODS",
    "ACCEPTED_SIGNATURE_METHODS",
    "MAX_ENVELOPE_BYTES",
    "XmlVerdict",
    "sign_envelope",
    "verify_envelope",
]

_log = logging.getLogger(__name__)

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DS = "http://www.w3.org/2000/09/xmldsig#"
EC_NS = "http://www.w3.org/2001/10/xml-exc-c14n#"

X509V3 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
BASE64_BINARY = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
)

EXC_C14N = CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0.value
SHA256 = DigestAlgorithm.SHA256.value
ECDSA_SHA256 = SignatureMethod.ECDSA_SHA256.value
RSA_SHA256 = SignatureMethod.RSA_SHA256.value

ACCEPTED_SIGNATURE_METHODS = (ECDSA_SHA256, RSA_SHA256)
ACCEPTED_DIGEST_METHODS = (SHA256,)

MAX_ENVELOPE_BYTES = 16 * 1024 * 1024
"""The largest envelope looked at (16 MiB); a larger one is MALFORMED before it is parsed."""

_ID_NAMES = frozenset({"Id", "ID", "id"})
_XML_ID = "{http://www.w3.org/XML/1998/namespace}id"
_WSU_ID = f"{{{WSU}}}Id"
_BASE64_TEXT = re.compile(r"[A-Za-z0-9+/=\s]+")

_GOST_NOTE = (
    "GOST 34.10/34.11 signatures are not accepted: the simulated PKI issues no GOST keys, "
    "ECDSA P-256 with SHA-256 stands in for them"
)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class XmlVerdict:
    """The outcome of :func:`verify_envelope`.

    ``certificate`` is the signer's certificate from the KeyIdentifier once it could be read;
    ``body`` is the signed ``soap:Body`` (re-parsed from the canonical bytes that were
    digested) once the signature has been proven, also when a later rule (chain, validity,
    revocation) failed -- trust its content only when ``valid``. ``algorithm_refused`` marks a
    MALFORMED verdict given because an algorithm is not one the simulator accepts (GOST
    among them), so a gateway can answer with its "algorithm not supported" fault.
    """

    verdict: Verdict
    certificate: x509.Certificate | None = None
    body: XmlElement | None = None
    algorithm_refused: bool = False

    @property
    def valid(self) -> bool:
        return self.verdict.valid

    @property
    def code(self) -> str:
        return self.verdict.code


def _malformed(detail: str, **kwargs: Any) -> XmlVerdict:
    return XmlVerdict(Verdict.fail(VerdictCode.MALFORMED, detail), **kwargs)


# --------------------------------------------------------------------------- parsing


def _parser() -> etree.XMLParser:
    """A hardened parser (one per call: lxml parsers are not to be shared between threads)."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        remove_blank_text=False,
    )


def _parse(envelope: Any) -> XmlElement | str:
    """The root element of ``envelope``, or why it cannot be read."""
    if isinstance(envelope, str):
        envelope = envelope.encode("utf-8")
    if isinstance(envelope, (bytearray, memoryview)):
        envelope = bytes(envelope)
    if not isinstance(envelope, bytes):
        return f"the envelope is not bytes but {type(envelope).__name__}"
    if len(envelope) > MAX_ENVELOPE_BYTES:
        return f"the envelope is larger than {MAX_ENVELOPE_BYTES // (1024 * 1024)} MiB"
    try:
        root = etree.fromstring(envelope, parser=_parser())
    except etree.XMLSyntaxError as exc:
        return f"the envelope is not well-formed XML ({exc.msg})"
    except ValueError as exc:  # e.g. a str with an encoding declaration
        return f"the envelope is not XML ({exc})"
    if root is None:
        return "the envelope is empty"
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.externalDTD is not None or docinfo.doctype:
        return "a document type declaration (DTD) is not accepted in a SOAP message"
    for _ in root.iter(etree.Entity):
        return "an entity reference is not accepted in a SOAP message"
    return root


def _children(parent: XmlElement, tag: str) -> list[XmlElement]:
    return [child for child in parent if child.tag == tag]


def _qname(namespace: str, local: str) -> str:
    return f"{{{namespace}}}{local}"


def _envelope_parts(root: XmlElement) -> tuple[XmlElement, XmlElement | None] | str:
    """(Body, Header or None) of a SOAP 1.1 envelope, or what is wrong."""
    if not isinstance(root.tag, str) or root.tag != _qname(SOAP11, "Envelope"):
        return f"the document is not a SOAP 1.1 Envelope (its root is {root.tag!r})"
    bodies = _children(root, _qname(SOAP11, "Body"))
    if len(bodies) != 1:
        return f"the Envelope must hold one soap:Body, it holds {len(bodies)}"
    headers = _children(root, _qname(SOAP11, "Header"))
    if len(headers) > 1:
        return f"the Envelope must hold at most one soap:Header, it holds {len(headers)}"
    return bodies[0], (headers[0] if headers else None)


def _elements_with_id(root: XmlElement, value: str) -> list[XmlElement]:
    """Every element with an id-like attribute (Id / ID / id in any namespace, xml:id) = value."""
    found = []
    for element in root.iter(etree.Element):
        for name, attr in element.attrib.items():
            if attr != value:
                continue
            local = etree.QName(name).localname if name.startswith("{") else name
            if local in _ID_NAMES or name == _XML_ID:
                found.append(element)
                break
    return found


# --------------------------------------------------------------------------- algorithms


def _refusal(kind: str, received: str | None, accepted: Sequence[str]) -> XmlVerdict:
    note = f" ({_GOST_NOTE})" if received and "gost" in received.lower() else ""
    return _malformed(
        f"the {kind} {received!r} is not accepted{note}; accepted: {', '.join(accepted)}",
        algorithm_refused=True,
    )


def _key_algorithm(public_key: Any) -> str | None:
    if isinstance(public_key, rsa.RSAPublicKey):
        return RSA_SHA256
    if isinstance(public_key, ec.EllipticCurvePublicKey) and isinstance(public_key.curve, ec.SECP256R1):
        return ECDSA_SHA256
    return None


# --------------------------------------------------------------------------- signing


def _key_info(certificate: x509.Certificate) -> XmlElement:
    key_info = etree.Element(_qname(DS, "KeyInfo"), nsmap={"ds": DS})
    reference = etree.SubElement(
        key_info, _qname(WSSE, "SecurityTokenReference"), nsmap={"wsse": WSSE}
    )
    identifier = etree.SubElement(
        reference,
        _qname(WSSE, "KeyIdentifier"),
        ValueType=X509V3,
        EncodingType=BASE64_BINARY,
    )
    identifier.text = base64.b64encode(certificate.public_bytes(Encoding.DER)).decode("ascii")
    return key_info


def _body_id(body: XmlElement) -> str | None:
    """The Body's id: its ``wsu:Id``, else an unqualified ``Id`` (as some Kalkan clients write it)."""
    return body.get(_WSU_ID) or body.get("Id")


def _with_wsu_prefix(root: XmlElement, body: XmlElement) -> XmlElement:
    """``body``, or an equal Body in its place that declares ``xmlns:wsu`` (so the id reads
    ``wsu:Id``, not ``ns0:Id``); lxml cannot add a declaration to an existing element."""
    if WSU in body.nsmap.values() or "wsu" in body.nsmap:
        return body
    fresh = etree.Element(body.tag, attrib=dict(body.attrib), nsmap={**body.nsmap, "wsu": WSU})
    fresh.text, fresh.tail = body.text, body.tail
    fresh.extend(list(body))
    root.replace(body, fresh)
    return fresh


def sign_envelope(envelope: bytes, identity: Identity) -> bytes:
    """``envelope`` (a SOAP 1.1 Envelope) with a WS-Security signature over its Body.

    Adds the Header and the ``wsse:Security`` header when missing and a fresh ``wsu:Id`` to the
    Body when it has none; returns the signed envelope as UTF-8 bytes with an XML declaration.
    Raises ``ValueError`` for an envelope that cannot be signed (not XML, not SOAP 1.1, already
    signed) or a key that is neither RSA nor ECDSA P-256 or does not belong to the certificate.
    """
    root = _parse(envelope)
    if isinstance(root, str):
        raise ValueError(root)
    parts = _envelope_parts(root)
    if isinstance(parts, str):
        raise ValueError(parts)
    body, header = parts
    certificate = identity.certificate
    algorithm = _key_algorithm(identity.key.public_key())
    if algorithm is None:
        raise ValueError("only RSA and ECDSA P-256 keys can sign (rsa-sha256 / ecdsa-sha256)")
    if certificate.public_key() != identity.key.public_key():
        raise ValueError("the private key does not belong to the identity's certificate")

    if header is None:
        header = etree.Element(_qname(SOAP11, "Header"))
        root.insert(0, header)
    securities = _children(header, _qname(WSSE, "Security"))
    if len(securities) > 1:
        raise ValueError("the Header holds more than one wsse:Security header")
    if securities:
        security = securities[0]
        if security.find(_qname(DS, "Signature")) is not None:
            raise ValueError("the envelope is signed already")
    else:
        security = etree.SubElement(header, _qname(WSSE, "Security"), nsmap={"wsse": WSSE})
        security.set(_qname(SOAP11, "mustUnderstand"), "1")

    body_id = _body_id(body)
    if body_id is None:
        body = _with_wsu_prefix(root, body)
        body_id = f"id-{uuid.uuid4().hex}"
        body.set(_WSU_ID, body_id)
    if len(_elements_with_id(root, body_id)) != 1:
        raise ValueError(f"the Body's id {body_id!r} is carried by another element too")

    signer = XMLSigner(
        method=SignatureConstructionMethod.detached,
        signature_algorithm=algorithm,
        digest_algorithm=SHA256,
        c14n_algorithm=EXC_C14N,
    )
    signature = signer.sign(
        root,
        key=identity.key,
        reference_uri=f"#{body_id}",
        key_info=_key_info(certificate),
    )
    security.append(signature)
    return etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8")


# --------------------------------------------------------------------------- verification


@dataclass(frozen=True, slots=True)
class _Checked:
    """What the structural checks found: the pieces signxml and the chain rules need."""

    root: XmlElement
    body: XmlElement
    algorithm: str
    prefixes: tuple[str, ...] | None
    certificate: x509.Certificate


def _one(parent: XmlElement, namespace: str, local: str, where: str) -> XmlElement | str:
    found = _children(parent, _qname(namespace, local))
    if len(found) != 1:
        return f"{where} must hold one {local} element, it holds {len(found)}"
    return found[0]


def _prefix_list(transform: XmlElement) -> tuple[str, ...] | None | str:
    """The InclusiveNamespaces PrefixList of a transform (None if there is none), or a problem."""
    extra = list(transform)
    if not extra:
        return None
    if len(extra) != 1 or extra[0].tag != _qname(EC_NS, "InclusiveNamespaces"):
        return "the exclusive C14N transform may hold only an ec:InclusiveNamespaces element"
    return tuple((extra[0].get("PrefixList") or "").split())


def _certificate(key_info: XmlElement) -> x509.Certificate | str:
    tokens = [child for child in key_info if isinstance(child.tag, str)]
    if len(tokens) != 1 or tokens[0].tag != _qname(WSSE, "SecurityTokenReference"):
        return "KeyInfo must hold one wsse:SecurityTokenReference (and nothing else)"
    identifiers = _children(tokens[0], _qname(WSSE, "KeyIdentifier"))
    if len(identifiers) != 1 or len([c for c in tokens[0] if isinstance(c.tag, str)]) != 1:
        return "the SecurityTokenReference must hold one wsse:KeyIdentifier (and nothing else)"
    identifier = identifiers[0]
    if identifier.get("ValueType") != X509V3:
        return f"the KeyIdentifier's ValueType must be {X509V3}, it is {identifier.get('ValueType')!r}"
    encoding = identifier.get("EncodingType")
    if encoding not in (None, BASE64_BINARY):
        return f"the KeyIdentifier's EncodingType must be {BASE64_BINARY}, it is {encoding!r}"
    text = identifier.text or ""
    if not _BASE64_TEXT.fullmatch(text):
        return "the KeyIdentifier is not base64"
    try:
        der = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        return "the KeyIdentifier is not base64"
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError:
        return "the KeyIdentifier is not a DER X.509 certificate"


def _check(root: XmlElement) -> _Checked | XmlVerdict:
    """The structural and algorithm rules, before any cryptography."""
    parts = _envelope_parts(root)
    if isinstance(parts, str):
        return _malformed(parts)
    body, header = parts
    if header is None:
        return _malformed("the Envelope has no soap:Header (and so no wsse:Security header)")
    securities = _children(header, _qname(WSSE, "Security"))
    if len(securities) != 1:
        return _malformed(f"the Header must hold one wsse:Security header, it holds {len(securities)}")
    # Signatures inside the Body are the payload's own (signed with it); the Header holds one.
    signatures = list(header.iter(_qname(DS, "Signature")))
    if len(signatures) != 1:
        return _malformed(f"the Header must hold one ds:Signature, it holds {len(signatures)}")
    signature = signatures[0]
    if signature.getparent() is not securities[0]:
        return _malformed("the ds:Signature is not a child of the wsse:Security header")

    signed_info = _one(signature, DS, "SignedInfo", "the Signature")
    if isinstance(signed_info, str):
        return _malformed(signed_info)
    c14n = _one(signed_info, DS, "CanonicalizationMethod", "SignedInfo")
    if isinstance(c14n, str):
        return _malformed(c14n)
    if c14n.get("Algorithm") != EXC_C14N:
        return _refusal("canonicalization method", c14n.get("Algorithm"), (EXC_C14N,))
    method = _one(signed_info, DS, "SignatureMethod", "SignedInfo")
    if isinstance(method, str):
        return _malformed(method)
    algorithm = method.get("Algorithm")
    if algorithm not in ACCEPTED_SIGNATURE_METHODS:
        return _refusal("signature method", algorithm, ACCEPTED_SIGNATURE_METHODS)
    reference = _one(signed_info, DS, "Reference", "SignedInfo")
    if isinstance(reference, str):
        return _malformed(reference)
    values = ((signature, "SignatureValue", "the Signature"), (reference, "DigestValue", "the Reference"))
    for parent, local, where in values:
        value = _one(parent, DS, local, where)
        if isinstance(value, str):
            return _malformed(value)
        if not value.text or not _BASE64_TEXT.fullmatch(value.text):
            return _malformed(f"the {local} is not base64")
    digest = _one(reference, DS, "DigestMethod", "the Reference")
    if isinstance(digest, str):
        return _malformed(digest)
    if digest.get("Algorithm") not in ACCEPTED_DIGEST_METHODS:
        return _refusal("digest method", digest.get("Algorithm"), ACCEPTED_DIGEST_METHODS)
    transforms = _one(reference, DS, "Transforms", "the Reference")
    if isinstance(transforms, str):
        return _malformed(transforms)
    transform_list = [child for child in transforms if isinstance(child.tag, str)]
    received = [t.get("Algorithm") for t in transform_list]
    if received != [EXC_C14N] or transform_list[0].tag != _qname(DS, "Transform"):
        return _refusal("transform list", " ".join(str(a) for a in received), (EXC_C14N,))
    prefixes = _prefix_list(transform_list[0])
    if isinstance(prefixes, str):
        return _malformed(prefixes)

    body_id = _body_id(body)
    if not body_id:
        return _malformed("the soap:Body has no wsu:Id, so no signature can name it")
    uri = reference.get("URI")
    if uri != f"#{body_id}":
        return _malformed(f"the Reference URI {uri!r} does not name the soap:Body (wsu:Id {body_id!r})")
    holders = _elements_with_id(root, body_id)
    if len(holders) != 1:
        return _malformed(f"the id {body_id!r} is carried by {len(holders)} elements, not by the Body alone")

    key_info = _one(signature, DS, "KeyInfo", "the Signature")
    if isinstance(key_info, str):
        return _malformed(key_info)
    certificate = _certificate(key_info)
    if isinstance(certificate, str):
        return _malformed(certificate)
    try:
        key_algorithm = _key_algorithm(certificate.public_key())
    except (ValueError, UnsupportedAlgorithm) as exc:
        return _malformed(f"the certificate's key cannot be read ({exc})", certificate=certificate)
    if key_algorithm is None:
        return _malformed(
            "the certificate's key is neither RSA nor ECDSA P-256", certificate=certificate
        )
    if key_algorithm != algorithm:
        return _malformed(
            f"the signature method {algorithm} does not fit the certificate's key "
            f"(expected {key_algorithm})",
            certificate=certificate,
        )
    return _Checked(root, body, algorithm, prefixes, certificate)


@lru_cache(maxsize=1024)
def _path(certs: tuple[x509.Certificate, ...], roots: tuple[x509.Certificate, ...]) -> CertPath | str:
    return build_path(certs, roots)


def _signer(certificate: x509.Certificate) -> dict[str, Any] | str:
    """The signer dict of the JWS verdict's shape, or why the certificate cannot be read
    (unreadable extensions are MALFORMED, as for an ``x5c[0]``)."""
    try:
        signer = subject_info(certificate)
        certificate.extensions  # noqa: B018 -- parses every extension, raises ValueError if one is broken
    except (ValueError, UnsupportedAlgorithm) as exc:
        return f"the signer's certificate cannot be read ({exc})"
    signer["roles"] = list(signer["roles"])
    return signer


def verify_envelope(
    envelope: bytes,
    *,
    trusted_roots: Sequence[x509.Certificate],
    issuing_cas: Sequence[x509.Certificate],
    at: datetime,
    usage: Literal["sign", "auth"] | None = "sign",
) -> XmlVerdict:
    """Check the WS-Security signature of a SOAP 1.1 envelope (see the module's profile).

    ``issuing_cas`` are the CA certificates a path from the signer's certificate may use on
    its way to one of ``trusted_roots``; ``at`` is the (virtual) moment of the check; ``usage``
    the key usage the signer's certificate must allow (None: any). Never raises for a bad
    envelope; raises only for a wrong ``at`` / ``usage`` / ``trusted_roots`` argument.
    """
    at, roots = verification_arguments(at, usage, trusted_roots)
    cas = tuple(issuing_cas)
    for ca in cas:
        if not isinstance(ca, x509.Certificate):
            raise TypeError("issuing_cas must hold x509.Certificate objects")
    try:
        return _verify(envelope, roots, cas, at, usage)
    except Exception as exc:  # a gateway must answer with a verdict, not a crash
        _log.exception("unexpected error while verifying an XML signature")
        return _malformed(f"unexpected error: {type(exc).__name__}")


def _verify(
    envelope: Any,
    roots: tuple[x509.Certificate, ...],
    cas: tuple[x509.Certificate, ...],
    at: datetime,
    usage: str | None,
) -> XmlVerdict:
    # 1. MALFORMED
    root = _parse(envelope)
    if isinstance(root, str):
        return _malformed(root)
    checked = _check(root)
    if isinstance(checked, XmlVerdict):
        return checked
    certificate = checked.certificate
    signer = _signer(certificate)
    if isinstance(signer, str):
        return _malformed(signer, certificate=certificate)

    # 2. SIGNATURE_MISMATCH (signxml: the Body's digest, then the signature over SignedInfo).
    # Its own certificate-validity check is kept out of the way (a moment inside the
    # certificate's window): the chain rules below judge validity at the virtual time.
    config = SignatureConfiguration(
        require_x509=True,
        location=f"./{{{SOAP11}}}Header/{{{WSSE}}}Security/",
        expect_references=1,
        signature_methods=frozenset({SignatureMethod(checked.algorithm)}),
        digest_algorithms=frozenset({DigestAlgorithm.SHA256}),
        verification_time=certificate.not_valid_before_utc,
    )
    try:
        result = XMLVerifier().verify(
            root,
            x509_cert=certificate,
            parser=_parser(),
            id_attribute="Id",
            expect_config=config,
            # The structure is checked above; signxml's schema would refuse the
            # ec:InclusiveNamespaces that WSS4J puts in CanonicalizationMethod.
            validate_schema=False,
        )
    except InvalidCertificate as exc:  # signxml's own reading of the certificate
        return _malformed(f"the signer's certificate cannot be used ({exc})", certificate=certificate)
    except InvalidDigest:
        return XmlVerdict(
            Verdict.fail(VerdictCode.SIGNATURE_MISMATCH, "the digest of the soap:Body does not match"),
            certificate=certificate,
        )
    except InvalidSignature as exc:
        return XmlVerdict(
            Verdict.fail(VerdictCode.SIGNATURE_MISMATCH, f"the signature value does not verify ({exc})"),
            certificate=certificate,
        )
    except (InvalidInput, SignXMLException, ValueError) as exc:
        return _malformed(f"the ds:Signature cannot be checked ({exc})", certificate=certificate)

    # The element signxml digested must be this envelope's Body, byte for byte.
    expected = etree.tostring(
        checked.body,
        method="c14n",
        exclusive=True,
        with_comments=False,
        inclusive_ns_prefixes=list(checked.prefixes) if checked.prefixes else None,
    )
    if result.signed_data != expected or result.signed_xml is None:
        return _malformed("the element signed is not the envelope's soap:Body", certificate=certificate)
    body = result.signed_xml

    # 3-5. CHAIN_NOT_TRUSTED, CERT_NOT_YET_VALID / CERT_EXPIRED, WRONG_KEY_USAGE
    path = _path((certificate, *cas), roots)
    failure = check_certificate(path, at=at, usage=usage, signer=signer)  # type: ignore[arg-type]
    if failure is not None:
        return XmlVerdict(failure, certificate=certificate, body=body)
    return XmlVerdict(Verdict.ok(signer), certificate=certificate, body=body)


def clear_caches() -> None:
    """Forget cached certificate paths (never needed for correctness)."""
    _path.cache_clear()
