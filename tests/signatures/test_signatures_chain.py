"""signatures.chain: path building (ordered and unordered), CA rules, validity and key usage."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from signatures import chain
from signatures.certificates import (
    create_issuing_ca,
    create_root_ca,
    generate_key,
    issue_certificate,
)
from signatures.chain import CertPath, build_path, check_certificate, issued_by
from signatures.verdicts import VerdictCode


def make_ca(
    name: str,
    key,
    *,
    issuer: x509.Certificate | None,
    issuer_key,
    now,
    ca: bool = True,
    path_length: int | None = None,
    key_cert_sign: bool = True,
    days: int = 3650,
) -> x509.Certificate:
    """A CA certificate with free BasicConstraints / KeyUsage (self-signed when issuer is None)."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer is not None else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not key_cert_sign,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=key_cert_sign,
                crl_sign=key_cert_sign,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    return builder.sign(issuer_key if issuer is not None else key, hashes.SHA256())


class Certs:
    def __init__(self, pki) -> None:
        self.pki = pki
        self.now = pki.NOW
        self.roots = (pki.root,)
        self.key = pki.ec_key
        self.leaf = pki.issue(pki.ec_key, pki.INDIVIDUAL, "sign")
        self.auth_leaf = pki.issue(pki.ec_auth_key, pki.INDIVIDUAL, "auth")
        # an unrelated CA, to be mixed into the certificate sets
        self.other_key = generate_key("ec")
        self.other = make_ca("UNRELATED CA", self.other_key, issuer=None, issuer_key=None, now=pki.NOW)

    def issue(self, issuer, issuer_key, usage="sign", **kwargs):
        key = generate_key("ec")
        kwargs.setdefault("now", self.now)
        cert = issue_certificate(
            key.public_key(), self.pki.INDIVIDUAL, issuer_cert=issuer, issuer_key=issuer_key,
            usage=usage, **kwargs,
        )
        return key, cert


@pytest.fixture(scope="module")
def c(pki) -> Certs:
    return Certs(pki)


# --------------------------------------------------------------------------- build_path


def test_path_from_leaf_to_root(c):
    path = build_path([c.leaf, c.pki.ca], c.roots)
    assert isinstance(path, CertPath)
    assert path.certs == (c.leaf, c.pki.ca, c.pki.root)
    assert path.leaf == c.leaf and path.anchor == c.pki.root
    assert [label for _, _, label in path.windows] == [
        "ТЕСТОВ ТЕСТ", "ҰЛТТЫҚ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ (RSA)", "НЕГІЗГІ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ",
    ]
    assert path.windows[0][:2] == (c.leaf.not_valid_before_utc, c.leaf.not_valid_after_utc)
    assert path.usage_ok == {"sign": True, "auth": False}
    assert build_path([c.auth_leaf, c.pki.ca], c.roots).usage_ok == {"sign": False, "auth": True}


def test_unordered_extra_certificates(c):
    """A CMS certificate set is unordered and may hold unrelated certificates and the root."""
    for extra in (
        [c.pki.ca],
        [c.pki.root, c.pki.ca],
        [c.other, c.pki.root, c.leaf, c.pki.ca, c.pki.ca],
        [c.pki.ca, c.other],
    ):
        path = build_path([c.leaf, *extra], c.roots)
        assert isinstance(path, CertPath), extra
        assert path.certs == (c.leaf, c.pki.ca, c.pki.root)


def test_ordered_requires_each_certificate_to_issue_the_previous(c):
    assert isinstance(build_path([c.leaf, c.pki.ca, c.pki.root], c.roots, ordered=True), CertPath)
    problem = build_path([c.leaf, c.pki.root, c.pki.ca], c.roots, ordered=True)
    assert problem == "x5c[0] was not issued by x5c[1]"
    problem = build_path([c.leaf, c.pki.ca, c.other], (), ordered=True)
    assert problem == "x5c[1] was not issued by x5c[2]"
    problem = build_path([c.leaf, c.other, c.pki.ca], c.roots, ordered=True)
    assert problem == "x5c[0] was not issued by x5c[1]"
    # the same certificates, unordered, make a path
    assert isinstance(build_path([c.leaf, c.pki.root, c.pki.ca], c.roots), CertPath)
    assert isinstance(build_path([c.leaf, c.other, c.pki.ca], c.roots), CertPath)


