"""Detached JWS over RFC 8785 canonical JSON: round trips, every verdict, interoperability."""

from __future__ import annotations

import base64
import json
import random
from collections import OrderedDict
from datetime import timedelta
from enum import Enum, IntEnum
from pathlib import Path

import pytest
import rfc8785
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding

from signatures import jws
from signatures.certificates import (
    cert_to_pem,
    create_issuing_ca,
    create_root_ca,
    generate_key,
    issue_certificate,
)
from signatures.jws import canonical_json, sign_detached, verify_detached
from signatures.verdicts import Verdict, VerdictCode

MESSAGE = {
    "request": {
        "requestInfo": {
            "messageId": "2f1c0c7e-6a8a-4d8b-9a3e-1f2b3c4d5e6f",
            "serviceId": "GBDFL_UniversalServiceSync",
            "messageDate": "2025-03-20T15:00:00+05:00",
            "sender": {"senderId": "portal", "password": "secret"},
            "correlationId": None,
        },
        "requestData": {"data": {"iin": "900101300126", "surname": "ТЕСТОВ", "amount": 1500.5}},
    }
}


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_token(header: dict, signature: bytes = b"\x01" * 64) -> str:
    return f"{b64url(json.dumps(header).encode())}..{b64url(signature)}"


class Signers:
    """Certificates for the JWS tests, derived from the shared PKI."""

    def __init__(self, pki) -> None:
        self.pki = pki
        self.now = pki.NOW
        self.roots = [pki.root]
        self.rsa_cert = pki.issue(pki.rsa_key, pki.INDIVIDUAL, "sign")
        self.ec_cert = pki.issue(pki.ec_key, pki.SYSTEM, "sign")
        self.ec_auth_cert = pki.issue(pki.ec_auth_key, pki.INDIVIDUAL, "auth")
        self.rsa_chain = [self.rsa_cert, pki.ca]
        self.ec_chain = [self.ec_cert, pki.ca]

    def verify(self, token, content=MESSAGE, **kwargs) -> Verdict:
        kwargs.setdefault("trusted_roots", self.roots)
        kwargs.setdefault("at", self.now + timedelta(hours=1))
        return verify_detached(token, content, **kwargs)


@pytest.fixture(scope="module")
def s(pki) -> Signers:
    return Signers(pki)


# --------------------------------------------------------------------------- canonical JSON


def test_canonical_json_basics():
    assert canonical_json({"b": 1, "a": [True, None, "x"]}) == b'{"a":[true,null,"x"],"b":1}'
    assert canonical_json({"ә": "Қ\n\u0001"}) == '{"ә":"Қ\\n\\u0001"}'.encode()
    assert canonical_json(1.0) == b"1"
    assert canonical_json([1e21, 1e-7, -0.0, 0.1]) == b"[1e+21,1e-7,0,0.1]"
    # RFC 8785 sorts keys by UTF-16 code units: U+1F600 (surrogates D83D..) sorts before U+FB33.
    assert canonical_json({"\ufb33": 1, "\U0001f600": 2}) == '{"\U0001f600":2,"\ufb33":1}'.encode()


@pytest.mark.parametrize(
    "bad", [float("nan"), float("inf"), 2**53, {1: "x"}, {"a": object()}, b"bytes", "\ud800", {"a": {1, 2}}]
)
def test_canonical_json_rejects(bad):
    with pytest.raises((ValueError, TypeError)):
        canonical_json(bad)


def _random_value(rng: random.Random, depth: int = 0):
    alphabet = "azAZ09 \"\\/\n\t\x00\x1f\x7fәҚжЁ\u2028\ue000\uffff\U0001f600"
    kind = rng.randrange(9 if depth < 4 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 2**53 - 1, -(2**53 - 1), rng.randrange(-10**9, 10**9)])
    if kind == 3:
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(6)))
    if kind == 4:
        if rng.random() < 0.5:  # around the fast path's edges: 1e-5 and 1e16, whole or not
            return rng.choice([1, -1]) * 10 ** rng.uniform(-6, 17) * rng.choice([1, 1, 1 + 2**-52])
        return rng.choice([0.5, -1.25, 1e21, 1e-7, 1e-5, 9.99e-6, 123456.789, 3.0, 54.7, 1e16 - 2, -0.0])
    if kind == 5:
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(3)))
    if kind == 6:
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if kind == 7:
        return tuple(_random_value(rng, depth + 1) for _ in range(rng.randrange(3)))
    return {
        "".join(rng.choice(alphabet) for _ in range(rng.randrange(4))): _random_value(rng, depth + 1)
        for _ in range(rng.randrange(5))
    }


