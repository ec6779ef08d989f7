"""Fixtures: moto stores built from template.yaml, and the serialized moto server for races."""

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from coaching import clock, runtime
from coaching.settings import Settings
from coaching.storage import Storage
from local import moto_patch, template
from local.lambda_runtime import use_zone_rules_of
from local.moto_server import SerializedMotoServer
from local.template import create_tables
from local.time_travel import TimeTravel
from tests.api_client import Api
from tests.builders import NOW, World, unique

# Tests never reach AWS: dummy credentials, a fixed region, no endpoint from the environment.
for _name, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "CoachingSessionsTest",
    "POWERTOOLS_SERVICE_NAME": "coaching-sessions",
}.items():
    os.environ[_name] = _value
os.environ.pop("AWS_ENDPOINT_URL", None)
# Zone rules as every function reads them (template.yaml's PYTHONTZPATH): the pinned tzdata.
use_zone_rules_of(template.global_variables())
# In-process moto too: a refused transaction restores the items it touched instead of
# swapping in deep copies of whole tables (same outcome, a fraction of the time).
moto_patch.install()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--days-ahead",
        type=int,
        default=0,
        help="Run with the wall clock this many days ahead (time-machine): what the tests date "
        "through the layer's clock stays put, so anything that reads the real date shows.",
    )


def pytest_configure(config: pytest.Config) -> None:
    days = config.getoption("--days-ahead")
    if days:
        # time-machine moves datetime.now, time.time and their kin in this process and its
        # threads (the serialized moto server among them), and leaves monotonic clocks and
        # sleeps alone, so timeouts and waits behave. Imported only here: the local stack's
        # environment, which the e2e tests' own processes use, does not have it.
        import time_machine

        traveller = time_machine.travel(datetime.now(UTC) + timedelta(days=days), tick=True)
        traveller.start()
        config.add_cleanup(traveller.stop)


def pytest_report_header(config: pytest.Config) -> str | None:
    days = config.getoption("--days-ahead")
    return f"wall clock: {days} days ahead ({datetime.now(UTC):%Y-%m-%d})" if days else None


def _settings() -> Settings:
    return Settings(
        sessions_table=unique("Sessions"),
        ledger_table=unique("Ledger"),
        idempotency_table=unique("Idempotency"),
        emails_table=unique("Emails"),
        webhooks_table=unique("Webhooks"),
    )


def _make_store(client: object) -> Storage:
    settings = _settings()
    create_tables(client, settings.table_names())
    return Storage(client, settings)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def travel() -> Iterator[TimeTravel]:
    """Every test reads time from a clock of its own that starts at ``NOW`` (the moment the
    builders date everything from) and ticks on from there, whatever the real date; the clock
    before it comes back after, so no test starts where another travelled to."""
    with clock.use_clock(TimeTravel()) as moved:
        moved.set(NOW)
        yield moved


@pytest.fixture(autouse=True)
def no_metrics_left_over() -> Iterator[None]:
    """Powertools keeps metrics in state shared by the whole process, printed and emptied only
    when a handler returns: what a test records outside a handler (the notifier called directly)
    would otherwise show in the next test's output, whichever test that is."""
    from coaching.observability import metrics  # here: the environment above is set by now

    metrics.clear_metrics()
    yield
    metrics.clear_metrics()


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture(scope="session")
def dynamodb_client() -> object:
    """One client for the whole run: creating a boto3 client costs a tenth of a second, and
    moto intercepts a client's calls whenever a mock is active, whenever it was made."""
    return boto3.client("dynamodb", region_name="us-east-1")


@pytest.fixture
def store(aws: None, dynamodb_client: object) -> Storage:
    """A Storage on fresh tables in in-process moto (for tests that do not race)."""
    return _make_store(dynamodb_client)


@pytest.fixture
def world(store: Storage) -> World:
    return World(store)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[SerializedMotoServer]:
    with SerializedMotoServer() as server:
        yield server


@pytest.fixture
def server_store(moto_server: SerializedMotoServer) -> Storage:
    """A Storage on fresh tables in the serialized moto server, safe for racing threads."""
    client = boto3.client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url=moto_server.url,
        config=boto3.session.Config(max_pool_connections=32),  # type: ignore[attr-defined]
    )
    return _make_store(client)


@pytest.fixture
def server_world(server_store: Storage) -> World:
    return World(server_store)


@pytest.fixture
def api(store: Storage, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    """The HTTP API in process: template routes, real handlers, moto behind them."""
    monkeypatch.setenv("SESSIONS_TABLE", store.sessions_table)
    monkeypatch.setenv("LEDGER_TABLE", store.ledger_table)
    monkeypatch.setenv("IDEMPOTENCY_TABLE", store.settings.idempotency_table)
    monkeypatch.setenv("EMAILS_TABLE", store.settings.emails_table)
    monkeypatch.setenv("WEBHOOKS_TABLE", store.settings.webhooks_table)
    runtime.reset()
    yield Api(store)
    runtime.reset()
