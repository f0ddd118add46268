"""The words of ``egov-sim demo`` and ``egov-sim run`` in Kazakh, Russian and English (``--lang``).

What the systems wrote stays as they wrote it: a trace event's label ("3-процесс") and its
detail (the system's own Kazakh text). Around it the narration speaks the chosen language: the
system's name (``simulation.topology``), the step's short name (the reglament definition's
``name``), durations, and the fixed phrases below. Light on purpose: the command-line parser
imports this module's :func:`default_language` before it knows which command runs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

LANGUAGES = ("kk", "ru", "en")

_PHRASES: dict[str, dict[str, str]] = {
    "yes": {"kk": "иә", "ru": "да", "en": "yes"},
    "no": {"kk": "жоқ", "ru": "нет", "en": "no"},
    "outcome.approved": {"kk": "мақұлданды", "ru": "одобрено", "en": "approved"},
    "outcome.refused": {"kk": "бас тартылды", "ru": "отказано", "en": "refused"},
    "outcome.rejected": {"kk": "қабылданбады", "ru": "отклонено", "en": "rejected"},
    "zero_minutes": {"kk": "0 минут", "ru": "0 минут", "en": "0 minutes"},
    "application": {"kk": "Өтініш {id}", "ru": "Заявление {id}", "en": "Application {id}"},
    "result_signature": {
        "kk": "Нәтиженің ЭЦҚ-сы: {code}", "ru": "ЭЦП результата: {code}", "en": "Result signature: {code}",
    },
    "run_term": {
        "kk": "Мерзімі {limit}: {met}; шлюз хабарламалары: {messages}",
        "ru": "Срок {limit}: {met}; сообщений шлюза: {messages}",
        "en": "Term {limit}: {met}; {messages} gateway messages",
    },
    "stage_term": {
        "kk": "{stage}-кезең ({name}), мерзімі {limit}: {met}",
        "ru": "Этап {stage} ({name}), срок {limit}: {met}",
        "en": "Stage {stage} ({name}), term {limit}: {met}",
    },
    "signature.signed": {"kk": "Азаматтың ЭЦҚ-сы: қол қойылды {at}", "ru": "ЭЦП гражданина: подписано {at}",
                         "en": "Citizen's signature: signed {at}"},
    "signature.unsigned": {"kk": "Азаматтың ЭЦҚ-сы: шартқа қол қойылмаған", "ru": "ЭЦП гражданина: договор не подписан",
                           "en": "Citizen's signature: the contract is NOT signed"},
    "payment": {"kk": "Төлем: {amount} теңге, {due} дейін – {status}", "ru": "Оплата: {amount} тенге до {due} – {status}",
                "en": "Payment: {amount} tenge by {due} – {status}"},
    "payment.not-required": {"kk": "Төлем талап етілмейді (өтеусіз)", "ru": "Оплата не требуется (безвозмездно)",
                             "en": "No payment (free of charge)"},
    "payment.status.awaiting-contract": {"kk": "шартқа қол қойылуын күтеді", "ru": "ждёт подписания договора",
                                         "en": "awaiting the signed contract"},
    "payment.status.due": {"kk": "төленуі тиіс", "ru": "к оплате", "en": "due"},
    "payment.status.overdue": {"kk": "мерзімі өтті", "ru": "просрочено", "en": "OVERDUE"},
    "payment.status.paid": {"kk": "төленді", "ru": "оплачено", "en": "paid"},
    "met": {"kk": "сақталды", "ru": "соблюдён", "en": "met"},
    "not_met": {"kk": "САҚТАЛМАДЫ (мерзім {due} аяқталды)", "ru": "НЕ соблюдён (срок истёк {due})",
                "en": "NOT met (the term ended {due})"},
    "demo_citizen": {
        "kk": "Азамат {surname} {name}, ЖСН {iin}, порталда өтініш береді.",
        "ru": "Гражданин {surname} {name}, ИИН {iin}, подаёт заявление на портале.",
        "en": "Citizen {surname} {name}, ЖСН {iin}, applies on the portal.",
    },
    "demo_application": {
        "kk": "Өтініш {id}: {status}, тіркеу нөмірі {number}",
        "ru": "Заявление {id}: {status}, регистрационный номер {number}",
        "en": "Application {id}: {status}, registration number {number}",
    },
    "demo_queue": {
        "kk": "Кезек: {list}, реттік нөмірі {number}",
        "ru": "Очередь: {list}, порядковый номер {number}",
        "en": "Queue: {list}, sequence number {number}",
    },
    "demo_signature": {
        "kk": "Нәтиженің ЭЦҚ-сы: {code} — {signer}, {organisation}",
        "ru": "ЭЦП результата: {code} — {signer}, {organisation}",
        "en": "Result signature: {code} — {signer}, {organisation}",
    },
    "demo_term": {
        "kk": "Мерзімі {limit}: {elapsed} өтті, {met}",
        "ru": "Срок {limit}: прошло {elapsed}, {met}",
        "en": "Term {limit}: took {elapsed}, {met}",
    },
    "status.submitted": {"kk": "жіберілді", "ru": "отправлено", "en": "submitted"},
    "status.accepted": {"kk": "қабылданды", "ru": "принято", "en": "accepted"},
    "status.rejected": {"kk": "қабылданбады", "ru": "отклонено", "en": "rejected"},
    "status.not_delivered": {"kk": "жеткізілмеді", "ru": "не доставлено", "en": "not delivered"},
    "status.result": {"kk": "нәтиже дайын", "ru": "результат готов", "en": "result ready"},
    "world.fresh": {
        "kk": "Жаңа әлем уақытша каталогта, соңында жойылады (виртуалды сағат {clock})",
        "ru": "Новый мир во временном каталоге, по окончании удаляется (виртуальные часы: {clock})",
        "en": "Fresh world in a temporary directory, removed afterwards (virtual clock at {clock})",
    },
    "world.kept": {
        "kk": "Жаңа әлем сақталады: {dir} (виртуалды сағат {clock}); жалғастыру: --data-dir {dir}",
        "ru": "Новый мир сохранён в {dir} (виртуальные часы: {clock}); продолжить: --data-dir {dir}",
        "en": "Fresh world kept at {dir} (virtual clock at {clock}); continue it with --data-dir {dir}",
    },
    "world.new": {
        "kk": "{dir} ішінде жаңа әлем басталды, ол сақталады (виртуалды сағат {clock})",
        "ru": "Новый мир в {dir}, он сохраняется (виртуальные часы: {clock})",
        "en": "New world in {dir}, kept for the next run (virtual clock at {clock})",
    },
    "world.continued": {
        "kk": "{dir} ішіндегі әлем жалғасады (виртуалды сағат {clock})",
        "ru": "Продолжается мир в {dir} (виртуальные часы: {clock})",
        "en": "Continuing the world in {dir} (virtual clock at {clock})",
    },
    # ---- egov-sim trace show (egov_sim/trace_cli.py, egov_sim/trainer/text.py, mermaid.py) ----
    "outcome.in-progress": {"kk": "әлі аяқталған жоқ", "ru": "ещё не завершено", "en": "still in progress"},
    "outcome.decided": {"kk": "шешім шығарылды", "ru": "решение принято", "en": "decided"},
    "trace.outcome": {"kk": "Нәтижесі: {outcome}", "ru": "Итог: {outcome}", "en": "Outcome: {outcome}"},
    "trace.clock": {"kk": "Виртуалды уақыт: {start} – {end}", "ru": "Виртуальное время: {start} – {end}",
                    "en": "Virtual time: {start} – {end}"},
    "trace.staff": {"kk": "{actor}, {duration}; жұмыс уақыты: {hours}",
                    "ru": "{actor}, {duration}; рабочее время: {hours}",
                    "en": "{actor}, {duration}; working hours: {hours}"},
    "trace.unplaced": {"kk": "Ешбір қадамға жатпайтын хабарламалар", "ru": "Сообщения вне шагов",
                       "en": "Messages outside any step"},
    "trace.error_code": {"kk": "қате коды {code}", "ru": "код ошибки {code}", "en": "error code {code}"},
    "trace.signature.request": {"kk": "хабарламаның ЭЦҚ-сы", "ru": "ЭЦП сообщения", "en": "message signature"},
    "trace.signature.response": {"kk": "жауаптың ЭЦҚ-сы", "ru": "ЭЦП ответа", "en": "response signature"},
    "trace.signature.document": {"kk": "құжаттың ЭЦҚ-сы", "ru": "ЭЦП документа", "en": "document signature"},
    "trace.revocation.good": {"kk": "кері қайтарылмаған", "ru": "не отозван", "en": "not revoked"},
    "trace.revocation.revoked": {"kk": "кері қайтарылған", "ru": "отозван", "en": "revoked"},
    "trace.revocation.unknown": {"kk": "ҰКО білмейді", "ru": "НУЦ не знает", "en": "unknown to НУЦ"},
    "trace.unknown_application": {
        "kk": "{id} өтініші бұл әлемде жоқ (оның ізі жазылмаған)",
        "ru": "Заявления {id} в этом мире нет (его трасса не записана)",
        "en": "No application {id} in this world (no trace of it)",
    },
    "trace.nowhere": {
        "kk": "{url} мекенжайында жүйелер жауап бермейді және {dir} ішінде әлем жоқ: `egov-sim up --data-dir DIR` "
              "іске қосыңыз, әлемнің --data-dir каталогын беріңіз (`egov-sim run … --data-dir DIR`) немесе --target URL",
        "ru": "По адресу {url} системы не отвечают, а в {dir} нет мира: запустите `egov-sim up --data-dir DIR`, "
              "укажите --data-dir мира (`egov-sim run … --data-dir DIR`) или --target URL",
        "en": "no systems answer at {url} and {dir} holds no world: start `egov-sim up --data-dir DIR`, give the "
              "--data-dir of a world (`egov-sim run … --data-dir DIR`), or --target URL",
    },
    "trace.up_elsewhere": {
        "kk": "{dir} әлемінде egov-sim up жұмыс істеп тұр (pid {pid}), бірақ оның басқару жүйесі {url} мекенжайында "
              "жауап бермейді: оның --base-port портын беріңіз",
        "ru": "В мире {dir} работает egov-sim up (pid {pid}), но его система управления не отвечает по адресу {url}: "
              "укажите его --base-port",
        "en": "egov-sim up runs on {dir} (pid {pid}) but its control system does not answer at {url}: give its "
              "--base-port",
    },
    "trace.target": {
        "kk": "--target жүйелеріне қосылу мүмкін болмады: {problem}",
        "ru": "Не удалось подключиться к системам --target: {problem}",
        "en": "cannot use the systems of --target: {problem}",
    },
    "trace.no_token": {
        "kk": "{url} мекенжайындағы жүйелер үшін аудитор немесе әкімші токені жоқ: --token беріңіз, "
              "EGOV_SIM_AUDITOR_TOKEN орнатыңыз немесе әлемнің --data-dir каталогын беріңіз",
        "ru": "Нет токена аудитора или администратора для систем по адресу {url}: укажите --token, "
              "задайте EGOV_SIM_AUDITOR_TOKEN или --data-dir этого мира",
        "en": "no auditor or admin token for the systems at {url}: give --token, set EGOV_SIM_AUDITOR_TOKEN, "
              "or the --data-dir of that world",
    },
    "trace.refused": {"kk": "{system} жүйесі бас тартты: {problem}", "ru": "Система {system} отказала: {problem}",
                      "en": "{system} refused: {problem}"},
    "trace.unreachable": {"kk": "жүйе жауап бермеді: {problem}", "ru": "система не ответила: {problem}",
                          "en": "a system did not answer: {problem}"},
    "trace.output": {"kk": "{file} файлына жазу мүмкін емес: {problem}", "ru": "Не удаётся записать {file}: {problem}",
                     "en": "cannot write {file}: {problem}"},
}


def default_language(environ: Mapping[str, str] | None = None) -> str:
    """kk or ru when the user's locale says so (LC_ALL, else LC_MESSAGES, else LANG), else en."""
    environ = os.environ if environ is None else environ
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(variable)
        if value:  # POSIX: the first one set decides, whatever it names
            code = value.split(".")[0].split("@")[0].split("_")[0].lower()
            return code if code in ("kk", "ru") else "en"
    return "en"


