"""A simulated national PKI in the style of НУЦ РК (the Kazakh national certification authority).

Hierarchy::

    НЕГІЗГІ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ                 root CA, self-signed, pathLen 1
      └─ ҰЛТТЫҚ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ (RSA)       issuing CA, pathLen 0
           └─ end-entity certificates: individual, organisation employee, information system

End-entity subject profiles (attribute order as in real НУЦ РК certificates)::

    individual     CN=SURNAME NAME, SURNAME=SURNAME, SERIALNUMBER=IIN<12 digits>, C=KZ,
                   G=PATRONYMIC                                 policy 1.2.398.3.3.4.1.1
    employee       ... as individual, plus O=<organisation>, OU=BIN<12 digits>
                                       policy 1.2.398.3.3.4.1.2 plus one OID per Role
    system         CN=<system id>, O=<organisation>, OU=BIN<12 digits>, C=KZ
                                                                policy 1.2.398.3.3.4.1.2

As in the real profile, the ``G`` (givenName) attribute carries the *patronymic*;
the first name only appears in the CN. Person names are upper-cased, as the
real authority writes them; G is left out when there is no patronymic.

Each person holds two keys: ``usage="sign"`` (digitalSignature + nonRepudiation,
EKU 1.3.6.1.5.5.7.3.4) for signing and ``usage="auth"`` (digitalSignature +
keyEncipherment, EKU 1.3.6.1.5.5.7.3.2) for logging in. Information systems sign
gateway messages with a ``"sign"`` certificate. The profile is the same for RSA
and EC keys (the simulator does not switch keyEncipherment to keyAgreement for EC).

All times are explicit (``now`` is the simulation's virtual clock); a naive
datetime is taken to be UTC. Nothing here reads the wall clock.
"""

from __future__ import annotations

import calendar
import functools
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from typing import Any, Literal, Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

__all__ = [
    "PrivateKey",
    "PublicKey",
    "ROOT_CA_NAME",
    "ISSUING_CA_NAME",
    "POLICY_INDIVIDUAL",
    "POLICY_ORGANISATION",
    "EKU_SIGN",
    "EKU_AUTH",
    "Role",
    "Profile",
    "Subject",
    "KeyAlgorithm",
    "CA_KEY_ALGORITHM",
    "generate_key",
    "key_algorithm",
    "describe_key",
    "create_root_ca",
    "create_issuing_ca",
    "issue_certificate",
    "subject_info",
    "certificate_usage",
    "usage_allows",
    "cert_to_pem",
    "cert_from_pem",
    "chain_to_pem",
    "chain_from_pem",
    "key_to_pem",
    "key_from_pem",
    "to_pkcs12",
    "from_pkcs12",
]

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey

ROOT_CA_NAME = "НЕГІЗГІ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ"
ISSUING_CA_NAME = "ҰЛТТЫҚ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ (RSA)"

POLICY_INDIVIDUAL = ObjectIdentifier("1.2.398.3.3.4.1.1")
POLICY_ORGANISATION = ObjectIdentifier("1.2.398.3.3.4.1.2")

EKU_SIGN = ExtendedKeyUsageOID.EMAIL_PROTECTION  # 1.3.6.1.5.5.7.3.4
EKU_AUTH = ExtendedKeyUsageOID.CLIENT_AUTH  # 1.3.6.1.5.5.7.3.2

_DIGITS12 = re.compile(r"\d{12}")
_UTC = timezone.utc


class Role(StrEnum):
    """Roles of an organisation employee; each maps to a certificate policy OID."""

    FIRST_HEAD = "first_head"  # 1.2.398.3.3.4.1.2.1
    SIGNER = "signer"  # 1.2.398.3.3.4.1.2.2: may sign on behalf of the organisation
    FINANCIAL = "financial"  # 1.2.398.3.3.4.1.2.3: may sign financial documents
    HR = "hr"  # 1.2.398.3.3.4.1.2.4
    EMPLOYEE = "employee"  # 1.2.398.3.3.4.1.2.5

    @property
    def oid(self) -> ObjectIdentifier:
        return _ROLE_OIDS[self]

    @classmethod
    def from_oid(cls, oid: ObjectIdentifier | str) -> Role | None:
        dotted = oid if isinstance(oid, str) else oid.dotted_string
        return _ROLES_BY_OID.get(dotted)


