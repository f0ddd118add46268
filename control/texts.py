"""What a tester reads from the control app, in Kazakh, Russian and English."""

from __future__ import annotations


def no_trace(application_id: str) -> dict[str, str]:
    """The answer's text when no step of the application was recorded in this run."""
    return {
        "kk": f"Бұл симуляцияда {application_id} өтінішінің іздері жоқ",
        "ru": f"В этой симуляции нет трассы заявления {application_id}",
        "en": f"no trace of application {application_id!r} in this run",
    }
