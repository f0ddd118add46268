"""Certificate path building and checking, shared by the JWS and CMS verifiers.

Two steps, kept apart so that the costly one can be cached:

1. :func:`build_path` walks from the signer's certificate (the *leaf*) towards one
   of the trust anchors, verifying every link with ``verify_directly_issued_by``
   and checking that every certificate acting as a CA has BasicConstraints
   ``ca=True``, respects its pathLen and, when it has a KeyUsage, allows
   keyCertSign. The result, a :class:`CertPath` (or a string saying why there
   is none), depends only on the certificates and the trust anchors, never on
   the time, so callers may cache it.
2. :func:`check_certificate` applies the time-dependent and purpose rules to a
   path: every certificate's validity window at the (virtual) time ``at``, leaf
   first, then the leaf's key usage. It returns ``None`` when everything holds,
   else the first failed :class:`~signatures.verdicts.Verdict`, in this order:
   ``CHAIN_NOT_TRUSTED``, ``CERT_NOT_YET_VALID`` / ``CERT_EXPIRED``,
   ``WRONG_KEY_USAGE``.

The extra certificates may be given in signing order (``ordered=True``: each
certifies the one before, as the JWS ``x5c`` header requires) or as an unordered
set (the CMS ``certificates`` field): then the issuer of each certificate is
searched for among all of them (depth first, trying every candidate, so cross
certificates and unrelated extra certificates do no harm). A trust anchor may
appear among the certificates or not; it is trusted only when it is one of
``roots``. Validity bounds are inclusive. Revocation is not checked here.

Nothing here reads the wall clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal, Sequence

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm

from .certificates import _usage_allows
from .verdicts import Verdict, VerdictCode

__all__ = ["CertPath", "MAX_PATH_LENGTH", "build_path", "check_certificate", "issued_by"]

MAX_PATH_LENGTH = 10
"""The longest path (leaf and trust anchor included) that :func:`build_path` will build."""

_USAGES = ("sign", "auth")


@dataclass(frozen=True, slots=True, eq=False)
class CertPath:
    """A trusted certification path: leaf first, the trust anchor last.

    ``windows`` holds ``(not_before, not_after, label)`` of every certificate of
    ``certs`` in the same order; ``usage_ok`` says which key usages
    (``"sign"`` / ``"auth"``) the leaf's KeyUsage / ExtendedKeyUsage allow.
    """

    certs: tuple[x509.Certificate, ...]
    windows: tuple[tuple[datetime, datetime, str], ...]
    usage_ok: dict[str, bool]

    @property
    def leaf(self) -> x509.Certificate:
        return self.certs[0]

    @property
    def anchor(self) -> x509.Certificate:
        return self.certs[-1]


# --------------------------------------------------------------------------- helpers


def _optional_extension(cert: x509.Certificate, cls: type) -> Any:
    try:
        return cert.extensions.get_extension_for_class(cls).value
    except x509.ExtensionNotFound:
        return None


def _label(cert: x509.Certificate) -> str:
    try:
        names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        return str(names[0].value) if names else cert.subject.rfc4514_string()
    except ValueError:
        return f"serial {cert.serial_number:x}"


def _issuer_label(cert: x509.Certificate) -> str:
    try:
        names = cert.issuer.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        return str(names[0].value) if names else cert.issuer.rfc4514_string()
    except ValueError:
        return "?"


def issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether ``issuer``'s subject names ``cert``'s issuer and its key signed ``cert``."""
    try:
        if cert.issuer != issuer.subject:
            return False
        cert.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


def _ca_problem(cert: x509.Certificate, below: int) -> str | None:
    """Why ``cert`` may not act as a CA with ``below`` intermediate CAs under it, or None."""
    try:
        constraints = _optional_extension(cert, x509.BasicConstraints)
        key_usage = _optional_extension(cert, x509.KeyUsage)
    except ValueError:
        return f"{_label(cert)!r} has unreadable extensions"
    if constraints is None or not constraints.ca:
        return f"{_label(cert)!r} is not a CA certificate"
    if constraints.path_length is not None and below > constraints.path_length:
        return f"{_label(cert)!r} exceeds its path length constraint"
    if key_usage is not None and not key_usage.key_cert_sign:
        return f"{_label(cert)!r} may not sign certificates"
    return None


def _leaf_usage(leaf: x509.Certificate) -> dict[str, bool]:
    try:
        ku = _optional_extension(leaf, x509.KeyUsage)
        eku = _optional_extension(leaf, x509.ExtendedKeyUsage)
    except ValueError:
        return {usage: False for usage in _USAGES}
    return {usage: _usage_allows(ku, eku, usage) for usage in _USAGES}


def _make_path(path: list[x509.Certificate]) -> CertPath:
    return CertPath(
        tuple(path),
        tuple((cert.not_valid_before_utc, cert.not_valid_after_utc, _label(cert)) for cert in path),
        _leaf_usage(path[0]),
    )


# --------------------------------------------------------------------------- building