_ROLE_OIDS: dict[Role, ObjectIdentifier] = {
    role: ObjectIdentifier(f"{POLICY_ORGANISATION.dotted_string}.{arc}")
    for role, arc in (
        (Role.FIRST_HEAD, 1),
        (Role.SIGNER, 2),
        (Role.FINANCIAL, 3),
        (Role.HR, 4),
        (Role.EMPLOYEE, 5),
    )
}
_ROLES_BY_OID: dict[str, Role] = {oid.dotted_string: role for role, oid in _ROLE_OIDS.items()}


class Profile(StrEnum):
    """The three end-entity certificate profiles."""

    INDIVIDUAL = "individual"
    EMPLOYEE = "employee"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Subject:
    """Who a certificate is issued to. Build it with one of the three constructors.

    ``iin`` / ``bin`` are the 12 digits without the ``IIN`` / ``BIN`` prefix (only the
    format is checked here, not the check digit). Names are upper-cased.
    """

    profile: Profile
    iin: str | None = None
    surname: str | None = None
    name: str | None = None
    patronymic: str | None = None
    organisation: str | None = None
    bin: str | None = None
    system_id: str | None = None
    roles: tuple[Role, ...] = ()

    @classmethod
    def individual(
        cls, *, iin: str, surname: str, name: str, patronymic: str | None = None
    ) -> Subject:
        return cls(Profile.INDIVIDUAL, iin=iin, surname=surname, name=name, patronymic=patronymic)

    @classmethod
    def employee(
        cls,
        *,
        iin: str,
        surname: str,
        name: str,
        organisation: str,
        bin: str,
        patronymic: str | None = None,
        roles: Sequence[Role | str] = (Role.EMPLOYEE,),
    ) -> Subject:
        return cls(
            Profile.EMPLOYEE,
            iin=iin,
            surname=surname,
            name=name,
            patronymic=patronymic,
            organisation=organisation,
            bin=bin,
            roles=tuple(roles),
        )

    @classmethod
    def information_system(cls, *, system_id: str, organisation: str, bin: str) -> Subject:
        return cls(Profile.SYSTEM, system_id=system_id, organisation=organisation, bin=bin)

    def __post_init__(self) -> None:
        profile = Profile(self.profile)
        object.__setattr__(self, "profile", profile)
        object.__setattr__(self, "roles", tuple(dict.fromkeys(Role(r) for r in self.roles)))
        if profile in (Profile.INDIVIDUAL, Profile.EMPLOYEE):
            _require_digits("iin", self.iin)
            for field in ("surname", "name"):
                value = getattr(self, field)
                if not value or not value.strip():
                    raise ValueError(f"{field} is required for profile {profile}")
                object.__setattr__(self, field, value.strip().upper())
            if self.patronymic is not None:
                patronymic = self.patronymic.strip().upper()
                object.__setattr__(self, "patronymic", patronymic or None)
            if self.system_id is not None:
                raise ValueError("system_id is only for the information-system profile")
        if profile in (Profile.EMPLOYEE, Profile.SYSTEM):
            _require_digits("bin", self.bin)
            if not self.organisation or not self.organisation.strip():
                raise ValueError(f"organisation is required for profile {profile}")
        if profile is Profile.INDIVIDUAL and (self.organisation or self.bin):
            raise ValueError("an individual certificate has no organisation / bin")
        if profile is Profile.EMPLOYEE and not self.roles:
            raise ValueError("an employee needs at least one role")
        if profile is not Profile.EMPLOYEE and self.roles:
            raise ValueError("roles are only for the employee profile")
        if profile is Profile.SYSTEM:
            if not self.system_id or not self.system_id.strip():
                raise ValueError("system_id is required for the information-system profile")
            if self.iin or self.surname or self.name or self.patronymic:
                raise ValueError("an information-system certificate names no person")

    @property
    def common_name(self) -> str:
        if self.profile is Profile.SYSTEM:
            return str(self.system_id)
        return f"{self.surname} {self.name}"

    def x509_name(self) -> x509.Name:
        """The subject distinguished name of this profile."""
        attrs = [x509.NameAttribute(NameOID.COMMON_NAME, self.common_name)]
        if self.profile is not Profile.SYSTEM:
            attrs.append(x509.NameAttribute(NameOID.SURNAME, str(self.surname)))
            attrs.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, f"IIN{self.iin}"))
        attrs.append(x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ"))
        if self.profile is not Profile.INDIVIDUAL:
            attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, str(self.organisation)))
            attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"BIN{self.bin}"))
        if self.profile is not Profile.SYSTEM and self.patronymic:
            attrs.append(x509.NameAttribute(NameOID.GIVEN_NAME, self.patronymic))
        return x509.Name(attrs)

    def policy_oids(self) -> list[ObjectIdentifier]:
        """Certificate policy OIDs of this profile (organisation policy first, then roles)."""
        if self.profile is Profile.INDIVIDUAL:
            return [POLICY_INDIVIDUAL]
        return [POLICY_ORGANISATION, *(role.oid for role in self.roles)]


