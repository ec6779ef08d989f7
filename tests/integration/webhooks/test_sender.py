"""One webhook request over real sockets: TLS to the checked address with the URL's name for
SNI, the certificate and Host; no redirect followed; 10 seconds in all (1 here), however the
server behaves."""

import datetime as dt
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from coaching.events.webhooks import sender
from coaching.events.webhooks.addresses import Destination, Url

BODY = b'{"type":"session.booked","timestamp":"2026-12-01T09:00:00Z","data":{}}'
HEADERS = {
    "webhook-id": "session:s1:1:session.booked",
    "webhook-timestamp": "1",
    "webhook-signature": "v1,x",
}


@dataclass
class Pki:
    """A certificate authority of the test's own and a server certificate it signed."""

    ca: Path
    cert: Path
    key: Path


def _usage(**allowed: bool) -> x509.KeyUsage:
    uses = [
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "key_cert_sign",
        "crl_sign",
        "encipher_only",
        "decipher_only",
    ]
    return x509.KeyUsage(**{use: allowed.get(use, False) for use in uses})


def _pki(folder: Path, name: str) -> Pki:
    """Certificates as a public CA issues them: Python 3.13's default context verifies strictly
    (VERIFY_X509_STRICT: key usages and key identifiers present). OpenSSL checks validity on
    the machine's real clock, which the year-ahead pass (--days-ahead) does not move: a window
    wide enough for both clocks."""
    valid_from, valid_to = (
        dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
        dt.datetime(2100, 1, 1, tzinfo=dt.UTC),
    )
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from)
        .not_valid_after(valid_to)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from)
        .not_valid_after(valid_to)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(digital_signature=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pki = Pki(folder / "ca.pem", folder / "cert.pem", folder / "key.pem")
    pki.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    pki.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pki.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return pki


@dataclass
class Server:
    port: int
    requests: list[dict[str, Any]] = field(default_factory=list)
    server_names: list[str | None] = field(default_factory=list)


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return _pki(tmp_path, "hooks.test")


@contextmanager
def _serve(status: int, pki: Pki | None = None, location: str = "") -> Iterator[Server]:
    requests: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            self.send_response(status)
            if location:
                self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server = Server(httpd.server_port, requests)
    if pki is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(pki.cert, pki.key)
        context.sni_callback = lambda _sock, name, _ctx: server.server_names.append(name)
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()


def _to(scheme: str, host: str, port: int, target: str = "/in", *addresses: str) -> Destination:
    return Destination(
        url=Url(scheme=scheme, host=host, port=port, target=target),
        addresses=addresses or ("127.0.0.1",),
    )


def test_https_goes_to_the_checked_address_in_the_urls_name(pki: Pki) -> None:
    with _serve(204, pki) as server:
        context = ssl.create_default_context(cafile=str(pki.ca))

        answer = sender.post(
            _to("https", "hooks.test", server.port, "/in?source=sessions"),
            BODY,
            HEADERS,
            context=context,
        )

        assert answer == sender.Answer(204)
        assert server.server_names == ["hooks.test"]
        (request,) = server.requests
        assert request["path"] == "/in?source=sessions"
        assert request["headers"]["Host"] == f"hooks.test:{server.port}"
        assert request["headers"]["Content-Type"] == "application/json"
        assert request["headers"]["webhook-id"] == HEADERS["webhook-id"]
        assert request["body"] == BODY


def test_a_certificate_for_another_name_fails_the_attempt(tmp_path: Path) -> None:
    elsewhere = _pki(tmp_path, "other.test")
    with _serve(200, elsewhere) as server:
        context = ssl.create_default_context(cafile=str(elsewhere.ca))

        answer = sender.post(
            _to("https", "hooks.test", server.port), BODY, HEADERS, context=context
        )

        assert answer == sender.Answer(None, "TLS_FAILED")
        assert server.requests == []


def test_a_redirect_is_an_answer_not_an_invitation(pki: Pki) -> None:
    with _serve(302, location="https://169.254.169.254/latest/meta-data/") as server:
        answer = sender.post(_to("http", "127.0.0.1", server.port), BODY, HEADERS)

        assert answer == sender.Answer(302)
        assert len(server.requests) == 1


def test_a_server_that_never_answers_times_out_on_time() -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:
        started = time.monotonic()

        answer = sender.post(
            _to("http", "127.0.0.1", silent.getsockname()[1]), BODY, HEADERS, timeout=1.0
        )

        assert answer == sender.Answer(None, "TIMEOUT")
        assert time.monotonic() - started < 3


def test_a_server_that_drips_its_answer_is_cut_off_at_the_deadline() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:

        def drip() -> None:
            connection, _ = listener.accept()
            with connection:
                connection.recv(65536)
                for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100:
                    try:
                        connection.sendall(bytes([byte]))
                    except OSError:
                        return
                    time.sleep(0.2)

        threading.Thread(target=drip, daemon=True).start()
        started = time.monotonic()

        answer = sender.post(
            _to("http", "127.0.0.1", listener.getsockname()[1]), BODY, HEADERS, timeout=1.0
        )

        assert answer == sender.Answer(None, "TIMEOUT")
        assert time.monotonic() - started < 3


def test_an_address_that_refuses_is_passed_over_for_the_next_checked_one() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead = closed.getsockname()[1]
    with _serve(200) as server:
        only_dead = Destination(url=Url("http", "127.0.0.1", dead, "/in"), addresses=("127.0.0.1",))
        assert sender.post(only_dead, BODY, HEADERS) == sender.Answer(None, "CONNECTION_FAILED")
        # a name with two checked addresses: the first refuses, the second answers
        both = Destination(
            url=Url("http", "localhost", server.port, "/in"), addresses=("127.0.0.2", "127.0.0.1")
        )
        assert sender.post(both, BODY, HEADERS) == sender.Answer(200)
