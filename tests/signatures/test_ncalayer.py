"""The simulated NCALayer takes the real client's messages and answers as it does."""

from __future__ import annotations

import base64
from datetime import datetime

import pytest

from signatures.cms import verify_cms
from signatures.identity import Identity
from signatures.ncalayer import BASICS, COMMON_UTILS, SIGN_EKU, NCALayer

from conftest import NOW

AT = NOW

async def _now() -> datetime:
    return AT


def _sign(data: bytes, **params) -> dict:
    return {
        "module": BASICS,
        "method": "sign",
        "args": {
            "format": "cms",
            "data": base64.b64encode(data).decode(),
            "signingParams": {"decode": True, "encapsulate": params.pop("encapsulate", True)},
            "signerParams": params,
            "locale": "kk",
        },
    }


@pytest.fixture
def layer(pki) -> tuple[NCALayer, Identity]:
    identity = Identity(pki.rsa_key, (pki.issue(pki.rsa_key), pki.ca))
    ncalayer = NCALayer(_now)
    ncalayer.choose(identity, "Qwerty12")
    return ncalayer, identity


async def test_signs_attached_and_detached_cms(layer, pki):
    ncalayer, identity = layer
    for encapsulate in (True, False):
        answer = await ncalayer.handle(_sign(b"request", encapsulate=encapsulate, extKeyUsageOids=[SIGN_EKU]))
        assert answer["status"] is True
        [signature] = answer["body"]["result"]
        result = verify_cms(
            base64.b64decode(signature), None if encapsulate else b"request", trusted_roots=[pki.root], at=AT
        )
        assert result.valid and result.content == b"request"
        assert result.signing_time == AT


async def test_text_data_and_several_documents(layer, pki):
    ncalayer, _ = layer
    message = {"module": BASICS, "method": "sign",
               "args": {"format": "cms", "data": ["бір", "екі"], "signingParams": {"decode": False}}}
    answer = await ncalayer.handle(message)
    assert len(answer["body"]["result"]) == 2
    second = verify_cms(base64.b64decode(answer["body"]["result"][1]), trusted_roots=[pki.root], at=AT)
    assert second.content == "екі".encode()


async def test_the_person_can_cancel(layer):
    ncalayer, _ = layer
    ncalayer.cancel_next()
    assert (await ncalayer.handle(_sign(b"x")))["code"] == "USER_CANCELED"
    assert (await ncalayer.handle(_sign(b"x")))["status"] is True


async def test_key_restrictions_and_bad_requests(layer, pki):
    ncalayer, _ = layer
    assert (await ncalayer.handle(_sign(b"x", iin="851102304571")))["code"] == "KEY_NOT_SUITABLE"
    assert (await ncalayer.handle(_sign(b"x", extKeyUsageOids=["1.3.6.1.5.5.7.3.2"])))["code"] == "KEY_NOT_SUITABLE"
    xml = _sign(b"x")
    xml["args"]["format"] = "xml"
    assert (await ncalayer.handle(xml))["code"] == "WRONG_ARGS"
    assert (await ncalayer.handle({"module": "nope", "method": "sign"}))["code"] == "MODULE_NOT_FOUND"
    garbage = _sign(b"x")
    garbage["args"]["data"] = "###"
    assert (await ncalayer.handle(garbage))["code"] == "WRONG_ARGS"
    version = await ncalayer.handle({"module": COMMON_UTILS, "method": "getVersion"})
    assert version["status"] is True


async def test_a_wrong_password_is_said(pki):
    identity = Identity(pki.rsa_key, (pki.issue(pki.rsa_key), pki.ca))
    ncalayer = NCALayer(_now)
    ncalayer.choose(identity.to_pkcs12("k", b"right-one"), "wrong-one")
    assert (await ncalayer.handle(_sign(b"x")))["code"] == "WRONG_PASSWORD"