def _require_digits(field: str, value: str | None) -> None:
    if not isinstance(value, str) or not _DIGITS12.fullmatch(value):
        raise ValueError(f"{field} must be exactly 12 digits, got {value!r}")


# --------------------------------------------------------------------------- keys


KeyAlgorithm = Literal["rsa", "ec"]

CA_KEY_ALGORITHM: dict[str, KeyAlgorithm] = {"rsa": "rsa", "gost": "ec"}
"""The key algorithm of each issuing CA, and of the keys it certifies. The real second CA signs
with GOST 34.10; ECDSA P-256 stands in for it."""


def generate_key(algorithm: KeyAlgorithm = "rsa") -> PrivateKey:
    """A new RSA-2048 (e=65537) or ECDSA P-256 private key."""
    if algorithm == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if algorithm == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    raise ValueError(f"unknown key algorithm {algorithm!r}; expected 'rsa' or 'ec'")


def key_algorithm(key: Any) -> KeyAlgorithm | None:
    """``"rsa"`` for an RSA key, ``"ec"`` for an ECDSA P-256 key (private or public), None for
    any other key (another curve, Ed25519, DSA…)."""
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return "rsa"
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)) and isinstance(
        key.curve, ec.SECP256R1
    ):
        return "ec"
    return None


def describe_key(key: Any) -> str:
    """A short name of a key's type for messages: "RSA-2048", "EC secp384r1", "Ed25519"…"""
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return f"RSA-{key.key_size}"
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        return f"EC {key.curve.name}"
    return type(key).__name__.removesuffix("PublicKey").removesuffix("PrivateKey")


# --------------------------------------------------------------------------- issuing


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=_UTC)
    return moment.astimezone(_UTC)


def _add_years(moment: datetime, years: int) -> datetime:
    year = moment.year + years
    day = min(moment.day, calendar.monthrange(year, moment.month)[1])
    return moment.replace(year=year, day=day)


def _ca_name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ"),
        ]
    )


def _check_key(key: Any, what: str) -> None:
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise TypeError(f"{what} must be an RSA or EC private key, got {type(key).__name__}")


def authority_key_id(issuer_cert: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    try:
        ski = issuer_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_cert.public_key())
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def _add_distribution(
    builder: x509.CertificateBuilder,
    crl_url: str | None,
    ocsp_url: str | None,
    delta_crl_url: str | None = None,
) -> x509.CertificateBuilder:
    def point(url: str) -> x509.DistributionPoint:
        return x509.DistributionPoint(
            full_name=[x509.UniformResourceIdentifier(url)],
            relative_name=None,
            reasons=None,
            crl_issuer=None,
        )

    if crl_url:
        builder = builder.add_extension(x509.CRLDistributionPoints([point(crl_url)]), critical=False)
    if delta_crl_url:
        builder = builder.add_extension(x509.FreshestCRL([point(delta_crl_url)]), critical=False)
    if ocsp_url:
        builder = builder.add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        x509.AuthorityInformationAccessOID.OCSP,
                        x509.UniformResourceIdentifier(ocsp_url),
                    )
                ]
            ),
            critical=False,
        )
    return builder


_CA_KEY_USAGE = x509.KeyUsage(
    digital_signature=False,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)


def create_root_ca(
    key: PrivateKey,
    *,
    now: datetime,
    years: int = 10,
    name: str = ROOT_CA_NAME,
    serial: int | None = None,
) -> x509.Certificate:
    """A self-signed root CA certificate (CN=<name>, C=KZ), valid from ``now`` for ``years``."""
    _check_key(key, "key")
    now = _utc(now)
    subject = _ca_name(name)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(serial if serial is not None else x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(_add_years(now, years))
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(_CA_KEY_USAGE, critical=True)
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
    )
    return builder.sign(key, hashes.SHA256())


