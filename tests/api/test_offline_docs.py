"""ReDoc and Swagger UI come from the service itself: no CDN, and a CSP that allows no other script.
(tests/browser renders them in Chromium with the network blocked.)"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType

import pytest
from flask.testing import FlaskClient

from shop.entrypoints.docs import HERE, missing_scripts

TOOL = Path(__file__).resolve().parents[2] / "tools" / "vendor_docs.py"

PAGES = ["/api/schema/redoc/", "/api/schema/swagger-ui/"]


def directives(policy: str) -> dict[str, list[str]]:
    return {name: values for name, *values in (part.split() for part in policy.split(";"))}


@pytest.mark.parametrize("path", PAGES)
def test_every_asset_of_a_docs_page_is_served_by_the_service(client: FlaskClient, path: str) -> None:
    page = client.get(path).get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)

    assert assets, page
    for asset in assets:
        assert asset.startswith("/api/schema/"), asset
        response = client.get(asset)
        assert response.status_code == 200, asset
        assert len(response.get_data()) > 100, asset


@pytest.mark.parametrize("path", PAGES)
def test_a_docs_page_may_run_our_scripts_only(client: FlaskClient, path: str) -> None:
    policy = directives(client.get(path).headers["Content-Security-Policy"])

    assert policy["script-src"] == ["'self'"]
    assert policy["default-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert not [value for values in policy.values() for value in values if "://" in value]


def test_the_spec_the_pages_load_is_the_api_document(client: FlaskClient) -> None:
    page = client.get("/api/schema/redoc/").get_data(as_text=True)
    spec_url = re.search(r'spec-url="([^"]+)"', page)

    assert spec_url is not None
    assert client.get(spec_url.group(1)).get_json()["info"]["title"] == "shop"


def test_every_script_pinned_in_vendor_json_is_installed() -> None:
    assert missing_scripts() == []


def vendor_docs() -> ModuleType:
    spec = importlib.util.spec_from_file_location("vendor_docs", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_vendored_redoc_asks_no_cdn_for_its_logo() -> None:
    bundle = (HERE / "static" / "vendor" / "redoc.standalone.js").read_text(encoding="utf-8")

    assert "cdn.redoc.ly" not in bundle
    assert 'alt:"redocly logo",onError:()=>t(!1),src:"data:,"' in bundle


def test_a_patch_applies_once_and_refuses_a_file_it_no_longer_fits(tmp_path: Path) -> None:
    tool = vendor_docs()
    [redoc] = [p for p in json.loads((HERE / "vendor.json").read_text())["packages"] if p["name"] == "redoc"]
    bundle = tmp_path / "redoc.standalone.js"
    bundle.write_text('src:"https://cdn.redoc.ly/redoc/logo-mini.svg"}', encoding="utf-8")

    tool.patch(tmp_path, redoc["patches"])
    tool.patch(tmp_path, redoc["patches"])  # a second run (make install again) changes nothing

    assert bundle.read_text(encoding="utf-8") == 'src:"data:,"}'
    bundle.write_text("a release where the logo moved", encoding="utf-8")
    with pytest.raises(SystemExit, match="review the patch"):
        tool.patch(tmp_path, redoc["patches"])
