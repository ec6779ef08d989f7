"""GET /app and GET /app/{proxy+}: the web component's files, through the real handler.

Public routes (no token), answering only the files of functions/app/static by name, each with
an ETag a browser revalidates with; anything else, the handler's own source included, is 404.
"""

import importlib.util
from pathlib import Path

import pytest

from local.lambda_runtime import ROOT
from tests.api_client import Api

from .api_steps import assert_problem, header

STATIC = ROOT / "functions" / "app" / "static"
SERVED = sorted(p.name for p in STATIC.iterdir() if p.suffix in (".html", ".js", ".css"))
TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}


def test_the_static_folder_holds_the_element_its_stylesheet_and_the_demo_page() -> None:
    assert {"coaching-sessions.js", "coaching-sessions.css", "index.html", "demo.js"} <= set(SERVED)
    assert sorted(p.name for p in STATIC.iterdir()) == SERVED  # nothing it would not serve


@pytest.mark.parametrize("name", SERVED)
def test_every_file_is_served_by_name_with_its_type_and_an_etag(api: Api, name: str) -> None:
    reply = api.get(None, f"/app/{name}")

    assert reply.status == 200
    assert header(reply, "Content-Type") == f"{TYPES[Path(name).suffix]}; charset=utf-8"
    assert reply.text == (STATIC / name).read_text(encoding="utf-8")
    assert header(reply, "X-Content-Type-Options") == "nosniff"
    assert header(reply, "Cache-Control") == "public, max-age=300"
    assert header(reply, "ETag").startswith('"') and len(header(reply, "ETag")) == 34


@pytest.mark.parametrize("path", ["/app", "/app/", "/app/index.html"])
def test_the_demo_page_is_the_folder_s_index_under_a_strict_content_security_policy(
    api: Api, path: str
) -> None:
    reply = api.get(None, path)

    assert reply.status == 200
    assert reply.text == (STATIC / "index.html").read_text(encoding="utf-8")
    policy = header(reply, "Content-Security-Policy")
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "'unsafe-inline'" not in policy
    assert header(reply, "Referrer-Policy") == "no-referrer"


def test_a_browser_that_has_the_file_is_told_it_has_not_changed(api: Api) -> None:
    first = api.get(None, "/app/coaching-sessions.js")

    same = api.get(
        None, "/app/coaching-sessions.js", headers={"if-none-match": header(first, "ETag")}
    )
    stale = api.get(None, "/app/coaching-sessions.js", headers={"if-none-match": '"old"'})

    assert (same.status, same.text) == (304, "")
    assert header(same, "ETag") == header(first, "ETag")
    assert (stale.status, stale.text) == (200, first.text)


@pytest.mark.parametrize(
    "path",
    [
        "/app/nothing.js",
        "/app/app.py",  # the handler's own source, beside the folder
        "/app/../app.py",
        "/app/static/index.html",
        "/app/%2e%2e/app.py",
        "/app/coaching-sessions.js/",
    ],
)
def test_anything_but_a_file_of_the_folder_is_not_found(api: Api, path: str) -> None:
    reply = api.get(None, path)

    assert_problem(reply, 404, "NOT_FOUND")


def test_only_the_kinds_of_file_the_element_is_made_of_are_loaded(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("app_copy", ROOT / "functions/app/app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    (tmp_path / "page.html").write_text("<p>ok</p>", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("private", encoding="utf-8")
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "inside.js").write_text("x", encoding="utf-8")

    loaded = module._load(tmp_path)

    assert sorted(loaded) == ["page.html"]