def test_leaf_issued_by_root_and_root_itself(c):
    key, cert = c.issue(c.pki.root, c.pki.root_key)
    path = build_path([cert], c.roots)
    assert isinstance(path, CertPath) and path.certs == (cert, c.pki.root)
    # a trust anchor checked on its own is a path of one
    assert build_path([c.pki.root], c.roots).certs == (c.pki.root,)


def test_missing_intermediate_and_no_roots(c):
    problem = build_path([c.leaf], c.roots)
    assert isinstance(problem, str) and problem.startswith("no trusted root issued 'ТЕСТОВ ТЕСТ'")
    assert "ҰЛТТЫҚ" in problem  # the issuer that was looked for
    assert isinstance(build_path([c.leaf, c.pki.ca], ()), str)
    assert isinstance(build_path([c.leaf, c.pki.ca, c.pki.root], ()), str)  # a root in the set is no anchor
    with pytest.raises(ValueError):
        build_path([], c.roots)


def test_untrusted_root_with_same_names(c):
    """A rogue hierarchy copying the real names: names match, signatures do not."""
    root_key, ca_key = generate_key("ec"), generate_key("ec")
    root = create_root_ca(root_key, now=c.now)
    ca = create_issuing_ca(ca_key, root, root_key, now=c.now)
    _, leaf = c.issue(ca, ca_key)
    assert isinstance(build_path([leaf, ca, root], c.roots), str)
    assert isinstance(build_path([leaf, ca, c.pki.ca], c.roots), str)
    assert isinstance(build_path([leaf, c.pki.ca], c.roots), str)  # real CA did not sign it
    assert isinstance(build_path([leaf, ca], (root,)), CertPath)


def test_path_length_is_enforced(c):
    """The issuing CA has pathLen 0: a sub-CA under it is refused, in any order."""
    sub_key = generate_key("ec")
    sub = create_issuing_ca(sub_key, c.pki.ca, c.pki.ca_key, now=c.now, name="SUB CA")
    _, leaf = c.issue(sub, sub_key)
    for certs in ([leaf, sub, c.pki.ca], [leaf, c.pki.ca, sub], [leaf, c.pki.root, c.pki.ca, sub]):
        problem = build_path(certs, c.roots)
        assert isinstance(problem, str) and "path length" in problem, certs
        assert "ҰЛТТЫҚ" in problem
    assert "path length" in build_path([leaf, sub, c.pki.ca], c.roots, ordered=True)


def test_path_length_of_the_trust_anchor(c):
    """The root's own pathLen counts: root pathLen 0 may not have an intermediate under it."""
    root_key, ca_key = generate_key("ec"), generate_key("ec")
    root = make_ca("ROOT PL0", root_key, issuer=None, issuer_key=None, now=c.now, path_length=0)
    ca = make_ca("CA UNDER PL0", ca_key, issuer=root, issuer_key=root_key, now=c.now)
    _, leaf = c.issue(ca, ca_key)
    assert "path length" in build_path([leaf, ca], (root,))
    _, direct = c.issue(root, root_key)
    assert isinstance(build_path([direct], (root,)), CertPath)


def test_non_ca_intermediate_is_refused(c):
    """A leaf (BasicConstraints ca=False) that issued a certificate is no CA."""
    _, leaf = c.issue(c.leaf, c.key)
    for certs in ([leaf, c.leaf, c.pki.ca], [leaf, c.pki.ca, c.leaf]):
        problem = build_path(certs, c.roots)
        assert isinstance(problem, str) and "not a CA" in problem, certs
    # and a certificate without BasicConstraints at all
    key = generate_key("ec")
    plain = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "NO CONSTRAINTS")]))
        .issuer_name(c.pki.ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(c.now)
        .not_valid_after(c.now + timedelta(days=30))
        .sign(c.pki.ca_key, hashes.SHA256())
    )
    _, below = c.issue(plain, key)
    assert "not a CA" in build_path([below, plain, c.pki.ca], c.roots)


