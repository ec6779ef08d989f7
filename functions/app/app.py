"""The ``<coaching-sessions>`` web component and its demo page, served from this package.

``GET /app`` and ``GET /app/`` are the demo page (``static/index.html``, whose links are absolute
paths, so it works at both); ``GET /app/{name}`` is any file of ``static/``: the element's
JavaScript modules and its stylesheet, which a host page loads from here (same origin as the API,
or from an origin the API's CORS settings allow). The template routes ``GET /app`` and
``GET /app/{proxy+}`` here (API Gateway refuses a route path that ends in ``/``). The routes are
public: the files hold no one's data, and the element asks the host page for a token before it
calls the API.

The files are read once, at cold start, into a table by name: a request can only ever name one of
them (anything else, ``..`` included, is 404), and each answer carries an ``ETag`` so a browser
revalidates with a 304 instead of downloading again.
"""

import gc

gc.disable()  # no collections while importing: see the end of the module

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from coaching.errors import NotFound
from coaching.observability import logger
from coaching.web import problems

STATIC = Path(__file__).resolve().parent / "static"
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
# Browsers may keep a file five minutes, then ask again with its ETag (304 while unchanged): a
# deploy reaches every page within five minutes, without fingerprinted file names.
CACHE_CONTROL = "public, max-age=300"
# The demo page runs only its own scripts and styles and calls only its own origin's API.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@dataclass(frozen=True)
class Asset:
    body: str
    content_type: str
    etag: str


def _load(folder: Path) -> dict[str, Asset]:
    assets = {}
    for path in sorted(folder.iterdir()):
        content_type = TYPES.get(path.suffix)
        if content_type is None or not path.is_file():
            continue  # only the kinds of file the element is made of
        body = path.read_text(encoding="utf-8")
        digest = hashlib.sha256(body.encode()).hexdigest()[:32]
        assets[path.name] = Asset(body, content_type, f'"{digest}"')
    return assets


ASSETS = _load(STATIC)

app = APIGatewayHttpResolver()
problems.setup(app)


def _answer(name: str) -> Response[str]:
    asset = ASSETS.get(name)
    if asset is None:
        raise NotFound("No such file.")
    headers = {
        "ETag": asset.etag,
        "Cache-Control": CACHE_CONTROL,
        "X-Content-Type-Options": "nosniff",
    }
    if asset.content_type.startswith("text/html"):
        headers["Content-Security-Policy"] = PAGE_POLICY
        headers["Referrer-Policy"] = "no-referrer"
    if app.current_event.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, body="", headers=headers)
    return Response(
        status_code=200, content_type=asset.content_type, body=asset.body, headers=headers
    )


@app.get("/app", include_in_schema=False)
@app.get("/app/", include_in_schema=False)
def page() -> Response[str]:
    return _answer("index.html")


@app.get("/app/<name>", include_in_schema=False)
def file(name: str) -> Response[str]:
    return _answer(name)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


# What the imports built lives as long as the process and holds no garbage: keep it out of
# every later collection, then collect as usual.
gc.freeze()
gc.enable()
