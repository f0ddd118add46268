"""The simulated PKI's time-stamping authority (TSA), RFC 3161: it makes time-stamp tokens, and
the code that asks for and checks them.

A client sends a ``TimeStampReq`` (the hash of its data, a nonce) to ``POST /tsa``; the TSA
answers a ``TimeStampResp`` whose token is a CMS SignedData over a ``TSTInfo``: the hash, the
run's *virtual* time (``genTime``), a serial number and the TSA's policy. The token is signed
by the TSA's own certificate, issued by the run's RSA issuing CA with the one extended key usage
``timeStamping``, marked critical (RFC 3161 section 2.3), so any RFC 3161 verifier --
``openssl ts -verify`` among them -- accepts it with the run's root and issuing CA.

The TSA's key and certificate are kept with the CA's own keys (the ``ca_authorities`` table,
role ``tsa``), created on the run's first start and reused after a restart.

Structures are built and read with ``asn1crypto`` (:mod:`asn1crypto.tsp`, :mod:`asn1crypto.cms`);
keys, hashes and certificates are ``cryptography``'s. Nothing here reads the wall clock.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Sequence

import httpx
from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sqlmodel import select

from signatures.certificates import (
    PrivateKey,
    authority_key_id,
    cert_from_pem,
    cert_to_pem,
    generate_key,
    key_from_pem,
    key_to_pem,
)
from signatures.chain import build_path, check_certificate
from signatures.models import AuthorityRecord

__all__ = [
    "QUERY_TYPE",
    "REPLY_TYPE",
    "TSA_NAME",
    "TSA_POLICY",
    "TimeStampError",
    "TimeStampRequestError",
    "TimeStampResponse",
    "TimeStampingAuthority",
    "TokenCheck",
    "create_tsa_certificate",
    "make_query",
    "request_token",
    "read_reply",
    "stored_roots",
    "verify_token",
]

QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"
TSA_ROLE = "tsa"
"""The TSA's row in the CA's ``ca_authorities`` table."""
TSA_NAME = "ҰЛТТЫҚ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ TSA"
TSA_POLICY = "1.2.398.3.3.4.9.1"
"""The policy under which the simulated TSA issues its tokens: the simulation's own identifier in
the arc of its certificate policies (1.2.398.3.3.4.x), not a policy of the real НУЦ РК."""
MAX_QUERY_BYTES = 16 * 1024
"""A TimeStampReq is a hash, a nonce and a few flags: a few hundred bytes."""

_DIGESTS: dict[str, hashes.HashAlgorithm] = {
    "sha256": hashes.SHA256(),
    "sha384": hashes.SHA384(),
    "sha512": hashes.SHA512(),
}
_PKCS1 = padding.PKCS1v15()


class TimeStampRequestError(ValueError):
    """A query the TSA cannot read at all: answered 400 naming the rule."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class TimeStampError(RuntimeError):
    """The TSA could not be reached, or did not grant a token."""


