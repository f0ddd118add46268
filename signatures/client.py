"""What other systems ask of the certification authority over HTTP.

The PKI is public infrastructure, as in reality: a system fetches the trusted root and enrols for
its certificate directly from the CA, not through the gateway.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from datetime import datetime
from pathlib import Path
from typing import Literal

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from signatures.certificates import CA_KEY_ALGORITHM, describe_key, generate_key, key_algorithm
from signatures.identity import Identity
from signatures.jws import sign_detached, verify_detached
from signatures.proofs import csr_digest, make_proof
from simulation.access import TOKEN_HEADER

log = logging.getLogger(__name__)


class CertificationAuthorityUnavailable(RuntimeError):
    """The certification authority could not be reached, or refused a request; the message is
    one line naming the URL."""


ANNOUNCE_AFTER = 1.0
"""Seconds without an answer from the CA after which a caller says what it is waiting for."""


async def _call(http: httpx.AsyncClient, method: str, url: str, *, wait: float, **kwargs) -> httpx.Response:
    """Call the CA, waiting up to ``wait`` seconds for it to come up.

    While the CA does not answer, a log line says so: a warning at the first failure (a system
    started before the CA, or pointed at the wrong URL, says at once what it waits for), an info
    line when an answer takes longer than :data:`ANNOUNCE_AFTER` seconds (a busy CA is no fault).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    delay = 0.05
    announced = False

    def announce(problem: str, level: int = logging.WARNING) -> None:
        nonlocal announced
        if not announced:
            announced = True
            log.log(level, "waiting up to %g s for the certification authority at %s (%s)", wait, url, problem)

    timer = loop.call_later(ANNOUNCE_AFTER, announce, f"no answer after {ANNOUNCE_AFTER:g} s", logging.INFO)
    try:
        while True:
            try:
                limits = http.timeout  # connecting takes no longer than the wait has left
                connect = max(0.1, deadline - loop.time())
                if limits.connect is not None:
                    connect = min(connect, limits.connect)
                timeout = httpx.Timeout(connect=connect, read=limits.read, write=limits.write, pool=limits.pool)
                response = await http.request(method, url, timeout=timeout, **kwargs)
                if response.status_code < 500:
                    response.raise_for_status()
                    if announced:
                        log.info("the certification authority at %s answers", url)
                    return response
                problem = f"HTTP {response.status_code}"
            except httpx.TransportError as exc:
                problem = str(exc) or type(exc).__name__
            except httpx.HTTPStatusError as exc:
                said = " ".join(exc.response.text[:300].split())
                raise CertificationAuthorityUnavailable(
                    f"the certification authority at {url} refused the request: HTTP "
                    f"{exc.response.status_code}" + (f": {said}" if said else "")
                ) from None
            if loop.time() + delay > deadline:
                raise CertificationAuthorityUnavailable(
                    f"the certification authority at {url} did not answer within {wait:g} s ({problem})"
                )
            announce(problem)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)
    finally:
        timer.cancel()


async def fetch_chain(http: httpx.AsyncClient, base_url: str, *, wait: float = 30.0) -> list[x509.Certificate]:
    """The CA's published certificates: the issuing CAs and the root."""
    response = await _call(http, "GET", f"{base_url}/v1/ca/chain", wait=wait)
    return x509.load_pem_x509_certificates(response.content)


async def fetch_roots(http: httpx.AsyncClient, base_url: str, *, wait: float = 30.0) -> list[x509.Certificate]:
    response = await _call(http, "GET", f"{base_url}/v1/ca/root", wait=wait)
    return x509.load_pem_x509_certificates(response.content)


