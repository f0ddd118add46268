"""The simulated systems of one run: who they are, where they listen, how the gateway knows them.

This table is the single source for ports, gateway sender identities and display names; the
gateway's participant file, ``egov-sim up`` and the docker-compose file follow it. The systems'
gateway passwords are no part of it: each run draws its own (:mod:`simulation.credentials`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class System:
    name: str
    """Identifier used in settings, URLs, traces and as the gateway senderId."""
    app: str
    """``module:factory`` of the system's FastAPI application."""
    port_offset: int
    title_kk: str
    title_ru: str
    title_en: str
    region: str | None = None


SYSTEMS: dict[str, System] = {
    s.name: s
    for s in (
        System(
            "control", "egov_sim.trainer.app:create_control_app", 0,
            "Симуляцияны басқару", "Управление симуляцией", "Simulation control",
        ),
        System(
            "signatures", "signatures.app:create_app", 1,
            "ҰКО (ЭЦҚ)", "НУЦ (ЭЦП)", "National certification authority (PKI)",
        ),
        System(
            "gateway", "gateway.app:create_central_app", 2,
            "ЭҮШ", "ШЭП", "E-government gateway",
        ),
        System(
            "gateway-almaty", "gateway.app:create_almaty_app", 3,
            "ЭҮӨШ (Алматы қ.)", "РШЭП (г. Алматы)", "Regional gateway (Almaty city)",
            region="almaty",
        ),
        System(
            "gateway-pavlodar", "gateway.app:create_pavlodar_app", 9,
            "ЭҮӨШ (Павлодар облысы)", "РШЭП (Павлодарская область)", "Regional gateway (Pavlodar region)",
            region="pavlodar",
        ),
        System(
            "gateway-karaganda", "gateway.app:create_karaganda_app", 10,
            "ЭҮӨШ (Қарағанды облысы)", "РШЭП (Карагандинская область)", "Regional gateway (Karaganda region)",
            region="karaganda",
        ),
        System(
            "gateway-wko", "gateway.app:create_wko_app", 11,
            "ЭҮАШ (Батыс Қазақстан облысы)", "РШЭП (Западно-Казахстанская область)",
            "Regional gateway (West Kazakhstan region)",
            region="wko",
        ),
        System(
            "registries", "registries.app:create_app", 4,
            "Мемлекеттік тізілімдер", "Государственные реестры", "State registries",
        ),
        System(
            "portal", "portal.app:create_app", 5,
            "egov.kz порталы", "Портал egov.kz", "egov.kz portal",
        ),
        System(
            "corporation_ws", "corporation_ws.app:create_app", 6,
            "Мемлекеттік корпорация ЫАЖ АЖО", "АРМ ИИС Госкорпорации",
            "State Corporation operator workstation",
        ),
        System(
            "provider_ws", "provider_ws.app:create_app", 7,
            "ЭҮӨШ АЖО (қызмет беруші)", "АРМ РШЭП (услугодатель)",
            "Service provider workstation",
            region="almaty",
        ),
        System(
            "e_akimdik", "e_akimdik.app:create_app", 12,
            "«Е-әкімдік» АЖ (Батыс Қазақстан облысы әкімдігі)",
            "ИС «Е-акимат» (акимат Западно-Казахстанской области)",
            "Е-әкімдік, the akimat's document system (West Kazakhstan region)",
            region="wko",
        ),
        System(
            "e_sobes", "e_sobes.app:create_app", 13,
            "«Е-собес» АЖ (Алматы қ.)", "ИС «Е-Собес» (г. Алматы)",
            "Е-собес, the social-protection information system (Almaty city)",
            region="almaty",
        ),
        System(
            "echo", "gateway.echo:create_app", 8,
            "Жаңғырық (сынақ)", "Эхо (тестовый)", "Echo provider (a test double)",
        ),
    )
}

TEST_DOUBLES = frozenset({"echo"})
"""Systems that stand for no real system; `egov-sim up` starts them only when asked."""

START_ORDER: tuple[str, ...] = ("signatures", *(n for n in SYSTEMS if n != "signatures" and n not in TEST_DOUBLES))
"""The systems of a run, the certification authority first (the others enrol with it)."""

def regional_gateway(region: str) -> str:
    """The regional gateway (ЭҮӨШ) of ``region``, e.g. ``gateway-almaty`` for ``almaty``."""
    for system in SYSTEMS.values():
        if system.region == region and system.name.startswith("gateway-"):
            return system.name
    raise KeyError(f"no regional gateway for region {region!r}")


REGIONAL_GATEWAYS = frozenset(s.name for s in SYSTEMS.values() if s.name.startswith("gateway-"))
"""Every regional gateway: a provider behind any of them takes requests it relays."""