def test_canonical_json_fast_path_agrees_with_rfc8785():
    rng = random.Random(8785)
    for _ in range(20000):
        value = _random_value(rng)
        assert canonical_json(value) == rfc8785.dumps(value), value


def test_canonical_json_of_a_gateway_message_matches_rfc8785():
    plain = json.loads(json.dumps(MESSAGE))
    plain["request"]["requestData"]["data"]["amount"] = 1500  # no float: takes the fast path
    assert canonical_json(plain) == rfc8785.dumps(plain)
    assert canonical_json(MESSAGE) == rfc8785.dumps(MESSAGE)


# --------------------------------------------------------------------------- format


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_token_format(s, kind):
    key, chain = (s.pki.rsa_key, s.rsa_chain) if kind == "rsa" else (s.pki.ec_key, s.ec_chain)
    token = sign_detached(MESSAGE, key, chain)
    header_part, payload_part, signature_part = token.split(".")
    assert payload_part == ""
    header = json.loads(b64url_decode(header_part))
    assert header == {
        "alg": "RS256" if kind == "rsa" else "ES256",
        "x5c": [base64.b64encode(c.public_bytes(Encoding.DER)).decode() for c in chain],
    }
    for item in header["x5c"]:  # standard base64 with padding, not base64url
        assert base64.b64decode(item, validate=True)
    signature = b64url_decode(signature_part)
    assert len(signature) == (256 if kind == "rsa" else 64)
    assert "=" not in token


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_round_trip(s, kind):
    key, chain, cert = (
        (s.pki.rsa_key, s.rsa_chain, s.rsa_cert)
        if kind == "rsa"
        else (s.pki.ec_key, s.ec_chain, s.ec_cert)
    )
    token = sign_detached(MESSAGE, key, chain)
    verdict = s.verify(token)
    assert verdict.valid, verdict
    assert verdict.code == VerdictCode.VALID
    assert verdict.message == "The signature is valid"
    assert verdict.signer["serial_hex"] == format(cert.serial_number, "x")
    assert verdict.signer["common_name"] == ("ТЕСТОВ ТЕСТ" if kind == "rsa" else "portal")
    # Key order and formatting of the content do not matter, only its JSON value.
    reordered = json.loads(json.dumps(MESSAGE, indent=2, sort_keys=True))
    assert s.verify(token, reordered).valid
    # Repeated verification (cached header and chain) gives the same verdict.
    assert s.verify(token) == verdict


def test_sign_accepts_tuple_chain_and_chain_with_root(s):
    token = sign_detached(MESSAGE, s.pki.ec_key, (s.ec_cert, s.pki.ca, s.pki.root))
    assert s.verify(token).valid


def test_leaf_issued_directly_by_root(s):
    pki = s.pki
    key = generate_key("ec")
    cert = issue_certificate(
        key.public_key(), pki.SYSTEM, issuer_cert=pki.root, issuer_key=pki.root_key,
        now=pki.NOW, usage="sign",
    )
    assert s.verify(sign_detached(MESSAGE, key, [cert])).valid


def test_sign_rejects_key_not_matching_chain(s):
    with pytest.raises(ValueError):
        sign_detached(MESSAGE, s.pki.ec_key, s.rsa_chain)
    with pytest.raises(ValueError):
        sign_detached(MESSAGE, s.pki.ec_key, [])
    with pytest.raises(ValueError):
        sign_detached({"x": float("nan")}, s.pki.ec_key, s.ec_chain)


def test_signature_is_over_canonical_json(s):
    """The signing input is header_part + "." + b64url(JCS(content)), nothing else."""
    token = sign_detached(MESSAGE, s.pki.ec_key, s.ec_chain)
    header_part, _, signature_part = token.split(".")
    signature = b64url_decode(signature_part)
    r, s_ = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    signing_input = f"{header_part}.{b64url(rfc8785.dumps(MESSAGE))}".encode()
    s.ec_cert.public_key().verify(
        encode_dss_signature(r, s_), signing_input, ec.ECDSA(hashes.SHA256())
    )


