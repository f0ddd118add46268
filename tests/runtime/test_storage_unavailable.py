"""A system whose database cannot be reached (PostgreSQL's connection limit, a restart; SQLite's
lock held past the busy timeout) answers 503 with the database's own words, not a 500."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from runtime.system import system_app


def _routes(_runtime) -> list[APIRouter]:
    router = APIRouter()

    @router.get("/refused")
    async def refused() -> dict:
        raise OperationalError("SELECT 1", {}, Exception("FATAL:  sorry, too many clients already\nDETAIL: more"))

    @router.get("/pool")
    async def pool() -> dict:
        raise PoolTimeout("QueuePool limit of size 3 overflow 10 reached, connection timed out")

    return [router]


@pytest.mark.parametrize(("path", "problem"), [
    ("/refused", "FATAL:  sorry, too many clients already"),
    ("/pool", "QueuePool limit of size 3 overflow 10 reached"),
])
async def test_a_database_out_of_reach_is_a_503_that_says_so(settings, path, problem):
    app = system_app("control", tables=[], routers=_routes, settings=settings, signs=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://control") as client:
        answer = await client.get(path)
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "1"
    body = answer.json()
    assert body["error"] == "storage_unavailable"
    assert problem in body["message"] and "DETAIL" not in body["message"]
    assert body["message_kk"] and body["message_ru"]