class TimeStampResponse(tsp.TimeStampResp):
    """RFC 3161's TimeStampResp, whose token is OPTIONAL (absent when the request is refused);
    asn1crypto 1.5 declares it required."""

    _fields = [
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


# --------------------------------------------------------------------------- the TSA's certificate


def create_tsa_certificate(
    key: PrivateKey, issuer_cert: x509.Certificate, issuer_key: PrivateKey
) -> x509.Certificate:
    """The TSA's certificate: valid as long as its issuing CA, digitalSignature and
    nonRepudiation, and the single extended key usage timeStamping, critical (RFC 3161 2.3)."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([
            x509.NameAttribute(NameOID.COMMON_NAME, TSA_NAME),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ"),
        ]))
        .issuer_name(issuer_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(issuer_cert.not_valid_before_utc)
        .not_valid_after(issuer_cert.not_valid_after_utc)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=True, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(authority_key_id(issuer_cert), critical=False)
    )
    return builder.sign(issuer_key, hashes.SHA256())


def _is_tsa_certificate(cert: x509.Certificate) -> str | None:
    """None when ``cert`` may sign time-stamp tokens, else why not."""
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        return "the signer's certificate has no extended key usage (timeStamping is required)"
    if list(eku.value) != [ExtendedKeyUsageOID.TIME_STAMPING] or not eku.critical:
        return "the signer's certificate is not a TSA certificate (timeStamping only, critical)"
    return None


# --------------------------------------------------------------------------- the authority


@dataclass
class _Signer:
    key: PrivateKey
    chain: tuple[x509.Certificate, ...]  # the TSA's certificate, then its issuing CA


class TimeStampingAuthority:
    """The TSA of the run: ``start`` after the CA's own start (it is certified by the RSA CA)."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self._signer: _Signer | None = None

    async def start(self) -> None:
        async with self.runtime.db.session() as session:
            rows = {r.role: r for r in (await session.exec(select(AuthorityRecord))).all()}
            issuer = rows.get("rsa")
            if issuer is None:
                raise RuntimeError("the TSA needs the CA's RSA issuing CA: start the CA first")
            issuer_cert = cert_from_pem(issuer.certificate_pem)
            record = rows.get(TSA_ROLE)
            if record is None:
                key = generate_key("rsa")
                cert = create_tsa_certificate(key, issuer_cert, key_from_pem(issuer.key_pem, own=True))
                record = AuthorityRecord(
                    role=TSA_ROLE, key_pem=key_to_pem(key).decode(), certificate_pem=cert_to_pem(cert).decode()
                )
                session.add(record)
                await session.commit()
        self._signer = _Signer(key_from_pem(record.key_pem, own=True), (cert_from_pem(record.certificate_pem), issuer_cert))

    @property
    def certificate(self) -> x509.Certificate:
        return self._ready().chain[0]

    @property
    def chain(self) -> tuple[x509.Certificate, ...]:
        return self._ready().chain

    def _ready(self) -> _Signer:
        if self._signer is None:
            raise RuntimeError("the TSA has not started")
        return self._signer

    async def respond(self, query: bytes) -> bytes:
        """The DER TimeStampResp to a DER TimeStampReq: granted, or rejected with the failure
        RFC 3161 names. Raises :class:`TimeStampRequestError` for bytes that are no TimeStampReq."""
        request = _read_query(query)
        refusal = _refusal(request)
        if refusal is not None:
            return TimeStampResponse({"status": refusal}).dump()
        token = self.token(request, await self.runtime.now())
        return TimeStampResponse({"status": {"status": "granted"}, "time_stamp_token": token}).dump()

    def token(self, request: tsp.TimeStampReq, at: datetime) -> cms.ContentInfo:
        """A time-stamp token for ``request``, with ``at`` (the virtual time) as its genTime."""
        signer = self._ready()
        at = at.astimezone(timezone.utc).replace(microsecond=0)
        info: dict[str, Any] = {
            "version": "v1",
            "policy": TSA_POLICY,
            "message_imprint": request["message_imprint"],
            "serial_number": x509.random_serial_number(),
            "gen_time": at,
            "tsa": asn1_x509.GeneralName(
                {"directory_name": asn1_x509.Name.load(signer.chain[0].subject.public_bytes())}
            ),
        }
        if request["nonce"].native is not None:
            info["nonce"] = request["nonce"].native
        tst_der = tsp.TSTInfo(info).dump()
        return _signed(tst_der, signer, at, include_certs=bool(request["cert_req"].native))


def _read_query(query: bytes) -> tsp.TimeStampReq:
    if not query:
        raise TimeStampRequestError("body", "empty: a DER-encoded TimeStampReq (RFC 3161) is expected")
    if len(query) > MAX_QUERY_BYTES:
        raise TimeStampRequestError("body", f"larger than {MAX_QUERY_BYTES} bytes: not a TimeStampReq")
    try:
        request = tsp.TimeStampReq.load(query, strict=True)
        request.native  # parse every field now: asn1crypto reads lazily
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, RecursionError) as exc:
        raise TimeStampRequestError(
            "body", f"not a DER-encoded TimeStampReq (RFC 3161): {str(exc).splitlines()[0][:200]}"
        ) from None
    return request


