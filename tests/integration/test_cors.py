"""Browsers: the HttpApi's CORS settings in template.yaml, and the local gateway applying them.

The gateway is called as a WSGI app (werkzeug's test client); no function runs for a preflight,
as in API Gateway, which answers preflights itself before the authorizer.
"""

from typing import Any

import pytest
from werkzeug.test import Client

from local import template
from local.auth import Verifier
from local.cors import Cors
from local.gateway import Gateway
from local.lambdas import LambdaService
from local.routes import http_routes

APP = "https://app.example.com"  # the origin of AppBaseUrl's default


def _cors(**parameters: str) -> Cors:
    found = Cors.from_template(template.load(), parameters)
    assert found is not None, "template.yaml has no CorsConfiguration on the HttpApi"
    return found


def test_by_default_the_origin_of_app_base_url_is_allowed_and_nothing_else() -> None:
    assert _cors().origins == {APP}


def test_the_origin_of_app_base_url_drops_its_path_and_keeps_its_port() -> None:
    cors = _cors(AppBaseUrl="http://localhost:5173/coaching/app")

    assert cors.origins == {"http://localhost:5173"}


def test_origins_given_in_the_parameter_replace_the_default() -> None:
    cors = _cors(CorsAllowedOrigins="https://a.example.com,https://b.example.com")

    assert cors.origins == {"https://a.example.com", "https://b.example.com"}


def test_the_headers_the_api_reads_and_every_method_of_its_routes_are_allowed() -> None:
    cors = _cors()

    assert set(cors.headers) == {"authorization", "content-type", "idempotency-key"}
    assert set(cors.methods) == {route.method for route in http_routes()}
    assert cors.max_age > 0


# --- the local gateway ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client() -> Client:
    loaded = template.load()
    local_routes: dict[tuple[str, str], Any] = {
        ("GET", "/_local/health"): lambda _: (200, {"status": "ok"})
    }
    return Client(Gateway(LambdaService(loaded), Verifier(), local_routes))


def _preflight(client: Client, origin: str, method: str = "POST") -> Any:
    return client.options(
        "/sessions/s-1/cancel",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization,content-type,idempotency-key",
        },
    )


def test_the_gateway_answers_a_preflight_from_the_front_end_without_a_token(
    client: Client,
) -> None:
    reply = _preflight(client, APP)

    assert reply.status_code == 204
    assert reply.headers["Access-Control-Allow-Origin"] == APP
    assert set(reply.headers["Access-Control-Allow-Methods"].split(",")) == {
        "GET",
        "POST",
        "PUT",
        "PATCH",
        "DELETE",
    }
    allowed = set(reply.headers["Access-Control-Allow-Headers"].split(","))
    assert {"authorization", "content-type", "idempotency-key"} <= allowed
    assert int(reply.headers["Access-Control-Max-Age"]) > 0


def test_a_preflight_from_another_origin_gets_no_allow_headers(client: Client) -> None:
    reply = _preflight(client, "https://evil.example.com")

    assert "Access-Control-Allow-Origin" not in reply.headers
    assert "Access-Control-Allow-Methods" not in reply.headers


def test_answers_name_the_allowed_origin_even_refusals_so_the_browser_can_read_them(
    client: Client,
) -> None:
    refused = client.get("/sessions", headers={"Origin": APP})  # no token: 401
    local = client.get("/_local/health", headers={"Origin": APP})

    assert refused.status_code == 401
    assert refused.headers["Access-Control-Allow-Origin"] == APP
    assert "Origin" in refused.headers.get("Vary", "")
    assert local.headers["Access-Control-Allow-Origin"] == APP


def test_answers_to_another_origin_or_to_no_origin_carry_no_allow_header(client: Client) -> None:
    other = client.get("/sessions", headers={"Origin": "https://evil.example.com"})
    none = client.get("/sessions")

    assert other.status_code == none.status_code == 401
    assert "Access-Control-Allow-Origin" not in other.headers
    assert "Access-Control-Allow-Origin" not in none.headers