def phrase(key: str, lang: str, **values: Any) -> str:
    return _PHRASES[key][lang].format(**values)


def phrase_or(key: str, lang: str, default: str) -> str:
    """The phrase ``key`` in ``lang``, or ``default`` when there is no such phrase."""
    known = _PHRASES.get(key)
    return known[lang] if known else default


def status(value: str | None, lang: str) -> str:
    """An application's status as the narration says it (an unknown one as it is)."""
    known = _PHRASES.get(f"status.{value}")
    return known[lang] if known else str(value)


def in_language(texts: Mapping[str, Any] | None, lang: str) -> str:
    """The chosen language's text of a kk/ru/en mapping, with the Kazakh beside it when they differ."""
    if not texts:
        return ""
    kazakh = str(texts.get("kk") or "")
    chosen = str(texts.get(lang) or (texts.get("message") if lang == "en" else "") or "")
    if lang == "kk" or not chosen:
        return kazakh or chosen
    return f"{chosen} ({kazakh})" if kazakh and kazakh != chosen else chosen


def text_lines(texts: Mapping[str, Any] | None, lang: str) -> list[str]:
    """A long kk/ru/en text (a notification, a refusal) as lines: the chosen language's, then the
    Kazakh one, each marked with its language; only the Kazakh one when that is the choice."""
    if not texts:
        return []
    kazakh = str(texts.get("kk") or "")
    chosen = str(texts.get(lang) or (texts.get("message") if lang == "en" else "") or "")
    if lang == "kk" or not chosen or chosen == kazakh:
        return [kazakh or chosen]
    return [f"{lang}: {chosen}", f"kk: {kazakh}"] if kazakh else [chosen]