def test_ca_without_key_cert_sign_is_refused(c):
    root_key, ca_key = generate_key("ec"), generate_key("ec")
    root = make_ca("ROOT KU", root_key, issuer=None, issuer_key=None, now=c.now)
    ca = make_ca("CA NO CERTSIGN", ca_key, issuer=root, issuer_key=root_key, now=c.now, key_cert_sign=False)
    _, leaf = c.issue(ca, ca_key)
    assert "may not sign certificates" in build_path([leaf, ca], (root,))
    # the same rule for the trust anchor itself
    bad_root = make_ca("ROOT NO CERTSIGN", root_key, issuer=None, issuer_key=None, now=c.now, key_cert_sign=False)
    _, leaf2 = c.issue(bad_root, root_key)
    assert "may not sign certificates" in build_path([leaf2], (bad_root,))


def test_search_backtracks_over_cross_certificates(c):
    """Two certificates of the same CA key, one from an untrusted root: the trusted one is found."""
    rogue_key = generate_key("ec")
    rogue_root = make_ca("ROGUE ROOT", rogue_key, issuer=None, issuer_key=None, now=c.now)
    cross = (  # the real issuing CA's name and key, certified by the rogue root
        x509.CertificateBuilder()
        .subject_name(c.pki.ca.subject)
        .issuer_name(rogue_root.subject)
        .public_key(c.pki.ca.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(c.now)
        .not_valid_after(c.now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(rogue_key, hashes.SHA256())
    )
    for certs in ([c.leaf, cross, rogue_root, c.pki.ca], [c.leaf, c.pki.ca, cross]):
        path = build_path(certs, c.roots)
        assert isinstance(path, CertPath), certs
        assert path.certs == (c.leaf, c.pki.ca, c.pki.root)
    # trusting the rogue root instead, the cross certificate is used
    path = build_path([c.leaf, c.pki.ca, cross, rogue_root], (rogue_root,))
    assert isinstance(path, CertPath) and path.certs == (c.leaf, cross, rogue_root)


def test_certificate_loops_end(c):
    """Two CAs certifying each other, neither trusted: the search ends with a reason."""
    key_a, key_b = generate_key("ec"), generate_key("ec")
    name_a = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "LOOP A")])
    name_b = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "LOOP B")])

    def cross(subject, key, issuer_name, issuer_key):
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(c.now)
            .not_valid_after(c.now + timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(issuer_key, hashes.SHA256())
        )

    a_by_b = cross(name_a, key_a, name_b, key_b)
    b_by_a = cross(name_b, key_b, name_a, key_a)
    _, leaf = c.issue(a_by_b, key_a)
    problem = build_path([leaf, a_by_b, b_by_a], c.roots)
    assert isinstance(problem, str)


def test_maximum_path_length(c):
    """Paths longer than MAX_PATH_LENGTH certificates (anchor included) are not built."""
    limit = chain.MAX_PATH_LENGTH
    root_key = generate_key("ec")
    root = make_ca("DEEP ROOT", root_key, issuer=None, issuer_key=None, now=c.now)
    cas, issuer, issuer_key = [], root, root_key
    for depth in range(limit - 1):
        key = generate_key("ec")
        ca = make_ca(f"DEEP CA {depth}", key, issuer=issuer, issuer_key=issuer_key, now=c.now)
        cas.append(ca)
        issuer, issuer_key = ca, key
    _, leaf = c.issue(issuer, issuer_key)
    # leaf + cas[1:] + cas[0] as the anchor: exactly the limit
    path = build_path([leaf, *cas[1:]], (cas[0],))
    assert isinstance(path, CertPath) and len(path.certs) == limit
    path = build_path([leaf, *reversed(cas[1:])], (cas[0],), ordered=False)
    assert isinstance(path, CertPath) and len(path.certs) == limit
    # leaf + all CAs + the root: one too many
    too_long = build_path([leaf, *cas], (root,))
    assert isinstance(too_long, str) and "longer than" in too_long


