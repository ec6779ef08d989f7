"""The MIME message SES is given: every part reads back exactly as written, in 7-bit ASCII."""

from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from coaching.mail.emails import Email
from coaching.mail.invites import Attachment
from coaching.mail.mime import message

CALENDAR = Attachment(
    filename="invite.ics",
    maintype="text",
    subtype="calendar",
    data="BEGIN:VCALENDAR\r\nSUMMARY:Café with Zoë\r\nEND:VCALENDAR\r\n".encode(),
    params=(("method", "REQUEST"),),
)


def read(raw: bytes) -> EmailMessage:
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


@pytest.mark.parametrize(
    "subject",
    ["Booked: your session with Cho", "Zoë Ångström asked to move your session " + "long " * 30],
)
def test_the_parts_and_the_subject_read_back_exactly(subject: str) -> None:
    text = "Hi Zoë,\n\n> her note\n" + "x" * 300 + "\nFrom the team\n.\n"
    html = '<p class="a">Hi Zoë,</p>\n' + "<b>y</b>" * 100 + "\n"

    raw = message(
        Email(to="zoe@example.com", subject=subject, text=text, html=html),
        sender="sessions@example.com",
        attachments=[CALENDAR],
    )

    assert all(byte < 128 for byte in raw)  # 7-bit clean
    parsed = read(raw)
    assert str(parsed["Subject"]) == subject
    assert (parsed["From"], parsed["To"]) == ("sessions@example.com", "zoe@example.com")
    plain, markup = parsed.get_body(("plain",)), parsed.get_body(("html",))
    assert plain is not None and markup is not None
    # Mail clients read CRLF line ends as the lines they end
    assert plain.get_content().replace("\r\n", "\n") == text
    assert markup.get_content().replace("\r\n", "\n") == html
    [attached] = parsed.iter_attachments()
    assert attached.get_content_type() == "text/calendar"
    assert attached.get_param("method") == "REQUEST"
    assert attached.get_filename() == "invite.ics"
    assert attached.get_content().encode() == CALENDAR.data  # CRLFs and all


def test_without_attachments_the_body_is_text_then_html() -> None:
    raw = message(
        Email(to="a@example.com", subject="Hi", text="Hi\n", html="<p>Hi</p>\n"),
        sender="s@example.com",
    )

    parsed = read(raw)
    [body] = parsed.iter_parts()
    assert body.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in body.iter_parts()] == ["text/plain", "text/html"]
    assert list(parsed.iter_attachments()) == []


def test_the_change_an_email_is_about_is_named_in_a_header_of_ids_only() -> None:
    email = Email(to="zoe@example.com", subject="Canceled", text="Hi", html="<p>Hi</p>")

    raw = message(email, sender="sessions@example.com", change="s-1#3#CANCELED#coach")

    assert read(raw)["X-Coaching-Change"] == "s-1#3#CANCELED#coach"
