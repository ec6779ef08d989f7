"""A rendered email as the MIME message SES sends (``Content.Raw``). Pure, no I/O.

The shape mail clients expect of an invite: ``multipart/mixed`` holding the readable body as
``multipart/alternative`` (plain text first, then HTML) and each attachment after it. Text
parts are quoted-printable and the calendar base64, so the message is 7-bit clean and every
byte of each part (the ``.ics`` file's CRLF line ends too) comes out as it went in.
SES adds the ``Date`` and ``Message-ID`` headers.
"""

from collections.abc import Sequence
from email import policy
from email.message import EmailMessage

from coaching.emails import Email
from coaching.invites import Attachment

_POLICY = policy.SMTP.clone(cte_type="7bit")


def message(email: Email, *, sender: str, attachments: Sequence[Attachment] = ()) -> bytes:
    mime = EmailMessage(policy=_POLICY)
    mime["From"] = sender
    mime["To"] = email.to
    mime["Subject"] = email.subject
    mime.set_content(email.text, cte="quoted-printable")
    mime.add_alternative(email.html, subtype="html", cte="quoted-printable")
    for attachment in attachments:
        mime.add_attachment(
            attachment.data,
            maintype=attachment.maintype,
            subtype=attachment.subtype,
            filename=attachment.filename,
            params={"charset": "utf-8", **dict(attachment.params)},
        )
    return mime.as_bytes()