# --------------------------------------------------------------------------- verdicts


def test_tampered_content_is_signature_mismatch(s):
    token = sign_detached(MESSAGE, s.pki.rsa_key, s.rsa_chain)
    tampered = json.loads(json.dumps(MESSAGE))
    tampered["request"]["requestData"]["data"]["iin"] = "900101300127"
    verdict = s.verify(token, tampered)
    assert (verdict.valid, verdict.code) == (False, VerdictCode.SIGNATURE_MISMATCH)
    assert verdict.message_kk == "Қолтаңба құжатқа сәйкес келмейді"
    assert verdict.message_ru == "Подпись не соответствует документу"
    assert verdict.signer is None


def test_tampered_signature_is_signature_mismatch(s):
    for key, chain in ((s.pki.rsa_key, s.rsa_chain), (s.pki.ec_key, s.ec_chain)):
        token = sign_detached(MESSAGE, key, chain)
        header_part, _, signature_part = token.split(".")
        signature = bytearray(b64url_decode(signature_part))
        signature[5] ^= 0x40
        verdict = s.verify(f"{header_part}..{b64url(bytes(signature))}")
        assert verdict.code == VerdictCode.SIGNATURE_MISMATCH
        short = s.verify(f"{header_part}..{b64url(bytes(signature[:40]))}")
        assert short.code == VerdictCode.SIGNATURE_MISMATCH


@pytest.fixture(scope="module")
def self_signed(pki):
    key = generate_key("rsa")
    return key, create_root_ca(key, now=pki.NOW, name="SELF")


def test_signature_of_another_signer_is_mismatch(s, self_signed):
    """A signature made by one key under a header naming another certificate."""
    rsa_token = sign_detached(MESSAGE, s.pki.rsa_key, s.rsa_chain)
    other = sign_detached(MESSAGE, self_signed[0], [self_signed[1]])
    forged = rsa_token.split(".")[0] + ".." + other.split(".")[2]
    assert s.verify(forged).code == VerdictCode.SIGNATURE_MISMATCH


@pytest.fixture(scope="module")
def rogue(s):
    """A self-made CA that copies the real names, and a signer it issued."""
    pki = s.pki
    root_key = generate_key("ec")
    root = create_root_ca(root_key, now=pki.NOW)  # same subject as the real root
    ca_key = generate_key("ec")
    ca = create_issuing_ca(ca_key, root, root_key, now=pki.NOW)  # same subject as the real CA
    key = generate_key("ec")
    cert = issue_certificate(
        key.public_key(), pki.INDIVIDUAL, issuer_cert=ca, issuer_key=ca_key, now=pki.NOW, usage="sign"
    )
    return {"root": root, "ca": ca, "ca_key": ca_key, "key": key, "cert": cert}


def test_untrusted_ca_is_chain_not_trusted(s, rogue):
    token = sign_detached(MESSAGE, rogue["key"], [rogue["cert"], rogue["ca"]])
    verdict = s.verify(token)
    assert verdict.code == VerdictCode.CHAIN_NOT_TRUSTED
    assert verdict.signer["iin"] == "900101300126"  # who claims to have signed
    assert verdict.message_ru == "Сертификат выдан недоверенным удостоверяющим центром"
    # The same token is valid for whoever trusts the rogue root: trust is per anchor set.
    assert s.verify(token, trusted_roots=[rogue["root"]]).valid
    assert s.verify(token).code == VerdictCode.CHAIN_NOT_TRUSTED
    # Even with the rogue root included in x5c, it is not a trust anchor.
    token = sign_detached(MESSAGE, rogue["key"], [rogue["cert"], rogue["ca"], rogue["root"]])
    assert s.verify(token).code == VerdictCode.CHAIN_NOT_TRUSTED


def test_rogue_leaf_with_real_ca_in_x5c_is_chain_not_trusted(s, rogue):
    token = sign_detached(MESSAGE, rogue["key"], [rogue["cert"], s.pki.ca])
    verdict = s.verify(token)
    assert verdict.code == VerdictCode.CHAIN_NOT_TRUSTED
    assert "was not issued by" in verdict.message


def test_missing_intermediate_is_chain_not_trusted(s):
    token = sign_detached(MESSAGE, s.pki.ec_key, [s.ec_cert])
    assert s.verify(token).code == VerdictCode.CHAIN_NOT_TRUSTED