def _refusal(request: tsp.TimeStampReq) -> dict[str, Any] | None:
    """The PKIStatusInfo of a readable request the TSA does not grant, or None."""

    def rejection(fail: str, text: str) -> dict[str, Any]:
        return {"status": "rejection", "status_string": [text], "fail_info": {fail}}

    if request["version"].native != "v1":
        return rejection("bad_request", "version: only version 1 requests are served")
    imprint = request["message_imprint"]
    algorithm = imprint["hash_algorithm"]["algorithm"].native
    if algorithm not in _DIGESTS:
        return rejection("bad_alg", f"messageImprint.hashAlgorithm: {algorithm} is not served (sha256, sha384, sha512)")
    if len(imprint["hashed_message"].native) != _DIGESTS[algorithm].digest_size:
        return rejection("bad_data_format", f"messageImprint.hashedMessage: not a {algorithm} digest")
    policy = request["req_policy"].native
    if policy is not None and request["req_policy"].dotted != TSA_POLICY:
        return rejection("unaccepted_policy", f"reqPolicy: only {TSA_POLICY} is served")
    if request["extensions"].native:
        return rejection("unaccepted_extensions", "extensions: none are served")
    return None


def _signed(content: bytes, signer: _Signer, at: datetime, *, include_certs: bool) -> cms.ContentInfo:
    """A CMS SignedData over a TSTInfo (eContentType id-ct-TSTInfo), with the ESS
    signingCertificateV2 attribute that RFC 3161 (and RFC 5816) ask for."""
    cert = asn1_x509.Certificate.load(signer.chain[0].public_bytes(Encoding.DER))
    attributes = cms.CMSAttributes([
        cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}),
        cms.CMSAttribute({"type": "signing_time", "values": [cms.Time({"generalized_time": at})
                                                             if not 1950 <= at.year < 2050
                                                             else cms.Time({"utc_time": at})]}),
        cms.CMSAttribute({"type": "message_digest", "values": [hashlib.sha256(content).digest()]}),
        cms.CMSAttribute({
            "type": "signing_certificate_v2",
            "values": [{"certs": [{
                "cert_hash": hashlib.sha256(cert.dump()).digest(),
                "issuer_serial": {
                    "issuer": [asn1_x509.GeneralName({"directory_name": cert.issuer})],
                    "serial_number": cert.serial_number,
                },
            }]}],
        }),
    ])
    key = signer.key
    if isinstance(key, rsa.RSAPrivateKey):
        signature, algorithm = key.sign(attributes.dump(), _PKCS1, hashes.SHA256()), "sha256_rsa"
    else:
        signature, algorithm = key.sign(attributes.dump(), ec.ECDSA(hashes.SHA256())), "sha256_ecdsa"
    signed_data: dict[str, Any] = {
        "version": "v3",  # RFC 5652 5.1: eContentType is not id-data
        "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
        "encap_content_info": {"content_type": "tst_info", "content": core.ParsableOctetString(content)},
        "signer_infos": [{
            "version": "v1",
            "sid": cms.SignerIdentifier({"issuer_and_serial_number": {
                "issuer": cert.issuer, "serial_number": cert.serial_number,
            }}),
            "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
            "signed_attrs": attributes,
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": algorithm}),
            "signature": signature,
        }],
    }
    if include_certs:
        signed_data["certificates"] = [
            asn1_x509.Certificate.load(c.public_bytes(Encoding.DER)) for c in signer.chain
        ]
    return cms.ContentInfo({"content_type": "signed_data", "content": cms.SignedData(signed_data)})


# --------------------------------------------------------------------------- the client


def make_query(digest: bytes, nonce: int, algorithm: str = "sha256") -> bytes:
    """A DER TimeStampReq for ``digest``, asking for the TSA's certificate in the token."""
    return tsp.TimeStampReq({
        "version": "v1",
        "message_imprint": {"hash_algorithm": {"algorithm": algorithm}, "hashed_message": digest},
        "nonce": nonce,
        "cert_req": True,
    }).dump()