async def enrol_system(
    http: httpx.AsyncClient,
    base_url: str,
    system: str,
    *,
    key_file: Path,
    roots: list[x509.Certificate],
    at: datetime,
    ca: Literal["gost", "rsa"] = "gost",
    wait: float = 30.0,
    admin_token: str | None = None,
) -> Identity:
    """The system's identity: from its key storage if still trusted and of the key type of ``ca``
    (gost: ECDSA P-256, the GOST stand-in; rsa: RSA-2048), else newly enrolled with such a key.

    The CA certifies a system only for the run's administrator or for the holder of the system's
    current key: a renewal (a stored, still trusted key of the other type) is signed with the
    stored key; a first enrolment (no stored key, or one the CA no longer trusts) carries
    ``admin_token`` -- the administrator started the run and the system reads its data directory."""
    algorithm = CA_KEY_ALGORITHM[ca]
    stored = _stored_identity(key_file, roots, at)
    if stored is not None:
        if key_algorithm(stored.key) == algorithm:
            return stored
        log.info("%s holds a %s key; enrolling with the %s CA instead", key_file.name, describe_key(stored.key), ca)
    key = generate_key(algorithm)
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, system)]))
        .sign(key, hashes.SHA256())
    )
    csr_pem = csr.public_bytes(serialization.Encoding.PEM).decode()
    body: dict = {"system": system, "csr_pem": csr_pem}
    headers = {}
    if stored is not None:
        body["proof"] = make_proof(stored, "certify-system", at, system=system, csr_sha256=csr_digest(csr_pem))
    elif admin_token:
        headers[TOKEN_HEADER] = admin_token
    response = await _call(http, "POST", f"{base_url}/v1/certificates/system", wait=wait, json=body, headers=headers)
    body = response.json()
    chain = x509.load_pem_x509_certificates(body["chain_pem"].encode())
    identity = Identity(key, tuple(chain))
    identity.save(key_file, system)
    return identity


def _stored_identity(key_file: Path, roots: list[x509.Certificate], at: datetime) -> Identity | None:
    """The key storage at ``key_file`` if it still signs under the CA's root (the run's CA may
    have been created anew), else None."""
    if not key_file.exists():
        return None
    identity = Identity.load(key_file)
    probe = {"probe": key_file.name}
    token = sign_detached(probe, identity.key, identity.chain)
    if verify_detached(token, probe, trusted_roots=roots, at=at).valid:
        return identity
    log.info("%s is no longer trusted; asking the CA again", key_file.name)
    return None


async def obtain_person_identity(
    http: httpx.AsyncClient,
    base_url: str,
    person: dict,
    *,
    key_file: Path,
    roots: list[x509.Certificate],
    at: datetime,
    wait: float = 30.0,
    admin_token: str | None = None,
) -> Identity:
    """A person's signing key storage: from ``key_file`` if still trusted, else newly issued --
    which only the run's administrator may ask for (``admin_token``)."""
    stored = _stored_identity(key_file, roots, at)
    if stored is not None:
        return stored
    headers = {TOKEN_HEADER: admin_token} if admin_token else {}
    response = await _call(http, "POST", f"{base_url}/v1/certificates/person", wait=wait, json=person, headers=headers)
    body = response.json()
    identity = Identity.from_pkcs12(base64.b64decode(body["pkcs12"]), body["password"].encode())
    identity.save(key_file, person.get("surname", "person"))
    return identity


async def certificate_status(http: httpx.AsyncClient, base_url: str, serial_hex: str) -> dict:
    """The CA's word on a certificate: good, revoked (when, why) or unknown."""
    response = await _call(http, "GET", f"{base_url}/v1/certificates/{serial_hex}/status", wait=5.0)
    return response.json()


async def renewed_key_storage(http: httpx.AsyncClient, base_url: str, path: Path, at: datetime) -> Path:
    """A seeded key storage that is still valid at ``at`` -- renewed by the CA if it has expired.

    People renew their keys when the old ones run out; a run whose virtual time has gone past a
    certificate's end does the same: the CA re-issues it (the old one is superseded) and the new
    key storage replaces the old file, with the same password. The request is signed with the old
    key (a proof of holding it, :mod:`signatures.proofs`): the holder renews their own key.
    """
    identity = Identity.load(path)
    if identity.certificate.not_valid_after_utc > at:
        return path
    serial = format(identity.certificate.serial_number, "x")
    response = await _call(http, "POST", f"{base_url}/v1/certificates/{serial}/reissue", wait=10.0,
                           json={"proof": make_proof(identity, "reissue", at)})
    body = response.json()
    prefix = path.stem.rsplit("_", 1)[0]  # RSA256, AUTH_RSA256, GOSTKNCA …
    renewed = path.with_name(f"{prefix}_{body['serial'][:16]}.p12")
    renewed.write_bytes(base64.b64decode(body["pkcs12"]))
    if renewed != path:
        path.unlink()
    log.info("renewed the expired key storage %s as %s", path.name, renewed.name)
    return renewed