def test_issued_by(c):
    assert issued_by(c.leaf, c.pki.ca)
    assert issued_by(c.pki.ca, c.pki.root)
    assert issued_by(c.pki.root, c.pki.root)
    assert not issued_by(c.leaf, c.pki.root)
    assert not issued_by(c.pki.ca, c.other)


# --------------------------------------------------------------------------- check_certificate


def test_check_certificate_holds(c):
    at = c.now + timedelta(hours=1)
    path = build_path([c.leaf, c.pki.ca], c.roots)
    assert check_certificate(path, at=at, usage="sign") is None
    assert check_certificate(path, at=at, usage=None) is None
    assert check_certificate([c.leaf, c.pki.ca], c.roots, at=at, usage="sign") is None
    assert check_certificate([c.leaf, c.pki.root, c.pki.ca], c.roots, at=at, usage="sign") is None
    assert check_certificate(path, at=at.replace(tzinfo=None), usage="sign") is None  # naive = UTC
    # validity bounds are inclusive
    assert check_certificate(path, at=c.leaf.not_valid_before_utc, usage="sign") is None
    assert check_certificate(path, at=c.leaf.not_valid_after_utc, usage="sign") is None


def test_check_certificate_verdicts(c):
    at = c.now + timedelta(hours=1)
    signer = {"iin": "900101300126"}
    verdict = check_certificate([c.leaf], c.roots, at=at, usage="sign", signer=signer)
    assert verdict.code == VerdictCode.CHAIN_NOT_TRUSTED and verdict.signer == signer
    reason = build_path([c.leaf], c.roots)
    assert check_certificate(reason, at=at, usage="sign").code == VerdictCode.CHAIN_NOT_TRUSTED
    assert reason in check_certificate(reason, at=at, usage="sign").message

    path = build_path([c.leaf, c.pki.ca], c.roots)
    early = check_certificate(path, at=c.now - timedelta(seconds=1), usage="sign", signer=signer)
    assert early.code == VerdictCode.CERT_NOT_YET_VALID and early.signer == signer
    late = check_certificate(path, at=c.now + timedelta(days=366), usage="sign")
    assert late.code == VerdictCode.CERT_EXPIRED and "ТЕСТОВ ТЕСТ" in late.message
    wrong = check_certificate(path, at=at, usage="auth", signer=signer)
    assert wrong.code == VerdictCode.WRONG_KEY_USAGE and wrong.signer == signer
    auth = build_path([c.auth_leaf, c.pki.ca], c.roots)
    assert check_certificate(auth, at=at, usage="sign").code == VerdictCode.WRONG_KEY_USAGE
    assert check_certificate(auth, at=at, usage="auth") is None
    # expired and wrong usage: expiry first
    assert check_certificate(auth, at=c.now + timedelta(days=400), usage="sign").code == VerdictCode.CERT_EXPIRED
    with pytest.raises(ValueError):
        check_certificate(path, at=at, usage="encrypt")  # type: ignore[arg-type]


def test_every_certificate_of_the_path_must_be_valid(c):
    _, long_lived = c.issue(c.pki.ca, c.pki.ca_key, days=365 * 7)  # outlives the 5-year CA
    path = build_path([long_lived, c.pki.ca], c.roots)
    verdict = check_certificate(path, at=c.now + timedelta(days=365 * 6), usage="sign")
    assert verdict.code == VerdictCode.CERT_EXPIRED and "ҰЛТТЫҚ" in verdict.message


def test_module_never_reads_the_wall_clock():
    source = Path(chain.__file__).read_text(encoding="utf-8")
    for forbidden in ("datetime.now", "utcnow", "time.time", "date.today"):
        assert forbidden not in source