def read_reply(reply: bytes, digest: bytes, nonce: int) -> bytes:
    """The token (DER ContentInfo) of a TimeStampResp that grants ``digest`` with ``nonce``;
    :class:`TimeStampError` naming why not."""
    try:
        response = TimeStampResponse.load(reply, strict=True)
        status = response["status"]
        if status["status"].native not in ("granted", "granted_with_mods"):
            text = "; ".join(status["status_string"].native or []) or "no reason given"
            raise TimeStampError(f"the TSA refused: {status['status'].native} ({text})")
        token = response["time_stamp_token"]
        info = _tst_info(token)
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise TimeStampError(f"the TSA's answer is not a TimeStampResp: {exc}") from None
    if info["message_imprint"]["hashed_message"].native != digest:
        raise TimeStampError("the TSA's token stamps another hash than the one asked")
    if info["nonce"].native != nonce:
        raise TimeStampError("the TSA's token carries another nonce than the one sent")
    return token.dump()


async def request_token(http: httpx.AsyncClient, url: str, digest: bytes) -> bytes:
    """Ask the TSA at ``url`` to time-stamp ``digest`` (SHA-256): the token, DER.
    :class:`TimeStampError` when it cannot be had (unreachable, refused, wrong answer)."""
    nonce = secrets.randbits(63)
    try:
        response = await http.post(url, content=make_query(digest, nonce), headers={"Content-Type": QUERY_TYPE})
    except httpx.HTTPError as exc:
        raise TimeStampError(f"the TSA at {url} could not be reached: {type(exc).__name__}: {exc}") from None
    if response.status_code != 200:
        raise TimeStampError(f"the TSA at {url} answered HTTP {response.status_code}: {response.text[:200]}")
    return read_reply(response.content, digest, nonce)


# --------------------------------------------------------------------------- checking a token


@dataclass(frozen=True)
class TokenCheck:
    """The outcome of :func:`verify_token`: ``problem`` is None when the token holds."""

    problem: str | None
    gen_time: datetime | None = None
    serial: int | None = None

    @property
    def valid(self) -> bool:
        return self.problem is None


def _tst_info(token: cms.ContentInfo) -> tsp.TSTInfo:
    if token["content_type"].native != "signed_data":
        raise ValueError("the token is not a CMS SignedData")
    encap = token["content"]["encap_content_info"]
    if encap["content_type"].native != "tst_info":
        raise ValueError("the token's content is not a TSTInfo")
    return encap["content"].parsed


def verify_token(
    token: bytes, digest: bytes, *, trusted_roots: Sequence[x509.Certificate] | None
) -> TokenCheck:
    """Check an RFC 3161 token over the SHA-256 ``digest``: it stamps that digest, the TSA's
    signature and ESS attribute hold, and the TSA's certificate is a TSA certificate with a path
    to one of ``trusted_roots`` valid at the token's genTime (``trusted_roots=None``: the
    certificate is taken as the token carries it, without a path). Never raises for bad input."""
    try:
        return _verify_token(token, digest, trusted_roots)
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, RecursionError) as exc:
        return TokenCheck(f"the time-stamp token cannot be read ({type(exc).__name__}: {str(exc)[:200]})")


