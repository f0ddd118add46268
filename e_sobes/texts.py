"""What people read from "Е-собес", in Kazakh, Russian and English: the status, the coded values'
names, and the answer to an application."""

from __future__ import annotations

RECEIVED = {"kk": "Қабылданды", "ru": "Принято", "en": "Received"}

RELATIONS: dict[str, dict[str, str]] = {
    "spouse": {"nameKz": "Жұбайы (зайыбы)", "nameRu": "Супруг (супруга)", "nameEn": "Spouse"},
    "child": {"nameKz": "Баласы", "nameRu": "Ребёнок", "nameEn": "Child"},
    "dependant": {"nameKz": "Асырауындағы адам", "nameRu": "Иждивенец", "nameEn": "Other dependant"},
}

INCOME_KINDS: dict[str, dict[str, str]] = {
    # shared/seeds/004…, section 4, item 11: the incomes the provider receives through ЭҮШ.
    "social-payments": {
        "nameKz": "Әлеуметтік төлемдер түрінде алынатын табыстар",
        "nameRu": "Доходы, получаемые в виде социальных выплат",
        "nameEn": "Incomes received as social payments",
    },
    "business-and-other-activities": {
        "nameKz": "Кәсіпкерлік және басқа да қызмет түрлерінен түсетін табыстар",
        "nameRu": "Доходы от предпринимательской и других видов деятельности",
        "nameEn": "Incomes from entrepreneurial and other activities",
    },
    "alimony": {
        "nameKz": "Балаларға және асырауындағы басқа да адамдарға алименттер түріндегі табыстар",
        "nameRu": "Доходы в виде алиментов на детей и других иждивенцев",
        "nameEn": "Alimony for children and other dependants",
    },
}

HOUSING_COSTS: dict[str, dict[str, str | None]] = {
    # The costs the norms apply to (shared/REFERENCE.md, housing assistance): the floor area
    # (maintenance), heating in Gcal, hot and cold water and gas in m³.
    "maintenance": {"nameKz": "Тұрғын үйді күтіп-ұстау", "nameRu": "Содержание жилища",
                    "nameEn": "Maintenance of the dwelling", "unit": None},
    "heating": {"nameKz": "Жылыту", "nameRu": "Отопление", "nameEn": "Heating", "unit": "Gcal"},
    "hot-water": {"nameKz": "Ыстық су", "nameRu": "Горячая вода", "nameEn": "Hot water", "unit": "m³"},
    "cold-water": {"nameKz": "Суық су", "nameRu": "Холодная вода", "nameEn": "Cold water", "unit": "m³"},
    "gas": {"nameKz": "Газ", "nameRu": "Газ", "nameEn": "Gas", "unit": "m³"},
}


def received(number: str) -> dict[str, str]:
    """The answer to an application received now, under its registration number."""
    return {
        "kk": f"Өтініш «Е-собес» ақпараттық жүйесінде {number} нөмірімен қабылданды",
        "ru": f"Заявление принято в информационной системе «Е-Собес» под номером {number}",
        "en": f"The application is received in the Е-собес information system under number {number}",
    }


def already_received(number: str, day: str) -> dict[str, str]:
    """The answer to an application sent again: its first registration, no new number."""
    return {
        "kk": f"Бұл өтініш бұрын қабылданған: {number}, {day}; жаңа нөмір берілмеді",
        "ru": f"Это заявление уже принято: {number} от {day}; новый номер не присвоен",
        "en": f"This application is already received: {number} of {day}; no new number is given",
    }