def create_issuing_ca(
    key: PrivateKey,
    root_cert: x509.Certificate,
    root_key: PrivateKey,
    *,
    now: datetime,
    name: str = ISSUING_CA_NAME,
    years: int = 5,
    serial: int | None = None,
    crl_url: str | None = None,
    ocsp_url: str | None = None,
) -> x509.Certificate:
    """An intermediate (issuing) CA certificate signed by the root, pathLen 0."""
    _check_key(key, "key")
    _check_key(root_key, "root_key")
    now = _utc(now)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_ca_name(name))
        .issuer_name(root_cert.subject)
        .public_key(key.public_key())
        .serial_number(serial if serial is not None else x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(_add_years(now, years))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_CA_KEY_USAGE, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(authority_key_id(root_cert), critical=False)
    )
    builder = _add_distribution(builder, crl_url, ocsp_url)
    return builder.sign(root_key, hashes.SHA256())


def _leaf_key_usage(usage: str) -> tuple[x509.KeyUsage, x509.ExtendedKeyUsage]:
    """SIGN: digitalSignature + nonRepudiation, emailProtection; AUTH: digitalSignature +
    keyEncipherment, clientAuth -- as НУЦ РК issues them."""
    if usage in ("sign", "auth"):
        ku = x509.KeyUsage(
            digital_signature=True,
            content_commitment=usage == "sign",
            key_encipherment=usage == "auth",
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=False,
            crl_sign=False,
            encipher_only=False,
            decipher_only=False,
        )
        return ku, x509.ExtendedKeyUsage([EKU_SIGN if usage == "sign" else EKU_AUTH])
    raise ValueError(f"usage must be 'sign' or 'auth', got {usage!r}")