def test_self_signed_signer_is_chain_not_trusted(s, self_signed):
    token = sign_detached(MESSAGE, self_signed[0], [self_signed[1]])
    assert s.verify(token, usage=None).code == VerdictCode.CHAIN_NOT_TRUSTED


def test_no_trusted_roots_is_chain_not_trusted(s):
    token = sign_detached(MESSAGE, s.pki.ec_key, s.ec_chain)
    assert s.verify(token, trusted_roots=[]).code == VerdictCode.CHAIN_NOT_TRUSTED


def test_end_entity_acting_as_ca_is_chain_not_trusted(s):
    """A leaf certificate (BasicConstraints ca=False) may not issue certificates."""
    pki = s.pki
    key = generate_key("ec")
    cert = issue_certificate(
        key.public_key(), pki.SYSTEM, issuer_cert=s.ec_cert, issuer_key=pki.ec_key,
        now=pki.NOW, usage="sign",
    )
    token = sign_detached(MESSAGE, key, [cert, s.ec_cert, pki.ca])
    verdict = s.verify(token)
    assert verdict.code == VerdictCode.CHAIN_NOT_TRUSTED
    assert "not a CA" in verdict.message


def test_path_length_is_enforced(s):
    """The issuing CA has pathLen 0: a sub-CA under it is not trusted."""
    pki = s.pki
    sub_key = generate_key("ec")
    sub = create_issuing_ca(sub_key, pki.ca, pki.ca_key, now=pki.NOW, name="SUB CA")
    key = generate_key("ec")
    cert = issue_certificate(
        key.public_key(), pki.SYSTEM, issuer_cert=sub, issuer_key=sub_key, now=pki.NOW, usage="sign"
    )
    verdict = s.verify(sign_detached(MESSAGE, key, [cert, sub, pki.ca]))
    assert verdict.code == VerdictCode.CHAIN_NOT_TRUSTED
    assert "path length" in verdict.message


def test_expired_certificate(s):
    token = sign_detached(MESSAGE, s.pki.rsa_key, s.rsa_chain)
    verdict = s.verify(token, at=s.now + timedelta(days=366))
    assert verdict.code == VerdictCode.CERT_EXPIRED
    assert verdict.signer["common_name"] == "ТЕСТОВ ТЕСТ"
    assert verdict.message_kk == "Сертификаттың қолданылу мерзімі өтіп кеткен"
    # Validity bounds are inclusive.
    assert s.verify(token, at=s.rsa_cert.not_valid_after_utc).valid
    assert s.verify(token, at=s.rsa_cert.not_valid_before_utc).valid


def test_not_yet_valid_certificate(s):
    token = sign_detached(MESSAGE, s.pki.ec_key, s.ec_chain)
    verdict = s.verify(token, at=s.now - timedelta(seconds=1))
    assert verdict.code == VerdictCode.CERT_NOT_YET_VALID
    assert verdict.message_ru == "Срок действия сертификата ещё не наступил"


def test_expired_issuing_ca_is_expired(s):
    """Every certificate of the path is checked, not only the signer's."""
    pki = s.pki
    key = generate_key("ec")
    cert = pki.issue(key, pki.SYSTEM, days=365 * 7)  # outlives the 5-year issuing CA
    token = sign_detached(MESSAGE, key, [cert, pki.ca])
    verdict = s.verify(token, at=pki.NOW + timedelta(days=365 * 6))
    assert verdict.code == VerdictCode.CERT_EXPIRED
    assert "ҰЛТТЫҚ" in verdict.message


def test_naive_at_is_utc(s):
    token = sign_detached(MESSAGE, s.pki.ec_key, s.ec_chain)
    assert s.verify(token, at=(s.now + timedelta(hours=1)).replace(tzinfo=None)).valid


def test_auth_certificate_for_signing_is_wrong_key_usage(s):
    token = sign_detached(MESSAGE, s.pki.ec_auth_key, [s.ec_auth_cert, s.pki.ca])
    verdict = s.verify(token)  # usage="sign" by default
    assert verdict.code == VerdictCode.WRONG_KEY_USAGE
    assert verdict.signer["usage"] == "auth"
    assert s.verify(token, usage="auth").valid
    assert s.verify(token, usage=None).valid


