"""moto in server mode, one request at a time.

moto's backends are not safe under concurrent requests: tried here, threads racing one
conditional TransactWriteItems sometimes both won. Real DynamoDB serialises conflicting
transactions; this server gets the same effect by letting one request in at a time, so race
tests exercise our conditions rather than moto's thread safety.

moto's rollback of a refused transaction is patched (``local.moto_patch``) so that the table,
and the stream a poller reads, stay the same objects, and a refusal costs what it touches.
"""

import threading
from collections.abc import Iterable
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from local import moto_patch


class SerializedMotoServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host, self._port = host, port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        assert self._server is not None, "not started"
        return f"http://{self._host}:{self._server.server_port}"

    def _app(self) -> Any:
        moto_app = DomainDispatcherApplication(create_backend_app)

        def serialized(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
            with self._lock:
                # Drain the body inside the lock: moto may build it lazily.
                return list(moto_app(environ, start_response))

        return serialized

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
