"""The error catalogue is complete and documented."""

from pathlib import Path

from gateway_protocol.errors import CATALOGUE, ErrorCode

DOC = Path(__file__).resolve().parents[2] / "docs" / "gateway.md"


def test_every_code_has_its_texts_and_is_documented():
    text = DOC.read_text(encoding="utf-8")
    assert set(CATALOGUE) == set(ErrorCode)
    for code, spec in CATALOGUE.items():
        assert spec.kk and spec.ru and spec.en
        assert f"| `{code.value}` | {spec.http_status} | {spec.side.value} |" in text, code
        assert code.value.split(".")[0] in {"Client", "Server", "Provider"}
        assert 400 <= spec.http_status < 600
