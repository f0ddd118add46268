"""Who may call what: the administration's roles, as endpoint dependencies.

Two roles, after X-Road's security server (whose system administrator configures and whose
security officer and auditor read the logs):

- ``admin``: changes configuration and rights, switches faults, moves the clock, issues, reissues
  and revokes keys, stops deliveries -- and reads everything the auditor reads;
- ``auditor``: reads, and only reads, what holds personal data or proves what happened (the
  gateways' message logs and evidence, traces and positions, the provider's cases, the
  registries' access log).

A caller proves its role with the run's token in the ``X-Egov-Sim-Token`` header (see
:mod:`simulation.credentials`). A missing token is answered 401, a token of a role that may not
call the endpoint 403, both naming the role the endpoint needs.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from simulation.credentials import RunCredentials

TOKEN_HEADER = "X-Egov-Sim-Token"

RUN_TOKEN = APIKeyHeader(
    name=TOKEN_HEADER,
    scheme_name="runToken",
    description="The run's admin or auditor token (data_dir/admin.token, data_dir/auditor.token).",
    auto_error=False,
)
"""The header scheme, for an endpoint that reads the token itself (OpenAPI: ``runToken``)."""

_MESSAGES = {
    401: ("The endpoint needs the {roles} token in the X-Egov-Sim-Token header",
          "Бұл әрекетке {roles} токені қажет (X-Egov-Sim-Token тақырыбы)",
          "Для этого действия нужен токен роли {roles} (заголовок X-Egov-Sim-Token)"),
    403: ("The token given is not of a role that may call this endpoint ({roles})",
          "Берілген токен бұл әрекетке рұқсат бермейді ({roles})",
          "Предъявленный токен не даёт права на это действие ({roles})"),
}


class AccessDenied(Exception):
    """A call without the role its endpoint needs (answered 401 or 403 by :func:`access_denied_body`)."""

    def __init__(self, status: int, roles: tuple[str, ...]) -> None:
        super().__init__(_MESSAGES[status][0].format(roles=" or ".join(roles)))
        self.status = status
        self.roles = roles

    def body(self) -> dict[str, Any]:
        en, kk, ru = (text.format(roles=" / ".join(self.roles)) for text in _MESSAGES[self.status])
        return {
            "error": "unauthenticated" if self.status == 401 else "forbidden",
            "message": en, "message_kk": kk, "message_ru": ru,
            "roles": list(self.roles),
        }


def credentials_of(request: Request) -> RunCredentials:
    """The run's credentials, kept on the app by the system that serves it."""
    credentials = getattr(request.app.state, "credentials", None)
    if credentials is None:
        raise RuntimeError("the app keeps no run credentials (app.state.credentials)")
    return credentials


def requires(*roles: str):
    """A dependency that lets through only callers proving one of ``roles``."""

    async def check(request: Request, token: Annotated[str | None, Security(RUN_TOKEN)] = None) -> str:
        role = credentials_of(request).role_of(token)
        if role is None:
            raise AccessDenied(401, roles)
        if role not in roles:
            raise AccessDenied(403, roles)
        return role

    return check


ADMIN = Depends(requires("admin"))
"""For endpoints that change the run: configuration, faults, the clock, keys, delivery."""

AUDIT = Depends(requires("admin", "auditor"))
"""For endpoints that show personal data or the run's evidence: admin or auditor."""