def test_sign_certificate_for_auth_is_wrong_key_usage(s):
    token = sign_detached(MESSAGE, s.pki.ec_key, s.ec_chain)
    assert s.verify(token, usage="auth").code == VerdictCode.WRONG_KEY_USAGE


def test_rule_order(s, rogue):
    auth_token = sign_detached(MESSAGE, s.pki.ec_auth_key, [s.ec_auth_cert, s.pki.ca])
    # expired and wrong usage: expiry is reported
    assert s.verify(auth_token, at=s.now + timedelta(days=400)).code == VerdictCode.CERT_EXPIRED
    rogue_token = sign_detached(MESSAGE, rogue["key"], [rogue["cert"], rogue["ca"]])
    # untrusted and expired: trust is reported
    assert s.verify(rogue_token, at=s.now + timedelta(days=400)).code == VerdictCode.CHAIN_NOT_TRUSTED
    # untrusted and tampered: the mismatch is reported
    assert s.verify(rogue_token, {"other": 1}).code == VerdictCode.SIGNATURE_MISMATCH


def _garbage_tokens(s) -> dict[str, object]:
    good = sign_detached(MESSAGE, s.pki.ec_key, s.ec_chain)
    header_part, _, signature_part = good.split(".")
    x5c = json.loads(b64url_decode(header_part))["x5c"]
    rsa_x5c = [base64.b64encode(c.public_bytes(Encoding.DER)).decode() for c in s.rsa_chain]
    url_safe_leaf = x5c[0].replace("+", "-").replace("/", "_")
    duplicate = b'{"alg":"none","alg":"ES256","x5c":' + json.dumps(x5c).encode() + b"}"
    return {
        "empty": "",
        "word": "garbage",
        "three words": "a.b.c",
        "four parts": good + ".x",
        "not a string": 12345,
        "none": None,
        "non-ascii bytes": "заголовок..подпись".encode(),
        "attached payload": f"{header_part}.{b64url(rfc8785.dumps(MESSAGE))}.{signature_part}",
        "padded header": f"{header_part}==..{signature_part}",
        "header not json": f"{b64url(b'not json')}..{signature_part}",
        "header a list": f"{b64url(b'[1,2]')}..{signature_part}",
        "alg none": make_token({"alg": "none", "x5c": x5c}),
        "alg HS256": make_token({"alg": "HS256", "x5c": x5c}),
        "alg missing": make_token({"x5c": x5c}),
        "alg mismatch": make_token({"alg": "RS256", "x5c": x5c}),
        "alg mismatch rsa": make_token({"alg": "ES256", "x5c": rsa_x5c}),
        "x5c missing": make_token({"alg": "ES256"}),
        "x5c empty": make_token({"alg": "ES256", "x5c": []}),
        "x5c not base64": make_token({"alg": "ES256", "x5c": ["!!!"]}),
        "x5c not a cert": make_token({"alg": "ES256", "x5c": [base64.b64encode(b"hello").decode()]}),
        "x5c url-safe": make_token({"alg": "ES256", "x5c": [url_safe_leaf + "-_"]}),
        "x5c not strings": make_token({"alg": "ES256", "x5c": [1]}),
        "crit": make_token({"alg": "ES256", "x5c": x5c, "crit": ["exp"], "exp": 1}),
        "b64 false": make_token({"alg": "ES256", "x5c": x5c, "b64": False, "crit": ["b64"]}),
        "b64 without crit": make_token({"alg": "ES256", "x5c": x5c, "b64": False}),
        "duplicate alg": f"{b64url(duplicate)}..{signature_part}",
        "signature not base64url": f"{header_part}..{signature_part}+/",
        "signature missing": f"{header_part}..",
        "signature trailing bits": f"{header_part}..{_set_trailing_bit(signature_part)}",
        "header trailing bits": f"{_set_trailing_bit(_header_with_spare_bits(x5c))}..{signature_part}",
        "signature padded": f"{header_part}..{signature_part}==",
        "signature with a space": f"{header_part}..{signature_part[:5]} {signature_part[5:]}",
        "token with a newline": f"{good}\n",
        "token with leading space": f" {good}",
    }