def system_name(system: str, lang: str) -> str:
    from simulation.topology import SYSTEMS

    known = SYSTEMS.get(system)
    return getattr(known, f"title_{lang}") if known else system


def duration(value: Any, lang: str) -> str:
    """A :class:`simulation.calendar.Duration` in words of the language."""
    return {"kk": value.kazakh, "ru": value.russian, "en": value.english}[lang]()


def elapsed(delta: timedelta, lang: str) -> str:
    """E.g. "28 calendar days 1 hour 20 minutes" (whole minutes), in words of the language."""
    from simulation.calendar import Duration, DurationUnit

    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [
        duration(Duration(amount, unit), lang)
        for amount, unit in ((days, DurationUnit.calendar_day), (hours, DurationUnit.hour),
                             (minutes, DurationUnit.minute))
        if amount
    ]
    return " ".join(parts) or phrase("zero_minutes", lang)


def step_name(reglament: Any, channel: str, key: str, lang: str) -> str | None:
    """The short name of a trace event's step (its key in the definition), or None if it has none."""
    try:
        step = reglament.channels[channel].step(key)
    except KeyError:
        return None
    return getattr(step.name, lang) if step.name is not None else None


def when(iso: str) -> str:
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M")


def said(name: str | None, outcome: str, detail: str, lang: str) -> str:
    """What a step's line says after its system: its name with a condition's answer, and the
    system's own Kazakh detail."""
    answer = {"true": "yes", "false": "no"}.get(outcome)
    named = " ".join(p for p in (name, f"[{phrase(answer, lang)}]" if answer else None) if p)
    return " — ".join(part for part in (named, detail) if part)


def aligned(rows: list[tuple[str, str, str, str]]) -> list[str]:
    """(time, label, system, said) rows as the narration's lines, the labels and systems in columns."""
    label_width = max((len(r[1]) for r in rows), default=0)
    system_width = max((len(r[2]) for r in rows), default=0)
    return [f"  {r[0]}  {r[1]:<{label_width}}  {r[2]:<{system_width}}  {r[3]}" for r in rows]


def trace_lines(trace: list[dict[str, Any]], reglament: Any, channel: str, lang: str) -> list[str]:
    """One line per step: virtual time, the seed's label, the system, the step's name with the
    condition's answer, and the system's own Kazakh detail."""
    rows = []
    for event in trace:
        key = event.get("step") or f"{event['kind']}-{event['number']}"  # the key: two steps may share a number
        name = step_name(reglament, event.get("channel") or channel, key, lang)
        rows.append((when(event["sim_time"]), event["label"], system_name(event["system"], lang),
                     said(name, event["outcome"], event["detail"], lang)))
    return aligned(rows)