def issue_certificate(
    public_key: PublicKey,
    subject: Subject,
    *,
    issuer_cert: x509.Certificate,
    issuer_key: PrivateKey,
    now: datetime,
    usage: Literal["sign", "auth"],
    serial: int | None = None,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    days: int = 365,
    crl_url: str | None = None,
    ocsp_url: str | None = None,
    delta_crl_url: str | None = None,
) -> x509.Certificate:
    """Issue an end-entity certificate of ``subject``'s profile for ``usage``.

    Validity: ``not_before`` (default ``now``) to ``not_after`` (default
    ``not_before + days``); neither is clamped to the issuer's validity. Serial:
    ``serial`` or a random 159-bit number.
    """
    _check_key(issuer_key, "issuer_key")
    if not isinstance(public_key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey)):
        raise TypeError(f"public_key must be an RSA or EC public key, got {type(public_key).__name__}")
    if not isinstance(subject, Subject):
        raise TypeError("subject must be a Subject")
    key_usage, ext_key_usage = _leaf_key_usage(usage)
    start = _utc(not_before if not_before is not None else now)
    end = _utc(not_after) if not_after is not None else start + timedelta(days=days)
    if end <= start:
        raise ValueError("not_after must be later than not_before")
    policies = x509.CertificatePolicies(
        [x509.PolicyInformation(oid, None) for oid in subject.policy_oids()]
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject.x509_name())
        .issuer_name(issuer_cert.subject)
        .public_key(public_key)
        .serial_number(serial if serial is not None else x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(key_usage, critical=True)
        .add_extension(ext_key_usage, critical=False)
        .add_extension(policies, critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(authority_key_id(issuer_cert), critical=False)
    )
    builder = _add_distribution(builder, crl_url, ocsp_url, delta_crl_url)
    return builder.sign(issuer_key, hashes.SHA256())


# --------------------------------------------------------------------------- reading


def _first(name: x509.Name, oid: ObjectIdentifier) -> str | None:
    attrs = name.get_attributes_for_oid(oid)
    if not attrs:
        return None
    value = attrs[0].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def _extension(cert: x509.Certificate, cls: type) -> Any:
    try:
        return cert.extensions.get_extension_for_class(cls).value
    except x509.ExtensionNotFound:
        return None


def usage_allows(cert: x509.Certificate, usage: Literal["sign", "auth"]) -> bool:
    """Whether ``cert``'s KeyUsage / ExtendedKeyUsage permit ``usage``.

    ``"sign"``: KeyUsage digitalSignature and nonRepudiation, and the EKU (when
    present) lists 1.3.6.1.5.5.7.3.4. ``"auth"``: KeyUsage digitalSignature, and
    the EKU (when present) lists 1.3.6.1.5.5.7.3.2. A certificate without a
    KeyUsage extension is allowed neither.
    """
    ku = _extension(cert, x509.KeyUsage)
    eku = _extension(cert, x509.ExtendedKeyUsage)
    return _usage_allows(ku, eku, usage)


def _usage_allows(ku: x509.KeyUsage | None, eku: x509.ExtendedKeyUsage | None, usage: str) -> bool:
    if ku is None or not ku.digital_signature:
        return False
    if usage == "sign":
        return ku.content_commitment and (eku is None or EKU_SIGN in eku)
    if usage == "auth":
        return eku is None or EKU_AUTH in eku
    raise ValueError(f"usage must be 'sign' or 'auth', got {usage!r}")


def certificate_usage(cert: x509.Certificate) -> Literal["sign", "auth"] | None:
    """``"sign"`` / ``"auth"`` as the certificate's profile says (EKU first, then KeyUsage)."""
    ku = _extension(cert, x509.KeyUsage)
    eku = _extension(cert, x509.ExtendedKeyUsage)
    return _classify_usage(ku, eku)


def _classify_usage(
    ku: x509.KeyUsage | None, eku: x509.ExtendedKeyUsage | None
) -> Literal["sign", "auth"] | None:
    if ku is None or not ku.digital_signature:
        return None
    if eku is not None:
        if EKU_SIGN in eku and ku.content_commitment:
            return "sign"
        if EKU_AUTH in eku:
            return "auth"
        return None
    if ku.content_commitment:
        return "sign"
    if ku.key_encipherment:
        return "auth"
    return None


def subject_info(cert: x509.Certificate) -> dict[str, Any]:
    """What a certificate says about its holder.

    Keys: ``common_name``, ``iin`` (from SERIALNUMBER ``IIN…``, else None), ``bin``
    (from OU ``BIN…``, else None), ``organisation``, ``serial_hex`` (lower-case hex,
    no padding), ``not_before`` / ``not_after`` (aware UTC datetimes), ``usage``
    (``"sign"`` / ``"auth"`` / None); also ``surname``, ``patronymic`` (the G
    attribute), ``name`` (the first name, from CN minus surname), ``profile``
    (``"individual"`` / ``"employee"`` / ``"system"`` / None), ``roles`` (list of
    :class:`Role` values) and ``issuer`` (the issuer's CN).
    """
    subject = cert.subject
    common_name = _first(subject, NameOID.COMMON_NAME)
    serial_number = _first(subject, NameOID.SERIAL_NUMBER)
    iin = serial_number[3:] if serial_number and serial_number.startswith("IIN") else None
    bin_ = None
    for attr in subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME):
        if isinstance(attr.value, str) and attr.value.startswith("BIN"):
            bin_ = attr.value[3:]
            break
    surname = _first(subject, NameOID.SURNAME)
    first_name = None
    if common_name and surname and common_name.startswith(surname + " "):
        first_name = common_name[len(surname) + 1 :] or None

    policies = _extension(cert, x509.CertificatePolicies)
    policy_oids = [p.policy_identifier.dotted_string for p in policies] if policies else []
    roles = [role.value for oid in policy_oids if (role := Role.from_oid(oid)) is not None]
    profile: str | None = None
    if POLICY_INDIVIDUAL.dotted_string in policy_oids:
        profile = Profile.INDIVIDUAL.value
    elif POLICY_ORGANISATION.dotted_string in policy_oids:
        profile = Profile.EMPLOYEE.value if iin else Profile.SYSTEM.value

    return {
        "common_name": common_name,
        "iin": iin,
        "bin": bin_,
        "organisation": _first(subject, NameOID.ORGANIZATION_NAME),
        "serial_hex": format(cert.serial_number, "x"),
        "not_before": cert.not_valid_before_utc,
        "not_after": cert.not_valid_after_utc,
        "usage": certificate_usage(cert),
        "surname": surname,
        "name": first_name,
        "patronymic": _first(subject, NameOID.GIVEN_NAME),
        "profile": profile,
        "roles": roles,
        "issuer": _first(cert.issuer, NameOID.COMMON_NAME),
    }


# --------------------------------------------------------------------------- encodings


def _as_bytes(data: bytes | str) -> bytes:
    return data.encode("ascii") if isinstance(data, str) else bytes(data)


