"""Fixtures of the HTTP API tests, on top of tests/conftest.py's ``api`` and ``store``."""

from functools import cache
from typing import Any

import pytest

from coaching import clock
from coaching.storage import Storage
from local import template
from tests.api_client import Api
from tests.builders import World

_read_template = cache(template.load)


@pytest.fixture(autouse=True)
def _template_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test here builds tables from template.yaml; parse it once per run, not per test
    (it does not change while the tests run, and parsing it costs more than most tests)."""

    def load(*args: Any) -> dict[str, Any]:
        return _read_template(*args)  # type: ignore[no-any-return]

    monkeypatch.setattr(template, "load", load)


@pytest.fixture
def given(api: Api, store: Storage) -> World:
    """Given-steps at the handlers' own "now" (the clock this test started on), so that
    what a test sets up and what the handlers then see agree about time."""
    return World(store, now=clock.now())
