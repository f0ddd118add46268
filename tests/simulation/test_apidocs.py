"""Every system's /docs and /redoc load their scripts and styles from the system itself."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx
import pytest

from egov_sim.inprocess import create
from simulation.settings import Settings
from simulation.topology import START_ORDER

LINKING_ATTRIBUTES = {"src", "href", "spec-url"}
EXPECTED_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png", ".json": "application/json"}


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.links += [value for name, value in attrs if name in LINKING_ATTRIBUTES and value]


def links_of(page: str) -> list[str]:
    parser = _Links()
    parser.feed(page)
    # Swagger UI is told where the OpenAPI document is in its inline script
    return parser.links + re.findall(r"\burl: '([^']*)'", page)


@pytest.mark.parametrize("system", list(START_ORDER))
@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_api_pages_need_no_other_host(tmp_path, system: str, page: str) -> None:
    app = create(system, Settings(data_dir=tmp_path / "run"), transport=None)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://system") as client:
        answer = await client.get(page)
        assert answer.status_code == 200
        assert "://" not in answer.text, f"{system}{page} names another host:\n{answer.text}"
        links = links_of(answer.text)
        scripts = [link for link in links if link.endswith(".js")]
        assert scripts, f"{system}{page} loads no script"
        if page == "/docs":
            assert any(link.endswith(".css") for link in links), f"{system}/docs loads no style sheet"
        for link in links:
            assert link.startswith("/") and not link.startswith("//"), f"{system}{page}: {link!r} is not local"
            asset = await client.get(link)
            assert asset.status_code == 200, f"{system}{page}: {link} answers {asset.status_code}"
            kind = EXPECTED_TYPES[link[link.rfind("."):]]
            assert kind in asset.headers["content-type"], (link, asset.headers["content-type"])
            assert asset.content, link
        for script in scripts:
            body = (await client.get(script)).text
            assert ("SwaggerUIBundle" if page == "/docs" else "Redoc") in body, script
