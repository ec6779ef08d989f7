"""What SES accepted, read back from the embedded SES, and kept as .eml files too."""

import base64
import html
import re
import threading
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses
from pathlib import Path
from typing import Any

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ses.models import Message, RawMessage, ses_backends

from coaching import clock


def _text_from_html(markup: str) -> str:
    without_tags = re.sub(r"<(br|/p|/h\d|/li|/tr)\s*/?>", "\n", markup, flags=re.I)
    without_tags = re.sub(r"</t[dh]>", "\t", without_tags, flags=re.I)
    return html.unescape(re.sub(r"<[^>]+>", "", without_tags)).strip()


def _attachment(part: EmailMessage) -> dict[str, Any]:
    content = part.get_content()
    if isinstance(content, bytes):  # not text: shown as base64, as it travelled
        content = base64.b64encode(content).decode("ascii")
    return {
        "filename": part.get_filename() or "",
        "content_type": part.get_content_type(),
        "content": content,
    }


def _part(part: EmailMessage) -> dict[str, Any]:
    """One leaf of the message: its Content-Type as written (``method=REQUEST`` and all), its
    file name, and its content decoded, line ends as sent (text as text, else in base64)."""
    content = part.get_content()
    if isinstance(content, bytes):
        content = base64.b64encode(content).decode("ascii")
    return {
        "content_type": str(part.get("Content-Type", "text/plain")),
        "filename": part.get_filename(),
        "content": content,
    }


def delivered(raw: str, message_id: str, sent_at: datetime) -> bytes:
    """The message as SES hands it on: the ``Date`` and ``Message-ID`` SES adds, then every byte
    the sender wrote, unchanged."""
    stamp = (
        f"Date: {format_datetime(sent_at.astimezone(UTC))}\r\n"
        f"Message-ID: <{message_id}@email.amazonses.com>\r\n"
    )
    return stamp.encode("ascii") + raw.encode("utf-8")


def _parse(message: Any, sent_at: datetime) -> dict[str, Any]:
    if isinstance(message, RawMessage):
        raw = delivered(message.raw_data, message.id, sent_at)
        parsed = message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        text_part = parsed.get_body(preferencelist=("plain",))
        html_part = parsed.get_body(preferencelist=("html",))
        # moto adds the To header's addresses to the request's destinations: the same twice.
        to = list(dict.fromkeys(address for _, address in getaddresses(message.destinations)))
        return {
            "to": to,
            "from": str(parsed.get("From", "")),
            "subject": str(parsed.get("Subject", "")),
            # The parts as written: a mail client reads CRLF line ends as the lines they end.
            "text": _lines(text_part.get_content()) if text_part is not None else "",
            "html": _lines(html_part.get_content()) if html_part is not None else "",
            "attachments": [_attachment(part) for part in parsed.iter_attachments()],
            "headers": {name: str(value) for name, value in parsed.items()},
            "parts": [_part(part) for part in parsed.walk() if not part.is_multipart()],
            "raw": raw.decode("utf-8"),
        }
    assert isinstance(message, Message)
    to = message.destinations.get("ToAddresses", []) if message.destinations else []
    is_html = bool(re.search(r"<(html|p|div|table|br)\b", message.body, flags=re.I))
    return {
        "to": list(to),
        "from": message.source,
        "subject": message.subject,
        # moto keeps only one body of a Simple message: the HTML one when there is one.
        "text": _text_from_html(message.body) if is_html else message.body,
        "html": message.body if is_html else "",
        "attachments": [],
        "headers": {},
        "parts": [],
        "raw": "",
    }


def _lines(text: str) -> str:
    return text.replace("\r\n", "\n")


class Mailbox:
    def __init__(self, folder: Path, region: str = "us-east-1") -> None:
        self.folder = folder
        self.region = region
        self._seen: dict[str, dict[str, Any]] = {}
        self._order: list[str] = []
        self._ignored: set[str] = set()
        self._lock = threading.Lock()
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.eml"):
            old.unlink()

    def start_after_what_is_there(self) -> None:
        """Leave out what SES holds now (the demo data's emails) from here on."""
        backend = ses_backends[DEFAULT_ACCOUNT_ID][self.region]
        with self._lock:
            self._ignored = {message.id for message in backend.sent_messages}
            self._seen.clear()
            self._order.clear()
            for old in self.folder.glob("*.eml"):
                old.unlink()

    def collect(self) -> list[dict[str, Any]]:
        """New messages since the last look are stamped with the (local) time and saved."""
        backend = ses_backends[DEFAULT_ACCOUNT_ID][self.region]
        with self._lock:
            for message in list(backend.sent_messages):
                if message.id in self._seen or message.id in self._ignored:
                    continue
                sent_at = clock.now()
                item = _parse(message, sent_at) | {"sent_at": sent_at.isoformat()}
                self._seen[message.id] = item
                self._order.append(message.id)
                self._write(len(self._order), message.id, item)
            return [self._seen[i] for i in self._order]

    def _write(self, number: int, message_id: str, item: dict[str, Any]) -> None:
        """The .eml file: the message as delivered, byte for byte (a simple message, which
        SES would build itself, is built here the same way)."""
        if item["raw"]:
            data = item["raw"].encode("utf-8")
        else:
            email = EmailMessage()
            email["From"] = item["from"]
            email["To"] = ", ".join(item["to"])
            email["Subject"] = item["subject"]
            email["Date"] = format_datetime(datetime.fromisoformat(item["sent_at"]))
            email["Message-ID"] = f"<{message_id}@email.amazonses.com>"
            email.set_content(item["text"] or " ")
            if item["html"]:
                email.add_alternative(item["html"], subtype="html")
            data = bytes(email)
        (self.folder / f"{number:04d}-{message_id[:12]}.eml").write_bytes(data)
