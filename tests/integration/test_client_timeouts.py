"""A stalled connection costs a function one read timeout per attempt, not its whole life.

The endpoint here accepts connections and reads the request, then never answers, the way a
connection dies behind a load balancer. The functions' own clients (``coaching.runtime``) must
give up on it with a read timeout and retry a bounded number of times on fresh connections.
"""

import socket
import threading
from collections.abc import Callable, Iterator

import pytest
from botocore.exceptions import ReadTimeoutError

from coaching import runtime


class StalledEndpoint:
    """Counts the requests it receives and answers none of them."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._held: list[socket.socket] = []
        self._lock = threading.Lock()
        self.requests = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:  # closed: the test is over
                return
            if connection.recv(65536):
                with self._lock:
                    self.requests += 1
            self._held.append(connection)

    def __enter__(self) -> "StalledEndpoint":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._listener.close()
        for connection in self._held:
            connection.close()
        self._thread.join(timeout=5)


@pytest.fixture
def stalled(monkeypatch: pytest.MonkeyPatch) -> Iterator[StalledEndpoint]:
    with StalledEndpoint() as endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint.url)
        runtime.reset()
        yield endpoint
    runtime.reset()


@pytest.mark.parametrize(
    "call",
    [
        lambda: runtime.dynamodb().get_item(TableName="Sessions", Key={"pk": {"S": "x"}}),
        lambda: runtime.sqs().send_message(QueueUrl="http://127.0.0.1/1/dlq", MessageBody="{}"),
        lambda: runtime.events().put_events(
            Entries=[{"Source": "s", "DetailType": "d.t", "Detail": "{}", "EventBusName": "b"}]
        ),
    ],
    ids=["dynamodb", "sqs", "events"],
)
def test_a_stalled_connection_is_dropped_after_three_attempts(
    stalled: StalledEndpoint, call: Callable[[], object]
) -> None:
    with pytest.raises(ReadTimeoutError):
        call()

    assert stalled.requests == 3


def test_ses_gives_up_once_and_leaves_retries_to_the_notifier(stalled: StalledEndpoint) -> None:
    with pytest.raises(ReadTimeoutError):
        runtime.ses().list_email_identities()

    assert stalled.requests == 1