_URL_SAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _header_with_spare_bits(x5c: list[str]) -> str:
    """A header part whose encoding ends with spare bits (its JSON padded with spaces to a length
    that is no multiple of 3)."""
    text = json.dumps({"alg": "ES256", "x5c": x5c}, separators=(",", ":"))
    while len(text) % 3 == 0:
        text += " "
    return b64url(text.encode())


def _set_trailing_bit(part: str, standard: bool = False) -> str:
    """``part`` with the lowest spare bit of its last character set: the same bytes, another text."""
    alphabet = _URL_SAFE.replace("-", "+").replace("_", "/") if standard else _URL_SAFE
    text = part.rstrip("=")
    spare = {2: 4, 3: 2}[len(text) % 4]  # 1 or 2 bytes in the last quantum leave 4 or 2 spare bits
    index = alphabet.index(text[-1])
    assert index % (1 << spare) == 0, "a canonical encoding's spare bits are zero"
    return text[:-1] + alphabet[index | 1] + part[len(text):]


def test_garbage_is_malformed(s):
    for name, token in _garbage_tokens(s).items():
        verdict = s.verify(token)
        assert isinstance(verdict, Verdict), name
        assert verdict.code == VerdictCode.MALFORMED, (name, verdict)
        assert not verdict.valid and verdict.signer is None, name
        assert verdict.message.startswith("The signature is malformed"), name
        assert "unexpected error" not in verdict.message, name
        assert verdict.message_kk == "Қолтаңбаның пішімі дұрыс емес"


def test_every_part_must_be_canonical_base64(s):
    """One signature, one text: a part written another way that decodes to the same bytes is
    refused, and the verdict says which part and why."""
    good = sign_detached(MESSAGE, s.pki.ec_key, s.ec_chain)
    header_part, _, signature_part = good.split(".")
    x5c = json.loads(b64url_decode(header_part))["x5c"]
    spare = base64.b64encode(b"\x30\x82").decode()  # "MII=": two spare bits
    cases = {
        f"{header_part}..{_set_trailing_bit(signature_part)}": "signature part is not canonical base64url",
        f"{_set_trailing_bit(_header_with_spare_bits(x5c))}..{signature_part}": "header is not canonical base64url",
        f"{header_part}..{signature_part}=": "signature part is not unpadded base64url",
        make_token({"alg": "ES256", "x5c": [_set_trailing_bit(spare, standard=True)]}): "x5c[0]",
        make_token({"alg": "ES256", "x5c": [x5c[0], spare.rstrip("=")]}): "x5c[1]",
    }
    for token, said in cases.items():
        verdict = s.verify(token)
        assert verdict.code == VerdictCode.MALFORMED, (said, verdict)
        assert said in verdict.message and "base64" in verdict.message, verdict.message
    assert s.verify(good).valid


@pytest.mark.parametrize("content", [{"x": float("nan")}, {1: "x"}, {"when": object()}, 2**60])
def test_content_without_canonical_form_is_malformed(s, content):
    token = sign_detached(MESSAGE, s.pki.ec_key, s.ec_chain)
    assert s.verify(token, content).code == VerdictCode.MALFORMED


def test_random_mutations_never_raise(s):
    token = sign_detached(MESSAGE, s.pki.ec_key, s.ec_chain)
    rng = random.Random(7515)
    alphabet = "ABCxyz019-_.=+/"
    for _ in range(300):
        chars = list(token)
        for _ in range(rng.randrange(1, 4)):
            chars[rng.randrange(len(chars))] = rng.choice(alphabet)
        verdict = s.verify("".join(chars))
        assert verdict.code in set(VerdictCode)
        assert "unexpected error" not in verdict.message


def test_bad_arguments_are_programming_errors(s):
    token = sign_detached(MESSAGE, s.pki.ec_key, s.ec_chain)
    with pytest.raises(TypeError):
        verify_detached(token, MESSAGE, trusted_roots=s.roots, at="2025-03-20")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        verify_detached(
            token, MESSAGE, trusted_roots=s.roots, at=s.now, usage="encrypt"  # type: ignore[arg-type]
        )
    with pytest.raises(TypeError):
        verify_detached(token, MESSAGE, trusted_roots=[b"pem"], at=s.now)  # type: ignore[list-item]


def test_module_never_reads_the_wall_clock():
    source = Path(jws.__file__).read_text(encoding="utf-8")
    for forbidden in ("datetime.now", "utcnow", "time.time", "date.today"):
        assert forbidden not in source


