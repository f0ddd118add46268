"""The simulated НУЦ РК: CA hierarchy, end-entity profiles, encodings."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from signatures.certificates import (
    ISSUING_CA_NAME,
    ROOT_CA_NAME,
    Profile,
    Role,
    Subject,
    cert_from_pem,
    cert_to_pem,
    certificate_usage,
    chain_from_pem,
    chain_to_pem,
    create_root_ca,
    from_pkcs12,
    generate_key,
    key_from_pem,
    key_to_pem,
    subject_info,
    to_pkcs12,
    usage_allows,
)


def ext(cert: x509.Certificate, cls: type):
    return cert.extensions.get_extension_for_class(cls)


def name_pairs(name: x509.Name) -> list[tuple[str, str]]:
    return [(attr.oid.dotted_string, attr.value) for attr in name]


def policies(cert: x509.Certificate) -> list[str]:
    return [p.policy_identifier.dotted_string for p in ext(cert, x509.CertificatePolicies).value]


# --------------------------------------------------------------------------- keys


def test_generate_key_types():
    assert isinstance(generate_key("ec"), ec.EllipticCurvePrivateKey)
    assert isinstance(generate_key("ec").curve, ec.SECP256R1)
    with pytest.raises(ValueError):
        generate_key("dsa")  # type: ignore[arg-type]


def test_rsa_key_is_2048(pki):
    assert isinstance(pki.rsa_key, rsa.RSAPrivateKey)
    assert pki.rsa_key.key_size == 2048
    assert pki.rsa_key.public_key().public_numbers().e == 65537


# --------------------------------------------------------------------------- CAs


def test_root_ca(pki):
    root = pki.root
    assert name_pairs(root.subject) == [
        (NameOID.COMMON_NAME.dotted_string, ROOT_CA_NAME),
        (NameOID.COUNTRY_NAME.dotted_string, "KZ"),
    ]
    assert root.issuer == root.subject
    root.verify_directly_issued_by(root)
    bc = ext(root, x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length == 1
    ku = ext(root, x509.KeyUsage)
    assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign
    assert not ku.value.digital_signature
    ski = ext(root, x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(pki.root_key.public_key())
    assert ext(root, x509.AuthorityKeyIdentifier).value.key_identifier == ski.digest
    assert root.not_valid_before_utc == pki.NOW
    assert root.not_valid_after_utc == pki.NOW.replace(year=2035)


def test_issuing_ca(pki):
    ca = pki.ca
    assert ca.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == ISSUING_CA_NAME
    assert ca.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "KZ"
    assert ca.issuer == pki.root.subject
    ca.verify_directly_issued_by(pki.root)
    bc = ext(ca, x509.BasicConstraints).value
    assert bc.ca and bc.path_length == 0
    ku = ext(ca, x509.KeyUsage).value
    assert ku.key_cert_sign and ku.crl_sign
    root_ski = ext(pki.root, x509.SubjectKeyIdentifier).value.digest
    assert ext(ca, x509.AuthorityKeyIdentifier).value.key_identifier == root_ski
    assert ca.not_valid_after_utc == pki.NOW.replace(year=2030)
    crl = ext(ca, x509.CRLDistributionPoints).value
    assert crl[0].full_name[0].value == "http://crl.pki.sim.kz/root.crl"


def test_root_on_leap_day_gets_a_valid_end_date():
    leap = datetime(2024, 2, 29, 12, 0, tzinfo=timezone.utc)
    root = create_root_ca(generate_key("ec"), now=leap)
    assert root.not_valid_after_utc == datetime(2034, 2, 28, 12, 0, tzinfo=timezone.utc)


# --------------------------------------------------------------------------- profiles


def test_individual_sign_certificate(pki):
    cert = pki.issue(
        pki.rsa_key,
        pki.INDIVIDUAL,
        "sign",
        crl_url=pki.CRL_URL,
        ocsp_url=pki.OCSP_URL,
        delta_crl_url=pki.DELTA_CRL_URL,
    )
    assert name_pairs(cert.subject) == [
        (NameOID.COMMON_NAME.dotted_string, "ТЕСТОВ ТЕСТ"),
        (NameOID.SURNAME.dotted_string, "ТЕСТОВ"),
        (NameOID.SERIAL_NUMBER.dotted_string, "IIN900101300126"),
        (NameOID.COUNTRY_NAME.dotted_string, "KZ"),
        (NameOID.GIVEN_NAME.dotted_string, "ТЕСТОВИЧ"),
    ]
    assert cert.issuer == pki.ca.subject
    cert.verify_directly_issued_by(pki.ca)
    assert policies(cert) == ["1.2.398.3.3.4.1.1"]

    ku = ext(cert, x509.KeyUsage)
    assert ku.critical
    assert ku.value.digital_signature and ku.value.content_commitment
    assert not ku.value.key_encipherment and not ku.value.key_cert_sign
    assert list(ext(cert, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.EMAIL_PROTECTION]
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION.dotted_string == "1.3.6.1.5.5.7.3.4"
    assert not ext(cert, x509.BasicConstraints).value.ca

    ski = ext(cert, x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(pki.rsa_key.public_key())
    ca_ski = ext(pki.ca, x509.SubjectKeyIdentifier).value.digest
    assert ext(cert, x509.AuthorityKeyIdentifier).value.key_identifier == ca_ski

    assert ext(cert, x509.CRLDistributionPoints).value[0].full_name[0].value == pki.CRL_URL
    assert ext(cert, x509.FreshestCRL).value[0].full_name[0].value == pki.DELTA_CRL_URL
    aia = ext(cert, x509.AuthorityInformationAccess).value
    assert aia[0].access_method == AuthorityInformationAccessOID.OCSP
    assert aia[0].access_location.value == pki.OCSP_URL

    assert cert.not_valid_before_utc == pki.NOW
    assert cert.not_valid_after_utc == pki.NOW + timedelta(days=365)

    info = subject_info(cert)
    assert info == {
        "common_name": "ТЕСТОВ ТЕСТ",
        "iin": "900101300126",
        "bin": None,
        "organisation": None,
        "serial_hex": format(cert.serial_number, "x"),
        "not_before": pki.NOW,
        "not_after": pki.NOW + timedelta(days=365),
        "usage": "sign",
        "surname": "ТЕСТОВ",
        "name": "ТЕСТ",
        "patronymic": "ТЕСТОВИЧ",
        "profile": "individual",
        "roles": [],
        "issuer": ISSUING_CA_NAME,
    }


def test_certificate_without_urls_has_no_distribution_extensions(pki):
    cert = pki.issue(pki.ec_key)
    for cls in (x509.CRLDistributionPoints, x509.AuthorityInformationAccess, x509.FreshestCRL):
        with pytest.raises(x509.ExtensionNotFound):
            ext(cert, cls)


def test_individual_auth_certificate(pki):
    cert = pki.issue(pki.ec_auth_key, pki.INDIVIDUAL, "auth")
    ku = ext(cert, x509.KeyUsage).value
    assert ku.digital_signature and ku.key_encipherment and not ku.content_commitment
    eku = list(ext(cert, x509.ExtendedKeyUsage).value)
    assert [oid.dotted_string for oid in eku] == ["1.3.6.1.5.5.7.3.2"]
    assert subject_info(cert)["usage"] == "auth"
    assert certificate_usage(cert) == "auth"
    assert usage_allows(cert, "auth") and not usage_allows(cert, "sign")


def test_employee_certificate(pki):
    cert = pki.issue(pki.rsa_key, pki.EMPLOYEE, "sign")
    assert name_pairs(cert.subject) == [
        (NameOID.COMMON_NAME.dotted_string, "ӘЛИЕВА АЙГҮЛ"),
        (NameOID.SURNAME.dotted_string, "ӘЛИЕВА"),
        (NameOID.SERIAL_NUMBER.dotted_string, "IIN850505400127"),
        (NameOID.COUNTRY_NAME.dotted_string, "KZ"),
        (NameOID.ORGANIZATION_NAME.dotted_string, 'АО "ТЕСТОВАЯ КОМПАНИЯ"'),
        (NameOID.ORGANIZATIONAL_UNIT_NAME.dotted_string, "BIN123456789025"),
        (NameOID.GIVEN_NAME.dotted_string, "СЕРІКҚЫЗЫ"),
    ]
    assert policies(cert) == ["1.2.398.3.3.4.1.2", "1.2.398.3.3.4.1.2.1", "1.2.398.3.3.4.1.2.2"]
    info = subject_info(cert)
    assert info["iin"] == "850505400127"
    assert info["bin"] == "123456789025"
    assert info["organisation"] == 'АО "ТЕСТОВАЯ КОМПАНИЯ"'
    assert info["profile"] == "employee"
    assert info["roles"] == ["first_head", "signer"]
    assert info["usage"] == "sign"


def test_information_system_certificate(pki):
    cert = pki.issue(pki.ec_key, pki.SYSTEM, "sign")
    assert name_pairs(cert.subject) == [
        (NameOID.COMMON_NAME.dotted_string, "portal"),
        (NameOID.COUNTRY_NAME.dotted_string, "KZ"),
        (NameOID.ORGANIZATION_NAME.dotted_string, 'АО "НИТ"'),
        (NameOID.ORGANIZATIONAL_UNIT_NAME.dotted_string, "BIN040340005711"),
    ]
    assert policies(cert) == ["1.2.398.3.3.4.1.2"]
    info = subject_info(cert)
    assert info["common_name"] == "portal"
    assert info["iin"] is None and info["surname"] is None and info["patronymic"] is None
    assert info["bin"] == "040340005711"
    assert info["profile"] == "system"
    assert info["usage"] == "sign"


def test_role_oids():
    assert {role.value: role.oid.dotted_string for role in Role} == {
        "first_head": "1.2.398.3.3.4.1.2.1",
        "signer": "1.2.398.3.3.4.1.2.2",
        "financial": "1.2.398.3.3.4.1.2.3",
        "hr": "1.2.398.3.3.4.1.2.4",
        "employee": "1.2.398.3.3.4.1.2.5",
    }
    assert Role.from_oid("1.2.398.3.3.4.1.2.3") is Role.FINANCIAL
    assert Role.from_oid("1.2.398.3.3.4.1.2") is None


def test_employee_default_role_and_patronymic_optional(pki):
    subject = Subject.employee(
        iin="850505400127", surname="Ким", name="Ольга", organisation="ТОО Альфа", bin="120400400015"
    )
    assert subject.roles == (Role.EMPLOYEE,)
    assert subject.profile is Profile.EMPLOYEE
    cert = pki.issue(pki.ec_key, subject, "auth")
    assert not cert.subject.get_attributes_for_oid(NameOID.GIVEN_NAME)
    assert policies(cert) == ["1.2.398.3.3.4.1.2", "1.2.398.3.3.4.1.2.5"]
    assert subject_info(cert)["patronymic"] is None


@pytest.mark.parametrize(
    "build",
    [
        lambda: Subject.individual(iin="12345", surname="A", name="B"),
        lambda: Subject.individual(iin="90010130012x", surname="A", name="B"),
        lambda: Subject.individual(iin="900101300126", surname=" ", name="B"),
        lambda: Subject.employee(
            iin="900101300126", surname="A", name="B", organisation="O", bin="BIN123"
        ),
        lambda: Subject.employee(
            iin="900101300126", surname="A", name="B", organisation="", bin="123456789025"
        ),
        lambda: Subject.employee(
            iin="900101300126", surname="A", name="B", organisation="O", bin="123456789025", roles=()
        ),
        lambda: Subject.information_system(system_id="", organisation="O", bin="123456789025"),
        lambda: Subject(Profile.INDIVIDUAL, iin="900101300126", surname="A", name="B", bin="123456789025"),
        lambda: Subject.employee(
            iin="900101300126", surname="A", name="B", organisation="O", bin="123456789025",
            roles=("boss",),
        ),
    ],
)
def test_subject_validation(build):
    with pytest.raises(ValueError):
        build()


def test_explicit_serial_and_validity(pki):
    start = pki.NOW - timedelta(days=10)
    end = pki.NOW + timedelta(days=20)
    cert = pki.issue(pki.ec_key, serial=0x1A2B3C, not_before=start, not_after=end)
    assert cert.serial_number == 0x1A2B3C
    info = subject_info(cert)
    assert info["serial_hex"] == "1a2b3c"
    assert (info["not_before"], info["not_after"]) == (start, end)
    short = pki.issue(pki.ec_key, days=30)
    assert short.not_valid_after_utc == pki.NOW + timedelta(days=30)
    with pytest.raises(ValueError):
        pki.issue(pki.ec_key, not_before=end, not_after=start)
    with pytest.raises(ValueError):
        pki.issue(pki.ec_key, usage="encrypt")


def test_naive_datetimes_are_utc(pki):
    cert = pki.issue(pki.ec_key, now=pki.NOW.replace(tzinfo=None))
    assert cert.not_valid_before_utc == pki.NOW


def test_random_serials_differ(pki):
    assert pki.issue(pki.ec_key).serial_number != pki.issue(pki.ec_key).serial_number


# --------------------------------------------------------------------------- encodings


def test_pem_round_trips(pki):
    cert = pki.issue(pki.ec_key)
    pem = cert_to_pem(cert)
    assert pem.startswith(b"-----BEGIN CERTIFICATE-----")
    assert cert_from_pem(pem) == cert
    assert cert_from_pem(pem.decode()) == cert
    chain = [cert, pki.ca, pki.root]
    assert chain_from_pem(chain_to_pem(chain)) == chain


@pytest.mark.parametrize("password", [None, b"Qwerty12"])
def test_key_pem_round_trip(pki, password):
    pem = key_to_pem(pki.ec_key, password)
    assert (b"ENCRYPTED" in pem) == (password is not None)
    key = key_from_pem(pem, password)
    assert key.private_numbers() == pki.ec_key.private_numbers()


def test_key_pem_wrong_password(pki):
    pem = key_to_pem(pki.ec_key, b"Qwerty12")
    with pytest.raises((ValueError, TypeError)):
        key_from_pem(pem, b"wrong")


def test_pkcs12_round_trip(pki):
    cert = pki.issue(pki.rsa_key, pki.INDIVIDUAL, "sign")
    data = to_pkcs12(pki.rsa_key, cert, [pki.ca, pki.root], b"Qwerty12", "ТЕСТОВ ТЕСТ sign")
    key, loaded, chain = from_pkcs12(data, b"Qwerty12")
    assert loaded == cert
    assert chain == [pki.ca, pki.root]
    assert key.private_numbers() == pki.rsa_key.private_numbers()
    with pytest.raises(ValueError):
        from_pkcs12(data, b"wrong")


def test_pkcs12_opened_again_is_remembered_but_a_wrong_password_still_fails(pki):
    """An opened storage is remembered by its bytes and password (cryptography re-checks an RSA
    key's primes at every load): the second opening gives the same key; the same bytes with a
    wrong password fail as before, other bytes are opened anew, and a caller's list is its own."""
    cert = pki.issue(pki.rsa_key, pki.INDIVIDUAL, "sign")
    data = to_pkcs12(pki.rsa_key, cert, [pki.ca, pki.root], b"Qwerty12", "ТЕСТОВ ТЕСТ sign")
    first_key, _, first_chain = from_pkcs12(data, b"Qwerty12")
    first_chain.clear()  # the caller's own list: the remembered storage keeps its chain
    again_key, again_cert, again_chain = from_pkcs12(bytearray(data), b"Qwerty12")
    assert again_key is first_key and again_cert == cert and again_chain == [pki.ca, pki.root]
    with pytest.raises(ValueError):
        from_pkcs12(data, b"wrong")
    other = to_pkcs12(pki.ec_key, pki.issue(pki.ec_key, pki.SYSTEM, "sign"), [], b"Qwerty12", "portal")
    assert from_pkcs12(other, b"Qwerty12")[0].private_numbers() == pki.ec_key.private_numbers()


def test_pkcs12_ec_without_chain(pki):
    cert = pki.issue(pki.ec_key, pki.SYSTEM, "sign")
    key, loaded, chain = from_pkcs12(to_pkcs12(pki.ec_key, cert, [], b"secret", "portal"), b"secret")
    assert loaded == cert and chain == []
    assert key.private_numbers() == pki.ec_key.private_numbers()


def test_pkcs12_is_written_as_openssl_writes_it_by_default(pki, tmp_path):
    """PBES2 with AES-256-CBC, PBKDF2 with SHA-256 and 2048 rounds, an HMAC-SHA256 MAC: what
    `openssl pkcs12 -export` writes, read back by OpenSSL itself."""
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("no openssl command on this machine")
    cert = pki.issue(pki.rsa_key, pki.INDIVIDUAL, "sign")
    path = tmp_path / "key.p12"
    path.write_bytes(to_pkcs12(pki.rsa_key, cert, [pki.ca], b"Qwerty12", "ТЕСТОВ ТЕСТ sign"))
    info = subprocess.run(
        ["openssl", "pkcs12", "-info", "-in", str(path), "-noout", "-passin", "pass:Qwerty12"],
        capture_output=True, text=True, check=True,
    ).stderr
    assert "MAC: sha256, Iteration 2048" in info
    assert "PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256" in info
    assert "Iteration 20000" not in info
