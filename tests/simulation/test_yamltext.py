"""The package files every fresh world reads parse the same with the fast loader as with PyYAML's
own, and a broken file still raises PyYAML's error with its place."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from simulation import yamltext

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_FILES = sorted(
    p for p in ROOT.glob("*/**/*.yaml")
    if not any(part in {".venv", "scenarios", "tests", "node_modules"} for part in p.relative_to(ROOT).parts)
)


def test_libyaml_is_used_where_pyyaml_has_it():
    assert yamltext.LOADER is (yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader)


@pytest.mark.parametrize("path", PACKAGE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_package_file_reads_as_pyyaml_reads_it(path: Path):
    text = path.read_text(encoding="utf-8")
    assert yamltext.safe_load(text) == yaml.safe_load(text)


def test_a_broken_file_is_a_yaml_error_that_names_the_line():
    with pytest.raises(yaml.YAMLError) as caught:
        yamltext.safe_load("persons:\n  - iin: '1\n    name: [\n")
    assert caught.value.problem_mark is not None and caught.value.problem_mark.line >= 1


def test_nothing_but_plain_data_is_built():
    with pytest.raises(yaml.YAMLError):
        yamltext.safe_load("!!python/object/apply:os.system ['true']")
