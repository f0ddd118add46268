"""Authenticated hops: a gateway signs every message it hands to the next system.

A forwarding gateway signs, with its own CA-issued key, a *hop statement* binding its name, the
system it hands the message to, the SHA-256 of the exact body, the virtual time and a nonce drawn
for this hop alone::

    {"hop": "gateway", "target": "registries", "bodySha256": "<hex>", "at": "<ISO 8601>", "nonce": "<hex>"}

The statement's fields travel in headers (:data:`HOP_HEADER` and the ``X-Egov-Hop-*`` ones) and
its detached JWS (:func:`signatures.jws.sign_detached`, the statement's RFC 8785 form) in
:data:`HOP_SIGNATURE_HEADER`. Nothing in the source lets anyone else produce one: it takes the
gateway's private key.

The receiver (:class:`HopVerifier`) rebuilds the statement from the headers and checks, in this
order, answering ``Client.HopNotTrusted`` naming the first check that fails: the hop is one it
takes messages from; the statement names the receiver, its digest is the body's, its time is
within ``message_date_skew`` of the receiver's (the cheap checks first); the signature verifies
with the run's validator (chain, validity, key usage and revocation,
:class:`signatures.validation.SignatureValidator`); the certificate's CN is the claimed hop; and
its nonce was not seen before -- a hop captured on the wire and sent again within the window is
refused, so nobody but the gateway gets an answer for it (the receiver remembers the nonces of
the window; a retry of the gateway's is a new hop with a new nonce). A hop certificate is verified once per certificate: the
validator keeps its parsed chain and trust path (keyed by the token's header) and its OCSP answer
(keyed by issuer and serial number, for ``ocsp_freshness``, forgotten when the CA announces a
revocation), so a statement from a known hop costs one ECDSA check and a dictionary look-up.
"""

from __future__ import annotations

import hashlib
import secrets
from collections import OrderedDict
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from gateway_protocol.envelope import HOP_HEADER
from gateway_protocol.errors import ErrorCode, GatewayFault
from signatures.identity import Identity
from signatures.jws import sign_detached

HOP_TARGET_HEADER = "X-Egov-Hop-Target"
HOP_DIGEST_HEADER = "X-Egov-Hop-Body-Sha256"
HOP_DATE_HEADER = "X-Egov-Hop-Date"
HOP_NONCE_HEADER = "X-Egov-Hop-Nonce"
HOP_SIGNATURE_HEADER = "X-Egov-Hop-Signature"
"""The detached JWS over the hop statement."""

HOP_HEADERS = (HOP_HEADER, HOP_TARGET_HEADER, HOP_DIGEST_HEADER, HOP_DATE_HEADER, HOP_NONCE_HEADER,
               HOP_SIGNATURE_HEADER)


class Validator(Protocol):
    async def jws(self, token: str, content: Any, *, at: datetime) -> Any: ...


def statement(hop: str, target: str, digest: str, at: str, nonce: str) -> dict[str, str]:
    """The JSON a hop signature covers."""
    return {"hop": hop, "target": target, "bodySha256": digest, "at": at, "nonce": nonce}


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def sign_hop(identity: Identity, hop: str, target: str, body: bytes, at: datetime) -> dict[str, str]:
    """The headers with which ``hop`` hands ``body`` to ``target`` at the virtual time ``at``."""
    digest, moment, nonce = body_digest(body), at.isoformat(), secrets.token_hex(16)
    return {
        HOP_HEADER: hop,
        HOP_TARGET_HEADER: target,
        HOP_DIGEST_HEADER: digest,
        HOP_DATE_HEADER: moment,
        HOP_NONCE_HEADER: nonce,
        HOP_SIGNATURE_HEADER: sign_detached(
            statement(hop, target, digest, moment, nonce), identity.key, identity.chain
        ),
    }


def has_hop(headers: Mapping[str, str]) -> bool:
    """Whether the request claims to come through a hop at all (any hop header)."""
    return any(headers.get(name) is not None for name in HOP_HEADERS)


class HopVerifier:
    """Checks the hop statements that reach one system (``receiver``)."""

    def __init__(self, receiver: str) -> None:
        self.receiver = receiver
        self._seen: OrderedDict[tuple[str, str], datetime] = OrderedDict()
        """(hop, nonce) of the hops taken within the window, with their time, oldest first."""

    async def verify(
        self, headers: Mapping[str, str], body: bytes, *, accepted: Collection[str], validator: Validator,
        at: datetime, skew: timedelta,
    ) -> str:
        """The authenticated hop's name; ``Client.HopNotTrusted`` naming the failed check otherwise."""
        hop = headers.get(HOP_HEADER)
        if not hop:
            raise _untrusted("no hop", f"the request names no forwarding gateway ({HOP_HEADER})")
        if hop not in accepted:
            raise _untrusted("hop", f"{self.receiver} takes messages from {', '.join(sorted(accepted))}, not {hop!r}")
        token = headers.get(HOP_SIGNATURE_HEADER)
        if not token:
            raise _untrusted("hop signature", f"{hop!r} sent no hop signature ({HOP_SIGNATURE_HEADER})")
        target = headers.get(HOP_TARGET_HEADER) or ""
        digest = headers.get(HOP_DIGEST_HEADER) or ""
        moment = headers.get(HOP_DATE_HEADER) or ""
        nonce = headers.get(HOP_NONCE_HEADER) or ""
        if target != self.receiver:
            raise _untrusted("hop target", f"the hop was signed for {target!r}, not for {self.receiver!r}")
        if digest != body_digest(body):
            raise _untrusted("hop digest", "the body is not the one the hop signed (SHA-256 differs)")
        try:
            signed_at = datetime.fromisoformat(moment)
        except ValueError:
            raise _untrusted("hop date", f"{HOP_DATE_HEADER} {moment!r} is no ISO 8601 time") from None
        if signed_at.tzinfo is None:
            signed_at = signed_at.replace(tzinfo=at.tzinfo)
        if abs(signed_at - at) > skew:
            raise _untrusted(
                "hop date", f"the hop was signed at {moment}, more than {skew.total_seconds():g} s from {at.isoformat()}"
            )
        if not 16 <= len(nonce) <= 128:
            raise _untrusted("hop nonce", f"{HOP_NONCE_HEADER} must carry the hop's own nonce (16-128 characters)")
        verdict = await validator.jws(token, statement(hop, target, digest, moment, nonce), at=at)
        if not verdict.valid:
            raise _untrusted("hop signature", f"the hop signature of {hop!r} did not verify: {verdict.message}",
                             verdict=verdict.code)
        signer = (verdict.signer or {}).get("common_name")
        if signer != hop:
            raise _untrusted("hop certificate", f"the hop is signed by {signer!r}, not by {hop!r}")
        self._forget_before(at - skew)
        if (hop, nonce) in self._seen:
            raise _untrusted("hop replayed", f"this hop of {hop!r} (nonce {nonce}) was taken already: a copy, "
                                             "not the gateway's own delivery")
        self._seen[(hop, nonce)] = signed_at
        return hop

    def _forget_before(self, oldest: datetime) -> None:
        """Drop the nonces of hops signed before ``oldest``: their date check refuses them anyway."""
        while self._seen:
            key, signed_at = next(iter(self._seen.items()))
            if signed_at >= oldest:
                break
            del self._seen[key]


def _untrusted(check: str, detail: str, **data: Any) -> GatewayFault:
    return GatewayFault(ErrorCode.HOP_NOT_TRUSTED, detail, data={"check": check, **data})