def _verify_token(token_der: bytes, digest: bytes, roots: Sequence[x509.Certificate] | None) -> TokenCheck:
    token = cms.ContentInfo.load(token_der, strict=True)
    info = _tst_info(token)
    gen_time = info["gen_time"].native
    serial = info["serial_number"].native
    if info["message_imprint"]["hash_algorithm"]["algorithm"].native != "sha256":
        return TokenCheck("the token's messageImprint is not SHA-256", gen_time, serial)
    if info["message_imprint"]["hashed_message"].native != digest:
        return TokenCheck("the token stamps another hash (the stamped data was changed)", gen_time, serial)
    signed_data = token["content"]
    if len(signed_data["signer_infos"]) != 1:
        return TokenCheck("the token has not exactly one signer", gen_time, serial)
    signer_info = signed_data["signer_infos"][0]
    certs = [
        x509.load_der_x509_certificate(choice.chosen.dump())
        for choice in (signed_data["certificates"] or [])
        if choice.name == "certificate"
    ]
    sid = signer_info["sid"]
    if sid.name != "issuer_and_serial_number":
        return TokenCheck("the token's signer is not named by issuer and serial number", gen_time, serial)
    wanted = (sid.chosen["issuer"].dump(), sid.chosen["serial_number"].native)
    signer = next(
        (c for c in certs if (asn1_x509.Certificate.load(c.public_bytes(Encoding.DER)).issuer.dump(), c.serial_number) == wanted),
        None,
    )
    if signer is None:
        return TokenCheck("the token does not carry the TSA's certificate", gen_time, serial)
    attributes = {a["type"].native: a["values"] for a in signer_info["signed_attrs"]}
    content = signed_data["encap_content_info"]["content"].contents
    digest_name = signer_info["digest_algorithm"]["algorithm"].native
    if digest_name not in _DIGESTS:
        return TokenCheck(f"the token's digest algorithm {digest_name} is not supported", gen_time, serial)
    if [v.native for v in attributes.get("content_type", [])] != ["tst_info"]:
        return TokenCheck("the token's signed contentType is not id-ct-TSTInfo", gen_time, serial)
    message_digest = [v.native for v in attributes.get("message_digest", [])]
    if message_digest != [hashlib.new(digest_name, content).digest()]:
        return TokenCheck("the token's TSTInfo was changed after it was signed", gen_time, serial)
    ess = attributes.get("signing_certificate_v2")
    if ess is None:
        return TokenCheck("the token has no ESS signingCertificateV2 attribute", gen_time, serial)
    first = ess[0]["certs"][0]
    ess_hash = hashlib.new(first["hash_algorithm"]["algorithm"].native, signer.public_bytes(Encoding.DER)).digest()
    if first["cert_hash"].native != ess_hash:
        return TokenCheck("the token's ESS attribute names another certificate", gen_time, serial)
    # The signature is over the DER SET OF the signed attributes: their [0] IMPLICIT tag made a SET.
    signed_attrs = signer_info["signed_attrs"].untag().dump(force=False)
    if not _signature_holds(signer, signer_info, signed_attrs, _DIGESTS[digest_name]):
        return TokenCheck("the TSA's signature on the token does not verify", gen_time, serial)
    problem = _is_tsa_certificate(signer)
    if problem:
        return TokenCheck(problem, gen_time, serial)
    if roots is not None:
        path = build_path([signer, *certs], roots)
        failure = check_certificate(path, at=gen_time, usage=None)
        if failure is not None:
            return TokenCheck(f"the TSA's certificate: {failure.code}: {failure.message}", gen_time, serial)
    return TokenCheck(None, gen_time, serial)


def _signature_holds(cert: x509.Certificate, signer_info: cms.SignerInfo, data: bytes, digest: hashes.HashAlgorithm) -> bool:
    public_key: Any = cert.public_key()
    signature = signer_info["signature"].native
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, data, _PKCS1, digest)
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, data, ec.ECDSA(digest))
        else:
            return False
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


# --------------------------------------------------------------------------- trust anchors on disk


async def stored_roots(settings: Any) -> list[x509.Certificate]:
    """The run's root certificate, read from the CA's own database (for the command line, which
    checks a log without the systems running); empty when the CA never started in this run."""
    from simulation.database import Database

    from signatures.models import SignaturesModel

    database = Database(settings, "signatures")
    try:
        await database.create_tables([SignaturesModel.metadata])
        async with database.session() as session:
            record = await session.get(AuthorityRecord, "root")
        return [cert_from_pem(record.certificate_pem)] if record is not None else []
    finally:
        await database.dispose()
