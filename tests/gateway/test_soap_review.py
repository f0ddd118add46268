"""Review of the SOAP parse (issue 17 follow-up): an assigned messageId comes from the signed
Body only, so a variant of an envelope made outside the signature is the same message to the
replay guard; comments in the Body and envelopes not in UTF-8 are refused at the gateway."""

from __future__ import annotations

import uuid

import pytest

from gateway.soapadapter import json_answer_from
from gateway_protocol.errors import GatewayFault
from gateway_protocol.soap import (
    ASYNC_SOAP_PATH, SYNC_SOAP_PATH, async_send_request, parse_async_response, success_info, sync_response,
)
from signatures.xmldsig import sign_envelope
from tests.gateway.conftest import processed, wait_for
from tests.gateway.test_soap_gateway import fault_code, info_of, post_soap, soap_sync


async def test_an_assigned_id_resent_with_header_whitespace_is_stored_and_delivered_once(echo_run):
    runtime = echo_run.runtime("echo")
    info = info_of(echo_run, at=await runtime.now(), message_type="REQUEST")
    body = sign_envelope(async_send_request(info, {"hello": "once"}, with_message_id=False), runtime.identity)
    header = body.index(b"Header>") + len(b"Header>")
    variant = body[:header] + b"\n    \n  " + body[header:]  # outside the signature: it still verifies
    assert variant != body
    first = await post_soap(echo_run, body, ASYNC_SOAP_PATH)
    assert first.status_code == 200, first.text
    message_id = parse_async_response(first.content)[1]["messageId"]
    await wait_for(echo_run, message_id, "DELIVERED")
    again = await post_soap(echo_run, variant, ASYNC_SOAP_PATH)
    assert again.status_code == 200, again.text
    assert parse_async_response(again.content)[1]["messageId"] == message_id  # the same message
    # a later message delivered, so the variant had its chance to be delivered too
    later = info_of(echo_run, at=await runtime.now(), message_type="REQUEST")
    other = await post_soap(echo_run, sign_envelope(async_send_request(later, {"hello": "later"}), runtime.identity),
                            ASYNC_SOAP_PATH)
    await wait_for(echo_run, parse_async_response(other.content)[1]["messageId"], "DELIVERED")
    assert (await processed(echo_run))[message_id] == 1
    records = await echo_run.apps["gateway"].state.gateway.log.query(message_id=message_id)
    assert [r.kind for r in records].count("request") == 1


async def test_a_comment_slipped_into_the_signed_body_is_refused(echo_run):
    body = await soap_sync(echo_run, {"amount": "100"})
    assert b"<amount>100</amount>" in body
    # exclusive C14N leaves comments out of the digest: the signature still verifies
    tampered = body.replace(b"<amount>100</amount>", b"<amount>100</amount><!-- x -->")
    reply = await post_soap(echo_run, tampered, SYNC_SOAP_PATH)
    assert fault_code(reply) == "Client.EnvelopeInvalid"
    assert "comments and processing instructions are not allowed" in reply.text
    assert "requestData/data" in reply.text


async def test_an_envelope_not_in_utf8_is_refused_with_the_envelope_fault(echo_run):
    body = await soap_sync(echo_run, {"name": "Әлия"})
    text = body.decode("utf-8")
    for other, says in ((text.encode("utf-16"), "UTF-16"),
                        (body.replace("Әлия".encode(), "Алия".encode("windows-1251")), "not UTF-8")):
        reply = await post_soap(echo_run, other, SYNC_SOAP_PATH)
        assert fault_code(reply) == "Client.EnvelopeInvalid", reply.text
        assert "the envelope must be UTF-8" in reply.text and says in reply.text


async def test_a_providers_signed_answer_not_in_utf8_is_provider_response_invalid(echo_run):
    """lxml reads the answer in its declared encoding and its signature verifies; the gateway keeps
    and passes on answers as UTF-8 text, so it is the provider's invalid answer, never an internal error."""
    gateway, echo = echo_run.runtime("gateway"), echo_run.runtime("echo")
    at = await gateway.now()
    answer = sync_response(success_info(str(uuid.uuid4()), str(uuid.uuid4()), at), {"name": "Алия"})
    signed = sign_envelope(answer, echo.identity)
    status, _ = await json_answer_from(signed, provider="echo", validator=gateway.validator, at=at, gateway=gateway.identity)
    assert status == 200  # as it came: taken
    text = signed.decode("utf-8")
    assert "encoding='UTF-8'" in text
    for other in (text.replace("encoding='UTF-8'", "encoding='windows-1251'").encode("windows-1251"),
                  text.replace("encoding='UTF-8'", "encoding='UTF-16'").encode("utf-16")):
        assert (await gateway.validator.xmldsig(other, at=at)).valid  # the signature alone does not tell
        with pytest.raises(GatewayFault) as refused:
            await json_answer_from(other, provider="echo", validator=gateway.validator, at=at, gateway=gateway.identity)
        assert refused.value.code == "Server.ProviderResponseInvalid"
        assert "the envelope must be UTF-8" in refused.value.detail