def test_verdict_to_dict_is_json_ready(s):
    verdict = s.verify(sign_detached(MESSAGE, s.pki.ec_key, s.ec_chain))
    data = verdict.to_dict()
    assert json.loads(json.dumps(data))["signer"]["not_before"] == s.ec_cert.not_valid_before_utc.isoformat()
    assert data["code"] == "VALID"


def test_verdict_fail_messages():
    verdict = Verdict.fail(VerdictCode.CERT_EXPIRED, "leaf expired at 2026-03-20")
    assert not verdict.valid
    assert verdict.code == "CERT_EXPIRED"
    assert verdict.message == "The certificate has expired: leaf expired at 2026-03-20"
    assert verdict.message_ru == "Срок действия сертификата истёк"
    assert Verdict.fail("WRONG_KEY_USAGE").message_kk.startswith("Сертификат бұл мақсатқа")
    with pytest.raises(ValueError):
        Verdict.fail(VerdictCode.VALID)
    with pytest.raises(ValueError):
        Verdict.fail("NO_SUCH_CODE")
    with pytest.raises(AttributeError):
        verdict.valid = True  # type: ignore[misc]
    for code in VerdictCode:
        built = Verdict.ok() if code is VerdictCode.VALID else Verdict.fail(code)
        assert built.message and built.message_kk and built.message_ru


# --------------------------------------------------------------------------- interoperability


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_independent_library_verifies_our_tokens(s, kind):
    """joserfc, knowing nothing of this module, verifies the token with x5c[0]'s key."""
    joserfc_jws = pytest.importorskip("joserfc.jws")
    from joserfc.jwk import ECKey, RSAKey

    # joserfc caps headers at 512 bytes by default; an x5c chain of two certificates is ~2-3 KB.
    registry = joserfc_jws.JWSRegistry(algorithms=["RS256", "ES256"])
    registry.max_header_length = 16 * 1024

    key, chain = (s.pki.rsa_key, s.rsa_chain) if kind == "rsa" else (s.pki.ec_key, s.ec_chain)
    token = sign_detached(MESSAGE, key, chain)
    header = json.loads(b64url_decode(token.split(".")[0]))
    leaf = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
    key_class = RSAKey if kind == "rsa" else ECKey
    public = key_class.import_key(cert_to_pem(leaf))
    payload = rfc8785.dumps(MESSAGE)

    result = joserfc_jws.deserialize_compact(token, public, payload=payload, registry=registry)
    assert result.protected["alg"] == ("RS256" if kind == "rsa" else "ES256")
    assert json.loads(result.payload) == MESSAGE

    # The same, by re-attaching the payload between the dots by hand.
    head, _, sig = token.split(".")
    attached = f"{head}.{b64url(payload)}.{sig}"
    assert json.loads(joserfc_jws.deserialize_compact(attached, public, registry=registry).payload) == MESSAGE

    # And a tampered payload fails there too.
    from joserfc.errors import BadSignatureError

    with pytest.raises(BadSignatureError):
        joserfc_jws.deserialize_compact(
            token, public, payload=rfc8785.dumps({"other": 1}), registry=registry
        )


def test_tokens_made_by_an_independent_library_verify(s):
    """A detached JWS produced by joserfc over the canonical JSON is accepted."""
    joserfc_jws = pytest.importorskip("joserfc.jws")
    from joserfc.jwk import ECKey

    from signatures.certificates import key_to_pem

    private = ECKey.import_key(key_to_pem(s.pki.ec_key))
    x5c = [base64.b64encode(c.public_bytes(Encoding.DER)).decode() for c in s.ec_chain]
    registry = joserfc_jws.JWSRegistry(algorithms=["ES256"])
    registry.max_header_length = 16 * 1024
    full = joserfc_jws.serialize_compact(
        {"alg": "ES256", "x5c": x5c}, rfc8785.dumps(MESSAGE), private, registry=registry
    )
    head, _, sig = full.split(".")
    assert s.verify(f"{head}..{sig}").valid


def test_canonical_json_deeper_than_the_fast_encoder_goes():
    value: object = "leaf"
    for depth in range(300):  # orjson stops at 254 levels; the content still has a canonical form
        value = [value] if depth % 2 else {"k": value}
    assert canonical_json(value) == rfc8785.dumps(value)


