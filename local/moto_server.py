"""moto in server mode, one request at a time.

moto's backends are not safe under concurrent requests: tried here, threads racing one
conditional TransactWriteItems sometimes both won. Real DynamoDB serialises conflicting
transactions; this server gets the same effect by letting one request in at a time, so race
tests exercise our conditions rather than moto's thread safety.

Requests are let in in the order they came, and one whose caller has given up waiting (its
connection closed, as botocore does on a read timeout) is not served: AWS answers in
milliseconds, so a request there is served or lost, never applied seconds after its caller has
retried it. Served late, a request that is not idempotent (``PutEvents``, SES's ``SendEmail``)
would be applied twice, once for the abandoned copy and once for the retry: a duplicate that
only a crowded local stack makes. For the same reason the local stack's server sheds a request
that has waited ``shed_after`` seconds for its turn (less than the functions' 3 s read timeout):
it answers 503, as an overloaded AWS service does, and botocore retries it, knowing that nothing
was applied.

moto's rollback of a refused transaction is patched (``local.moto_patch``) so that the table,
and the stream a poller reads, stay the same objects, and a refusal costs what it touches.
"""

import io
import json
import logging
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from local import moto_patch

log = logging.getLogger("local.moto_server")


class _TurnLock:
    """One holder at a time, the others let in in the order they came (a ticket lock):
    ``threading.Lock`` lets in whichever waiter wakes first, so under load one request can
    wait behind any number that came after it."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._next_ticket = 0
        self._serving = 0

    def __enter__(self) -> None:
        with self._changed:
            ticket = self._next_ticket
            self._next_ticket += 1
            while ticket != self._serving:
                self._changed.wait()

    def __exit__(self, *exc: object) -> None:
        with self._changed:
            self._serving += 1
            self._changed.notify_all()

    @property
    def waiting(self) -> int:
        """How many wait for their turn (the holder not counted)."""
        with self._changed:
            return max(0, self._next_ticket - self._serving - 1)


def _body(environ: dict[str, Any]) -> bytes:
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH")
    if length:
        body: bytes = stream.read(int(length))
        return body
    return stream.read() if environ.get("wsgi.input_terminated") else b""


def _caller_gone(environ: dict[str, Any]) -> bool:
    """True when the caller has closed its connection: an end of stream waits to be read."""
    connection = environ.get("werkzeug.socket")
    if connection is None:
        return False
    try:
        peeked: bytes = connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        return peeked == b""
    except BlockingIOError:
        return False  # open, nothing sent: the caller is waiting for its answer
    except OSError:
        return True


_SHED_BODY = json.dumps(
    {"__type": "ServiceUnavailable", "message": "Waited too long for its turn; try again."}
).encode()


class SerializedMotoServer:
    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, shed_after: float | None = None
    ) -> None:
        """``shed_after``: seconds a request may wait for its turn before it is answered 503
        unserved (None: it waits as long as it takes)."""
        self._host, self._port = host, port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = _TurnLock()
        self.shed_after = shed_after
        self.abandoned = 0
        """Requests not served because their caller had given up waiting."""
        self.shed = 0
        """Requests answered 503 unserved because they waited longer than ``shed_after``."""

    @property
    def url(self) -> str:
        assert self._server is not None, "not started"
        return f"http://{self._host}:{self._server.server_port}"

    def _app(self) -> Any:
        moto_app = DomainDispatcherApplication(create_backend_app)

        def serialized(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
            came = time.monotonic()
            # The whole body is read before the wait: only then does the socket hold nothing
            # more from the caller but the end of stream of a caller that has hung up.
            environ["wsgi.input"] = io.BytesIO(_body(environ))
            with self._lock:
                what = environ.get("HTTP_X_AMZ_TARGET") or environ.get("PATH_INFO")
                if _caller_gone(environ):
                    self.abandoned += 1
                    log.warning("not served, its caller gave up waiting: %s", what)
                    start_response("499 Client Closed Request", [("Content-Length", "0")])
                    return []
                waited = time.monotonic() - came
                if self.shed_after is not None and waited > self.shed_after:
                    self.shed += 1
                    log.warning("shed after waiting %.1f s for its turn: %s", waited, what)
                    start_response(
                        "503 Service Unavailable",
                        [
                            ("Content-Type", "application/x-amz-json-1.0"),
                            ("x-amzn-ErrorType", "ServiceUnavailable"),
                            ("Content-Length", str(len(_SHED_BODY))),
                        ],
                    )
                    return [_SHED_BODY]
                # Drain the body inside the lock: moto may build it lazily.
                return list(moto_app(environ, start_response))

        return serialized

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold every request back until the block ends (as a long request ahead of them does)."""
        with self._lock:
            yield

    def start(self) -> "SerializedMotoServer":
        moto_patch.install()
        self._server = make_server(self._host, self._port, self._app(), threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> "SerializedMotoServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