def build_path(
    certs: Sequence[x509.Certificate],
    roots: Sequence[x509.Certificate],
    *,
    ordered: bool = False,
) -> CertPath | str:
    """A trusted path from ``certs[0]`` (the leaf) to one of ``roots``, or why there is none.

    ``certs[1:]`` are the other certificates the signer supplied: in any order
    (the default) or, with ``ordered=True``, each one the issuer of the one
    before (then a link that does not hold is reported as such). Never raises
    for bad certificates; raises ``ValueError`` for an empty ``certs``.
    """
    certs = tuple(certs)
    roots = tuple(roots)
    if not certs:
        raise ValueError("certs must hold at least the leaf certificate")
    if ordered:
        return _build_ordered(certs, roots)
    pool: list[x509.Certificate] = []
    for cert in certs[1:]:
        if cert not in pool and cert != certs[0]:
            pool.append(cert)
    return _search([certs[0]], pool, roots)


def _anchored(path: list[x509.Certificate], roots: tuple[x509.Certificate, ...]) -> CertPath | str | None:
    """The finished path when a trust anchor issued ``path[-1]``; a problem; None if none did."""
    current = path[-1]
    problem = None
    for root in roots:
        if issued_by(current, root):
            if root == current:
                return _make_path(path)
            problem = _ca_problem(root, len(path) - 1)
            if problem is None:
                return _make_path([*path, root])
    return problem


def _build_ordered(
    certs: tuple[x509.Certificate, ...], roots: tuple[x509.Certificate, ...]
) -> CertPath | str:
    """Walk ``certs`` in order from the leaf towards a trust anchor (the JWS ``x5c`` rule)."""
    path = [certs[0]]
    for index, current in enumerate(certs):
        if index > 0:
            problem = _ca_problem(current, index - 1)
            if problem:
                return problem
        result = _anchored(path, roots)
        if result is not None:
            return result
        if index + 1 >= len(certs):
            break
        issuer = certs[index + 1]
        if not issued_by(current, issuer):
            return f"x5c[{index}] was not issued by x5c[{index + 1}]"
        path.append(issuer)
    return f"no trusted root issued {_label(path[-1])!r} (issuer {_issuer_label(path[-1])!r})"


def _search(
    path: list[x509.Certificate],
    pool: list[x509.Certificate],
    roots: tuple[x509.Certificate, ...],
) -> CertPath | str:
    """Depth-first search for a path; the first failure met when there is none."""
    current = path[-1]
    if len(path) > 1:
        problem = _ca_problem(current, len(path) - 2)
        if problem:
            return problem
    result = _anchored(path, roots)
    if isinstance(result, CertPath):
        return result
    failure = result
    if len(path) + 1 < MAX_PATH_LENGTH:
        for candidate in pool:
            if candidate in path or not issued_by(current, candidate):
                continue
            result = _search([*path, candidate], pool, roots)
            if isinstance(result, CertPath):
                return result
            failure = failure or result
    elif failure is None:
        failure = f"the path is longer than {MAX_PATH_LENGTH} certificates"
    return failure or (
        f"no trusted root issued {_label(current)!r} (issuer {_issuer_label(current)!r})"
    )


# --------------------------------------------------------------------------- checking


def check_certificate(
    path_or_certs: CertPath | str | Sequence[x509.Certificate],
    roots: Sequence[x509.Certificate] = (),
    *,
    at: datetime,
    usage: Literal["sign", "auth"] | None,
    signer: dict[str, Any] | None = None,
    ordered: bool = False,
) -> Verdict | None:
    """None when the leaf's certificate holds at ``at`` for ``usage``; else the failed verdict.

    ``path_or_certs`` is a path from :func:`build_path` (then ``roots`` is not
    used), the reason string :func:`build_path` returned, or the certificates
    themselves (leaf first; a path is built to ``roots``). ``signer`` is put in
    the failed verdict as is. A naive ``at`` is taken to be UTC.
    """
    if usage is not None and usage not in _USAGES:
        raise ValueError(f"usage must be 'sign', 'auth' or None, got {usage!r}")
    path = path_or_certs
    if not isinstance(path, (CertPath, str)):
        path = build_path(path, roots, ordered=ordered)
    if isinstance(path, str):
        return Verdict.fail(VerdictCode.CHAIN_NOT_TRUSTED, path, signer=signer)
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    for not_before, not_after, label in path.windows:
        if at < not_before:
            return Verdict.fail(
                VerdictCode.CERT_NOT_YET_VALID,
                f"{label!r} is valid from {not_before.isoformat()}",
                signer=signer,
            )
        if at > not_after:
            return Verdict.fail(
                VerdictCode.CERT_EXPIRED,
                f"{label!r} expired at {not_after.isoformat()}",
                signer=signer,
            )
    if usage is not None and not path.usage_ok[usage]:
        return Verdict.fail(
            VerdictCode.WRONG_KEY_USAGE,
            f"the signer's certificate is not a {usage!r} certificate",
            signer=signer,
        )
    return None


def verification_arguments(
    at: Any, usage: Any, trusted_roots: Sequence[x509.Certificate]
) -> tuple[datetime, tuple[x509.Certificate, ...]]:
    """Check a verifier's own arguments (programming errors raise): the moment as an aware
    datetime and the trust anchors as a tuple."""
    if not isinstance(at, datetime):
        raise TypeError("at must be a datetime")
    if usage not in (None, "sign", "auth"):
        raise ValueError(f"usage must be 'sign', 'auth' or None, got {usage!r}")
    roots = tuple(trusted_roots)
    for root in roots:
        if not isinstance(root, x509.Certificate):
            raise TypeError("trusted_roots must hold x509.Certificate objects")
    return (at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at), roots
