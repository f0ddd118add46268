"""The run's secrets: drawn per run, kept owner-only in the data directory, one winner when
processes race, settings overriding the tokens; the roles' dependency answers 401 and 403."""

from __future__ import annotations

import json
import stat
from concurrent.futures import ThreadPoolExecutor

import httpx
from fastapi import FastAPI

from simulation.access import ADMIN, AUDIT, TOKEN_HEADER, AccessDenied
from simulation.credentials import PASSWORDS_FILE, RunCredentials
from simulation.settings import Settings
from simulation.topology import SYSTEMS


def test_tokens_are_drawn_per_run_and_kept_owner_only(tmp_path):
    first = RunCredentials(tmp_path / "one")
    second = RunCredentials(tmp_path / "two")
    assert first.admin_token != second.admin_token
    assert first.admin_token != first.auditor_token
    assert len(first.admin_token) >= 40
    assert RunCredentials(tmp_path / "one").admin_token == first.admin_token  # read back, not drawn again
    for name in ("admin.token", "auditor.token", str(PASSWORDS_FILE)):
        first.password_of("portal")
        mode = stat.S_IMODE((tmp_path / "one" / name).stat().st_mode)
        assert mode == 0o600, (name, oct(mode))


def test_passwords_are_random_per_system_and_per_run(tmp_path):
    one, two = RunCredentials(tmp_path / "one"), RunCredentials(tmp_path / "two")
    one.password_of("portal")
    assert set(json.loads((tmp_path / "one" / PASSWORDS_FILE).read_text())) == set(SYSTEMS)
    assert one.password_of("portal") != two.password_of("portal")
    assert one.password_of("portal") != one.password_of("gateway")
    assert "shep" not in one.password_of("gateway")


def test_racing_processes_agree_on_one_token(tmp_path):
    with ThreadPoolExecutor(8) as pool:
        tokens = set(pool.map(lambda _: RunCredentials(tmp_path / "run").admin_token, range(32)))
    assert len(tokens) == 1
    assert not [p for p in (tmp_path / "run").iterdir() if p.name.startswith(".")]  # no candidate left behind


def test_settings_set_the_tokens_for_a_shared_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("EGOV_SIM_ADMIN_TOKEN", "shared-admin-token")
    credentials = RunCredentials.of(Settings(data_dir=tmp_path))
    assert credentials.admin_token == "shared-admin-token"
    assert not (tmp_path / "admin.token").exists()
    assert credentials.role_of("shared-admin-token") == "admin"
    assert credentials.role_of(credentials.auditor_token) == "auditor"
    assert credentials.role_of("guess") is None and credentials.role_of(None) is None


async def test_roles_guard_endpoints(tmp_path):
    app = FastAPI()
    app.state.credentials = credentials = RunCredentials(tmp_path)

    @app.exception_handler(AccessDenied)
    async def denied(_, exc: AccessDenied):
        from fastapi.responses import JSONResponse

        return JSONResponse(exc.body(), status_code=exc.status)

    @app.post("/change", dependencies=[ADMIN])
    async def change():
        return {"changed": True}

    @app.get("/read", dependencies=[AUDIT])
    async def read():
        return {"read": True}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        anonymous = await client.post("/change")
        assert anonymous.status_code == 401
        assert anonymous.json()["roles"] == ["admin"] and anonymous.json()["message_kk"]
        auditor = {TOKEN_HEADER: credentials.auditor_token}
        assert (await client.post("/change", headers=auditor)).status_code == 403
        assert (await client.get("/read", headers=auditor)).json() == {"read": True}
        assert (await client.get("/read", headers={TOKEN_HEADER: credentials.admin_token})).status_code == 200
        assert (await client.post("/change", headers={TOKEN_HEADER: credentials.admin_token})).status_code == 200
        assert (await client.get("/read", headers={TOKEN_HEADER: "x" * 43})).status_code == 401
        schemes = (await client.get("/openapi.json")).json()["components"]["securitySchemes"]
        assert schemes["runToken"] == {"type": "apiKey", "in": "header", "name": TOKEN_HEADER,
                                       "description": schemes["runToken"]["description"]}


def test_a_token_file_is_read_again_only_when_it_changed(tmp_path, monkeypatch):
    credentials = RunCredentials(tmp_path)
    first = credentials.admin_token
    reads = []
    original = type(tmp_path).read_text

    def counting(self, *args, **kwargs):
        reads.append(self.name)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(type(tmp_path), "read_text", counting)
    assert [credentials.admin_token for _ in range(5)] == [first] * 5
    assert reads == []  # unchanged: no read
    (tmp_path / "admin.token").unlink()
    (tmp_path / "admin.token").write_text("rotated-by-the-tester\n")
    assert credentials.admin_token == "rotated-by-the-tester"
    assert credentials.role_of(first) is None and credentials.role_of("rotated-by-the-tester") == "admin"
