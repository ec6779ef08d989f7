"""Sends one webhook request with the standard library, to an address that passed the check.

- It connects to an address ``addresses.destination`` checked, never to the name, so the name
  is not looked up again between the check and the connection (DNS rebinding). When an address
  does not answer, the next checked one is tried.
- ``https``: TLS with the URL's host name for SNI and for verifying the certificate, and the
  ``Host`` header names it too: the receiver sees an ordinary request to its name.
- 10 seconds in all, for connecting, TLS, sending and reading the status line and headers. A
  watchdog shuts the socket when they run out, so a server that drips its answer a byte at a
  time cannot hold the attempt longer.
- Redirects are not followed (``http.client`` never does): a 3xx is a failed attempt.
- The answer's body is not read: only its status counts.
"""

import contextlib
import http.client
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from coaching.events.webhooks.addresses import Destination

TIMEOUT_SECONDS = 10.0
USER_AGENT = "coaching-sessions-webhooks/1.0"


@dataclass(frozen=True)
class Answer:
    """What an attempt got: the receiver's HTTP status, or why there was none."""

    status: int | None
    error: str | None = None
    """``TIMEOUT``, ``CONNECTION_FAILED``, ``TLS_FAILED``, ``BAD_RESPONSE``, or a refusal's code."""


@cache
def default_context() -> ssl.SSLContext:
    """The system's trusted certificates, host names checked (one per process: loading the
    certificates takes milliseconds)."""
    return ssl.create_default_context()


def post(
    destination: Destination,
    body: bytes,
    headers: Mapping[str, str],
    *,
    timeout: float = TIMEOUT_SECONDS,
    context: ssl.SSLContext | None = None,
) -> Answer:
    """POST ``body`` to the destination; the answer's status, or why there was none."""
    url = destination.url
    deadline = time.monotonic() + timeout
    error = "CONNECTION_FAILED"
    for address in destination.addresses:
        left = deadline - time.monotonic()
        if left <= 0:
            return Answer(None, "TIMEOUT")
        try:
            sock = socket.create_connection((address, url.port), timeout=left)
        except TimeoutError:
            error = "TIMEOUT"
            continue
        except OSError:
            error = "CONNECTION_FAILED"
            continue
        return _exchange(sock, destination, body, headers, deadline, context)
    return Answer(None, error)


def _exchange(
    sock: socket.socket,
    destination: Destination,
    body: bytes,
    headers: Mapping[str, str],
    deadline: float,
    context: ssl.SSLContext | None,
) -> Answer:
    url = destination.url
    expired = threading.Event()

    def time_is_up() -> None:
        expired.set()
        with contextlib.suppress(OSError):  # already closed: the attempt ended on its own
            sock.shutdown(socket.SHUT_RDWR)

    watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), time_is_up)
    watchdog.daemon = True
    watchdog.start()
    connection: http.client.HTTPConnection | None = None
    try:
        if url.scheme == "https":
            secured = (context or default_context()).wrap_socket(sock, server_hostname=url.host)
            connection = http.client.HTTPSConnection(url.host, url.port, context=context)
            connection.sock = secured
        else:
            connection = http.client.HTTPConnection(url.host, url.port)
            connection.sock = sock
        connection.request(
            "POST",
            url.target,
            body=body,
            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
        )
        response = connection.getresponse()
        return Answer(response.status)
    except ssl.SSLError:
        return Answer(None, "TIMEOUT" if expired.is_set() else "TLS_FAILED")
    except TimeoutError:
        return Answer(None, "TIMEOUT")
    except http.client.HTTPException:
        return Answer(None, "TIMEOUT" if expired.is_set() else "BAD_RESPONSE")
    except OSError:
        return Answer(None, "TIMEOUT" if expired.is_set() else "CONNECTION_FAILED")
    finally:
        watchdog.cancel()
        if connection is not None:
            connection.close()
        sock.close()
