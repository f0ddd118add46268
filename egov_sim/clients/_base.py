"""What every typed client shares: the refusal they raise, and how an answer becomes one."""

from __future__ import annotations

from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, TypeAdapter

T = TypeVar("T")


class Answer(BaseModel):
    """A system's answer: the fields the client names, and any others it gives as they came."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class ClientError(Exception):
    """A system refused a request (or could not be reached): the HTTP ``status`` (0: no answer),
    the refusal's ``code`` (``invalid_request``, ``Client.AccessDenied`` ...), its ``message`` in
    Kazakh, Russian and English, the ``fields`` it names, and the whole ``body``."""

    def __init__(
        self, status: int, code: str, message: str = "", *, message_kk: str = "", message_ru: str = "",
        fields: list[dict[str, Any]] | None = None, body: Any = None, system: str = "",
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.message_en = message
        self.message_kk = message_kk
        self.message_ru = message_ru
        self.fields = fields or []
        self.body = body
        self.system = system
        where = f"{system}: " if system else ""
        named = "; ".join(f"{f.get('field')}: {f.get('problem')}" for f in self.fields if isinstance(f, dict))
        super().__init__(f"{where}{status} {code}: {message}" + (f" ({named})" if named and named not in message else ""))

    @classmethod
    def of(cls, response: httpx.Response, system: str = "") -> ClientError:
        """The refusal a system's HTTP answer carries, whichever of the project's shapes it has:
        the ШЭП envelope (``errorInfo``), a system's JSON refusal (``error``, ``message``,
        ``message_kk``, ``message_ru``, ``fields``) or FastAPI's validation answer (``detail``)."""
        try:
            body = response.json()
        except ValueError:
            return cls(response.status_code, "not_json", response.text[:300], body=response.text, system=system)
        if isinstance(body, dict) and isinstance(body.get("errorInfo"), dict):
            info = body["errorInfo"]
            data = info.get("errorData") or {}
            return cls(
                response.status_code, str(info.get("errorCode", "")), str(info.get("errorMessage", "")),
                message_kk=str(data.get("message_kk", "")), message_ru=str(data.get("message_ru", "")),
                fields=data.get("fields") if isinstance(data.get("fields"), list) else None, body=body, system=system,
            )
        if isinstance(body, dict) and "detail" in body and "error" not in body:
            detail = body["detail"]
            if isinstance(detail, list):
                fields = [
                    {"field": ".".join(str(p) for p in d.get("loc", ())), "problem": d.get("msg", "")}
                    for d in detail if isinstance(d, dict)
                ]
                return cls(response.status_code, "invalid_request", "the request is not valid",
                           fields=fields, body=body, system=system)
            if isinstance(detail, dict):
                return cls(response.status_code, str(detail.get("error", "refused")), str(detail.get("message", "")),
                           message_kk=str(detail.get("message_kk", "")), message_ru=str(detail.get("message_ru", "")),
                           body=body, system=system)
            return cls(response.status_code, "refused", str(detail), body=body, system=system)
        if isinstance(body, dict):
            fields = body.get("fields") if isinstance(body.get("fields"), list) else None
            message = body.get("message") or body.get("message_en") or ""
            if not message and fields:
                message = "; ".join(f"{f.get('field')}: {f.get('problem')}" for f in fields if isinstance(f, dict))
            return cls(
                response.status_code, str(body.get("error", "refused")), str(message),
                message_kk=str(body.get("message_kk", "")), message_ru=str(body.get("message_ru", "")),
                fields=fields, body=body, system=system,
            )
        return cls(response.status_code, "refused", str(body)[:300], body=body, system=system)

    @classmethod
    def unreachable(cls, exc: httpx.TransportError, system: str = "") -> ClientError:
        return cls(0, "unreachable", f"{type(exc).__name__}: {exc}", system=system)


class BaseClient:
    """A typed client of one system over ``http``: an :class:`httpx.AsyncClient` whose base URL
    is the system's (the in-process transport, a real URL, or respx all do)."""

    system = ""

    def __init__(self, http: httpx.AsyncClient, *, token: str | None = None) -> None:
        self.http = http
        self.headers: dict[str, str] = {}
        if token is not None:
            from simulation.access import TOKEN_HEADER

            self.headers[TOKEN_HEADER] = token

    async def request(self, method: str, path: str, *, expect: tuple[int, ...] = (200, 201), **kwargs: Any) -> httpx.Response:
        headers = {**self.headers, **(kwargs.pop("headers", None) or {})}
        try:
            response = await self.http.request(method, path, headers=headers, **kwargs)
        except httpx.TransportError as exc:
            raise ClientError.unreachable(exc, self.system) from None
        if response.status_code not in expect:
            raise ClientError.of(response, self.system)
        return response

    async def json(self, method: str, path: str, into: Any = None, **kwargs: Any) -> Any:
        """The answer's JSON, validated ``into`` a model or type when given."""
        body = (await self.request(method, path, **kwargs)).json()
        if into is None:
            return body
        return TypeAdapter(into).validate_python(body)


def params(**values: Any) -> dict[str, Any]:
    """Query parameters without the ones left out (None)."""
    return {k: v for k, v in values.items() if v is not None}