class _Code(str, Enum):
    VALID = "VALID"
    OTHER = "Қ\n"


class _Level(IntEnum):
    HIGH = 3


def _random_document(rng: random.Random, depth: int = 0):
    """Values the fast path rewrites (whole floats, subclasses of str, int, float, dict and list)
    among ones it does not (floats outside its range, keys beyond U+FFFF)."""
    kind = rng.randrange(8 if depth < 4 else 5)
    if kind == 0:
        return float(rng.choice([0, 1, -1, 40, 2**53 - 1, -(2**53 - 1), 2**53, 1e16, 1e21, rng.randrange(-10**9, 10**9)]))
    if kind == 1:
        return rng.choice([_Code.VALID, _Code.OTHER, _Level.HIGH, -0.0, 1e-7, 0.25])
    if kind == 2:
        return rng.choice(["x", 7, None, True, "\U0001f600"])
    if kind == 3:
        return _random_value(rng, depth + 1)
    if kind == 4:
        return rng.choice([float(rng.randrange(10**6)), rng.randrange(10**6) / 4])
    if kind == 5:
        return [_random_document(rng, depth + 1) for _ in range(rng.randrange(4))]
    if kind == 6:
        return OrderedDict((rng.choice(["a", "b", _Code.VALID]), _random_document(rng, depth + 1)) for _ in range(2))
    keys = ["a", "ә", "\U0001f600", _Code.OTHER, "z"]
    return {rng.choice(keys): _random_document(rng, depth + 1) for _ in range(rng.randrange(4))}


def test_canonical_json_rewritten_values_agree_with_rfc8785():
    rng = random.Random(40)
    for _ in range(20000):
        value = _random_document(rng)
        assert canonical_json(value) == rfc8785.dumps(value), value


def test_whole_floats_and_enums_take_the_fast_path(monkeypatch):
    def refused(value):
        raise AssertionError(f"rfc8785 was asked for {value!r}")

    monkeypatch.setattr(rfc8785, "dumps", refused)
    document = {"area": 40.0, "price": 5443200.0, "income": -0.0, "code": _Code.VALID, "level": _Level.HIGH,
                "rows": (1.0, [2.5])}
    assert canonical_json(document) == b'{"area":40,"code":"VALID","income":0,"level":3,"price":5443200,"rows":[1,[2.5]]}'


# --------------------------------------------------------------------------- proven signatures


class _CountingKey:
    """A public key that counts its verifications (and does them)."""

    def __init__(self, key) -> None:
        self.key, self.calls = key, 0

    def verify(self, *args):
        self.calls += 1
        return self.key.verify(*args)


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_a_proven_signature_is_not_verified_again_and_a_changed_one_is(s, kind, monkeypatch):
    key, chain = (s.pki.rsa_key, s.rsa_chain) if kind == "rsa" else (s.pki.ec_key, s.ec_chain)
    jws.clear_caches()
    token = sign_detached(MESSAGE, key, chain)
    header = jws._parse_header(token.split(".")[0])
    counting = _CountingKey(header.public_key)
    monkeypatch.setattr(header, "public_key", counting)
    assert s.verify(token).valid and s.verify(token).valid
    assert counting.calls == 1  # the second check found the pair proven
    other = dict(MESSAGE, extra="x")
    assert s.verify(token, other).code == VerdictCode.SIGNATURE_MISMATCH  # another content: checked
    header_part, _, signature_part = token.split(".")
    forged = f"{header_part}..{b64url(bytes(b ^ 1 for b in b64url_decode(signature_part)))}"
    assert s.verify(forged).code == VerdictCode.SIGNATURE_MISMATCH  # another signature: checked
    assert counting.calls == 3
    # the chain and the time are still decided at each check
    assert s.verify(token, at=s.now + timedelta(days=365 * 30)).code == VerdictCode.CERT_EXPIRED


def test_proven_signatures_are_remembered_up_to_a_bound(s, monkeypatch):
    jws.clear_caches()
    monkeypatch.setattr(jws, "MATCHES_REMEMBERED", 3)
    tokens = [sign_detached({"n": n}, s.pki.ec_key, s.ec_chain) for n in range(5)]
    for n, token in enumerate(tokens):
        assert s.verify(token, {"n": n}).valid
    assert len(jws._matched) == 3
    jws.clear_caches()
    assert not jws._matched
