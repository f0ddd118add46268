"""A made-up reglament's pieces for the engine's and the definition language's unit tests."""

from __future__ import annotations

from typing import Any


def text(en: str) -> dict[str, str]:
    return {"kk": f"{en} (kk)", "ru": f"{en} (ru)", "en": en}


def step(key: str, system: str | None = None, operation: str | None = None, **rest: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"key": key, **rest}
    if system is not None:
        data |= {"system": system, "name": text(f"step {key}"), "text_kk": f"{key} қадамы"}
    if operation is not None:
        data["operation"] = operation
    return data


def header(reglament_id: str, prefix: str, note: str) -> dict[str, Any]:
    """Everything of a definition before its offices, staff and channels: an Almaty provider with
    a clerk and a head."""
    return {
        "id": reglament_id,
        "source": {"note": note},
        "region": "almaty",
        "title": text(reglament_id),
        "provider": {
            "system": "provider_ws", "name": text("Unit department"),
            "organisation": {"name": "Unit department", "bin": "150640011819"},
            "head": {"iin": "750909303210", "surname": "ҚАСЫМОВ", "name": "ЕРЛАН"},
            "registration_prefix": prefix,
        },
        "gateway": {"service_id": "UnitService", "route_id": "almaty"},
        "result": text("result"),
        "term": "15 working days",
        "required_documents": [{"code": "identity", **text("identity document")}],
        "actors": {
            "clerk": {"system": "provider_ws", "kk": "маман", "ru": "специалист", "en": "clerk"},
            "head": {"system": "provider_ws", "kk": "басшы", "ru": "руководитель", "en": "head"},
        },
    }
