"""docs/reliability.md is kept true: every test a row cites exists (read with ``ast``, not
imported), every code of the gateway's error catalogue and every verdict of the PKI has a row, and
no row number is used twice."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from gateway_protocol.errors import CATALOGUE, ErrorCode
from signatures.verdicts import MESSAGES, VerdictCode

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE_FILE = ROOT / "docs" / "reliability.md"
COLUMNS = ["#", "case", "input or fault", "what the caller gets", "delivered / lost", "test"]
CITATION = re.compile(r"`(tests/[\w/]+\.py)::(\w+)(\[[^\]`]*\])?`")


@dataclass(frozen=True)
class Row:
    line: int
    number: str
    cells: tuple[str, ...]

    @property
    def text(self) -> str:
        return " | ".join(self.cells)


def _cells(line: str) -> list[str]:
    inner = line.strip()[1:-1] if line.strip().endswith("|") else line.strip()[1:]
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", inner)]


@cache
def rows() -> tuple[Row, ...]:
    """The catalogue's rows: every line of a table whose header is :data:`COLUMNS`."""
    found: list[Row] = []
    in_table = False
    for number, line in enumerate(CATALOGUE_FILE.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.lstrip().startswith("|"):
            in_table = False
            continue
        cells = _cells(line)
        if cells == COLUMNS:
            in_table = True
            continue
        if not in_table or all(set(cell) <= set("-: ") for cell in cells):
            continue
        assert len(cells) == len(COLUMNS), f"reliability.md:{number}: {len(cells)} cells, not {len(COLUMNS)}: {line}"
        found.append(Row(number, cells[0], tuple(cells)))
    return tuple(found)


@cache
def functions_of(path: Path) -> frozenset[str]:
    """The names of the test functions of a test file (module level and in classes)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return frozenset(
        node.name for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_")
    )


def test_the_catalogue_has_rows_and_each_row_cites_a_test():
    assert len(rows()) >= 60, f"only {len(rows())} rows were read from {CATALOGUE_FILE}"
    for row in rows():
        assert CITATION.search(row.cells[-1]), f"reliability.md:{row.line}: no `tests/…py::test_name` in its test column"


def test_every_cited_test_exists():
    missing = []
    for row in rows():
        for path, name, _ in CITATION.findall(row.cells[-1]):
            file = ROOT / path
            if not file.is_file():
                missing.append(f"reliability.md:{row.line} (row {row.number}): {path} does not exist")
            elif name not in functions_of(file):
                missing.append(f"reliability.md:{row.line} (row {row.number}): {path} has no test function {name}")
    assert not missing, "\n".join(missing)


def test_every_gateway_error_code_has_a_row():
    assert set(CATALOGUE) == set(ErrorCode)  # the catalogue itself is whole
    cited = " ".join(row.cells[3] for row in rows())
    missing = [code.value for code in ErrorCode if not re.search(rf"`{re.escape(code.value)}`", cited)]
    assert not missing, f"codes of gateway_protocol.errors without a row in {CATALOGUE_FILE.name}: {missing}"


def test_every_signature_verdict_has_a_row():
    assert set(MESSAGES) == set(VerdictCode)
    cited = " ".join(row.cells[3] for row in rows())
    missing = [code.value for code in VerdictCode if not re.search(rf"`{re.escape(code.value)}`", cited)]
    assert not missing, f"verdicts of signatures.verdicts without a row in {CATALOGUE_FILE.name}: {missing}"


def test_row_numbers_are_unique():
    seen: dict[str, int] = {}
    twice = []
    for row in rows():
        assert row.number, f"reliability.md:{row.line}: a row without its number"
        if row.number in seen:
            twice.append(f"row {row.number} at lines {seen[row.number]} and {row.line}")
        seen.setdefault(row.number, row.line)
    assert not twice, "; ".join(twice)