def cert_to_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def cert_from_pem(data: bytes | str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(_as_bytes(data))


def chain_to_pem(certs: Sequence[x509.Certificate]) -> bytes:
    """Concatenated PEM blocks, in the given order."""
    return b"".join(cert_to_pem(cert) for cert in certs)


def chain_from_pem(data: bytes | str) -> list[x509.Certificate]:
    """All certificates of a PEM bundle, in file order."""
    return x509.load_pem_x509_certificates(_as_bytes(data))


def key_to_pem(key: PrivateKey, password: bytes | None = None) -> bytes:
    """PKCS#8 PEM, encrypted with ``password`` when given."""
    encryption: serialization.KeySerializationEncryption
    if password:
        encryption = serialization.BestAvailableEncryption(password)
    else:
        encryption = serialization.NoEncryption()
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def key_from_pem(data: bytes | str, password: bytes | None = None, *, own: bool = False) -> PrivateKey:
    """A private key from PKCS#8 PEM. ``own``: a key this simulation generated and kept in its own
    store (the CA's and the TSA's keys, read at every start): its RSA primes are not checked again
    (``cryptography`` spends ~65 ms of CPU on an RSA-2048 key's check, at each load)."""
    key = serialization.load_pem_private_key(
        _as_bytes(data), password=password or None, unsafe_skip_rsa_key_validation=own
    )
    _check_key(key, "the PEM key")
    return key  # type: ignore[return-value]


PKCS12_KDF_ROUNDS = 2048
"""PBKDF2 rounds of the key storages this simulation writes: OpenSSL's default (``openssl pkcs12
-export``). ``cryptography``'s BestAvailableEncryption takes 20,000, which made every opening of a
storage (a citizen or an official signing through NCALayer, a system starting) cost ~7 ms of CPU
instead of ~1 ms, several times an application. The storages protect simulated keys."""


def to_pkcs12(
    key: PrivateKey,
    cert: x509.Certificate,
    chain: Sequence[x509.Certificate],
    password: bytes,
    name: str,
) -> bytes:
    """A PKCS#12 key store (the format of НУЦ РК key files) protected by ``password``.

    ``chain`` holds the CA certificates (issuing CA, root). Encrypted with PBES2/AES-256-CBC
    and an HMAC-SHA256 MAC, keys derived with :data:`PKCS12_KDF_ROUNDS` rounds of PBKDF2 (what
    OpenSSL writes by default); an empty password writes an unencrypted store.
    """
    encryption: serialization.KeySerializationEncryption
    if password:
        encryption = (
            serialization.PrivateFormat.PKCS12.encryption_builder()
            .kdf_rounds(PKCS12_KDF_ROUNDS)
            .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
            .hmac_hash(hashes.SHA256())
            .build(password)
        )
    else:
        encryption = serialization.NoEncryption()
    return pkcs12.serialize_key_and_certificates(
        name.encode("utf-8"), key, cert, list(chain) or None, encryption
    )


def from_pkcs12(
    data: bytes, password: bytes | None
) -> tuple[PrivateKey, x509.Certificate, list[x509.Certificate]]:
    """(key, certificate, CA certificates) from a PKCS#12 store; ValueError on a wrong password.

    Opened stores are remembered by their bytes and password (:func:`_opened`): NCALayer opens
    the signer's storage at every signature, as the real one does, and ``cryptography`` checks an
    RSA key's primes at each load (~65 ms of CPU for RSA-2048, with no option to skip it for
    PKCS#12) -- four times an application at the front office, about a third of its CPU. The
    same bytes with the same password hold the same key; other bytes or another password are
    opened anew (a wrong password still raises, and nothing is remembered of it)."""
    key, cert, additional = _opened(bytes(data), password or None)
    return key, cert, list(additional)


OPENED_STORAGES = 512
"""How many opened key storages :func:`from_pkcs12` remembers (a few KiB each)."""


@functools.lru_cache(maxsize=OPENED_STORAGES)
def _opened(
    data: bytes, password: bytes | None
) -> tuple[PrivateKey, x509.Certificate, tuple[x509.Certificate, ...]]:
    key, cert, additional = pkcs12.load_key_and_certificates(data, password)
    if key is None or cert is None:
        raise ValueError("the PKCS#12 store holds no key or no certificate")
    _check_key(key, "the PKCS#12 key")
    return key, cert, tuple(additional)  # type: ignore[return-value]
