"""The time-stamping authority's endpoint: ``POST /tsa`` (RFC 3161 over HTTP).

The body is a DER ``TimeStampReq`` sent as ``application/timestamp-query``; the answer is a DER
``TimeStampResp`` as ``application/timestamp-reply``: a token, or a rejection with the
``PKIFailureInfo`` RFC 3161 names (an unsupported hash, a digest of the wrong length, another
policy). Bytes that are no TimeStampReq at all, or another Content-Type, get a JSON refusal
(400 / 415) naming the rule, as the simulation's other endpoints do.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from signatures.timestamping import (
    MAX_QUERY_BYTES,
    QUERY_TYPE,
    REPLY_TYPE,
    TimeStampingAuthority,
    TimeStampRequestError,
)

NOT_A_QUERY = {
    "kk": "Уақыт белгісіне сұрау дұрыс емес",
    "ru": "Запрос метки времени некорректен",
    "en": "The time-stamp query is not valid",
}
WRONG_TYPE = {
    "kk": "Сұраудың түрі қате: application/timestamp-query күтіледі",
    "ru": "Неверный тип запроса: ожидается application/timestamp-query",
    "en": "Wrong Content-Type: application/timestamp-query is expected",
}


def _refusal(texts: dict[str, str], field: str, problem: str, status: int) -> JSONResponse:
    return JSONResponse(
        {
            "error": "invalid_request",
            "message": f"{texts['en']}: {problem}",
            "message_kk": texts["kk"],
            "message_ru": texts["ru"],
            "fields": [{"field": field, "problem": problem}],
        },
        status_code=status,
    )


def build_router(tsa: TimeStampingAuthority) -> APIRouter:
    router = APIRouter()

    @router.post(
        "/tsa", tags=["time-stamping"],
        summary="Time-stamping authority (RFC 3161): a TimeStampReq in, a TimeStampResp out",
        responses={200: {"content": {REPLY_TYPE: {}}}, 400: {}, 415: {}},
    )
    async def time_stamp(request: Request) -> Response:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != QUERY_TYPE:
            return _refusal(WRONG_TYPE, "Content-Type", f"{content_type or 'none'} was sent", 415)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_QUERY_BYTES:
            return _refusal(NOT_A_QUERY, "body", f"larger than {MAX_QUERY_BYTES} bytes: not a TimeStampReq", 400)
        try:
            reply = await tsa.respond(await request.body())
        except TimeStampRequestError as exc:
            return _refusal(NOT_A_QUERY, exc.field, exc.message, 400)
        return Response(reply, media_type=REPLY_TYPE)

    return router
