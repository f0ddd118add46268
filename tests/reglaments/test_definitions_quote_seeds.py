"""Every definition against its seed: the Kazakh text of each step and staff procedure is the
seed's own wording, and each procedure's duration is the one its text states.

The seeds' plain-text copies break lines and sometimes move a word out of its sentence
("Стандарттың  9 тармағында"), so a quote is compared by its words: at most one word in ten may be
missing from the seed (a restored hyphen, a typo the definition corrects)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reglaments import all_reglaments

DEFINITIONS = sorted(all_reglaments().values(), key=lambda r: r.id)
_WORD = re.compile(r"[а-яәіңғүұқөһё]{4,}")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


@pytest.mark.seeds
@pytest.mark.parametrize("reglament", DEFINITIONS, ids=lambda r: r.id)
def test_each_step_and_procedure_quotes_its_seed(seeds: Path, reglament):
    vocabulary = set(_words((seeds / str(reglament.source["file"])).read_text(encoding="utf-8")))
    quotes = [(f"{c.name}/{s.key}", s.text_kk) for c in reglament.channels.values() for s in c.steps
              if s.text_kk and s.procedure is None]
    quotes += [(f"staff {p.number}", p.text_kk) for p in reglament.staff.procedures]
    assert quotes
    for where, quote in quotes:
        words = _words(quote)
        missing = [w for w in words if w not in vocabulary]
        assert words and len(missing) <= len(words) // 10, f"{reglament.id} {where}: not the seed's words {missing}"


@pytest.mark.parametrize("reglament", DEFINITIONS, ids=lambda r: r.id)
def test_each_procedures_duration_is_the_one_its_text_states(reglament):
    for procedure in reglament.staff.procedures:
        amount = str(procedure.duration.amount)
        assert re.search(rf"(?<!\d){amount}(?!\d)", procedure.text_kk), (reglament.id, procedure.number, procedure.text_kk)
