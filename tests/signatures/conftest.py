"""Shared PKI fixtures for the signature tests (module scope: RSA keys are slow to make)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from signatures.certificates import (
    Role,
    Subject,
    create_issuing_ca,
    create_root_ca,
    generate_key,
    issue_certificate,
)

NOW = datetime(2025, 3, 20, 10, 0, tzinfo=timezone.utc)
CRL_URL = "http://crl.pki.sim.kz/nca_rsa.crl"
DELTA_CRL_URL = "http://crl.pki.sim.kz/nca_d_rsa.crl"
OCSP_URL = "http://ocsp.pki.sim.kz/"

INDIVIDUAL = Subject.individual(
    iin="900101300126", surname="Тестов", name="Тест", patronymic="Тестович"
)
EMPLOYEE = Subject.employee(
    iin="850505400127",
    surname="Әлиева",
    name="Айгүл",
    patronymic="Серікқызы",
    organisation='АО "ТЕСТОВАЯ КОМПАНИЯ"',
    bin="123456789025",
    roles=(Role.FIRST_HEAD, Role.SIGNER),
)
SYSTEM = Subject.information_system(
    system_id="portal", organisation='АО "НИТ"', bin="040340005711"
)


class Pki:
    """A root, an issuing CA and a few signers, all issued at NOW."""

    NOW = NOW
    INDIVIDUAL = INDIVIDUAL
    EMPLOYEE = EMPLOYEE
    SYSTEM = SYSTEM
    CRL_URL = CRL_URL
    DELTA_CRL_URL = DELTA_CRL_URL
    OCSP_URL = OCSP_URL

    def __init__(self) -> None:
        self.root_key = generate_key("rsa")
        self.root = create_root_ca(self.root_key, now=NOW)
        self.ca_key = generate_key("rsa")
        self.ca = create_issuing_ca(
            self.ca_key, self.root, self.root_key, now=NOW, crl_url="http://crl.pki.sim.kz/root.crl"
        )
        self.rsa_key = generate_key("rsa")
        self.ec_key = generate_key("ec")
        self.ec_auth_key = generate_key("ec")

    def issue(self, key, subject=INDIVIDUAL, usage="sign", **kwargs):
        kwargs.setdefault("now", NOW)
        return issue_certificate(
            key.public_key(),
            subject,
            issuer_cert=self.ca,
            issuer_key=self.ca_key,
            usage=usage,
            **kwargs,
        )


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki()
