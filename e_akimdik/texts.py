"""What people read from "Е-әкімдік", in Kazakh, Russian and English: its name, the document
kinds' names, and the answer to a registration."""

from __future__ import annotations

SYSTEM_NAME = {"kk": "«Е-әкімдік» ақпараттық жүйесі", "ru": "информационная система «Е-акимат»",
               "en": "the Е-әкімдік information system"}

DOCUMENT_KINDS: dict[str, dict[str, str]] = {
    # shared/seeds/003…, section 2, item 4: the ground of the procedure on each channel.
    "application": {
        "nameKz": "Стандарттың 1-қосымшасына сәйкес нысан бойынша өтініш",
        "nameRu": "Заявление по форме согласно приложению 1 к Стандарту",
        "nameEn": "Application on the form of the Standard's appendix 1 (State Corporation)",
    },
    "electronic-request": {
        "nameKz": "Көрсетілетін қызметті алушының ЭЦҚ-мен куәландырылған электрондық құжат нысанындағы сұраныс",
        "nameRu": "Запрос в форме электронного документа, удостоверенного ЭЦП услугополучателя",
        "nameEn": "Request as an electronic document certified with the applicant's ЭЦҚ (portal)",
    },
}
"""What can be registered, by code."""


def registered_now(number: str) -> dict[str, str]:
    """The answer to documents registered now, under their number."""
    return {
        "kk": f"Құжаттар «Е-әкімдік» ақпараттық жүйесінде {number} нөмірімен тіркелді",
        "ru": f"Документы зарегистрированы в информационной системе «Е-акимат» под номером {number}",
        "en": f"The documents are registered in the Е-әкімдік information system under number {number}",
    }


def already_registered(number: str, day: str) -> dict[str, str]:
    """The answer to documents sent again: their first registration, no new number."""
    return {
        "kk": f"Бұл өтініштің құжаттары бұрын тіркелген: {number}, {day}; жаңа нөмір берілмеді",
        "ru": f"Документы этого заявления уже зарегистрированы: {number} от {day}; новый номер не присвоен",
        "en": f"This application's documents are already registered: {number} of {day}; no new number is given",
    }
