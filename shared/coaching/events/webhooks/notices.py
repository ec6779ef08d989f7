"""The email an admin gets when one of their webhook endpoints is disabled. Pure, no I/O.

Sent once per disabling: its claim key names the endpoint and the moment it was disabled
(``notice_key``), and the notifier claims each key once, as it does every email.
"""

import html
from datetime import datetime

from coaching.events.webhooks.rules import DISABLE_AFTER
from coaching.mail.emails import Email
from coaching.storage.keys import iso
from coaching.webhook_models import DisabledReason, Endpoint

KIND = "WEBHOOK_DISABLED"


def notice_key(endpoint_id: str, disabled_at: datetime) -> str:
    """The claim key of the email about the endpoint's disabling at ``disabled_at``."""
    return f"webhook:{endpoint_id}:{iso(disabled_at)}:{KIND}"


def disabled_email(endpoint: Endpoint, to: str) -> Email:
    """Why the endpoint stopped receiving events, and how to start it again."""
    when = f"{endpoint.disabled_at:%Y-%m-%d %H:%M} UTC" if endpoint.disabled_at else "now"
    if endpoint.disabled_reason is DisabledReason.GONE:
        why = (
            f"It answered 410 Gone at {when}, which asks senders to stop, so it will receive "
            "no more events."
        )
    else:
        since = (
            f" since {endpoint.failing_since:%Y-%m-%d %H:%M} UTC" if endpoint.failing_since else ""
        )
        why = (
            f"No attempt to deliver to it succeeded for {DISABLE_AFTER.days} days{since}, so it "
            f"was disabled at {when} and will receive no more events."
        )
    paragraphs = [
        "Hello,",
        f"Your webhook endpoint {endpoint.url} (id {endpoint.id}) has been disabled.",
        why,
        "Events that happen while it is disabled are not sent to it. Once the receiver works "
        f"again, enable it with POST /webhooks/{endpoint.id}/enable; deliveries that failed "
        f"meanwhile can be sent again with POST /webhooks/{endpoint.id}/deliveries/"
        "{delivery_id}/retry (GET /webhooks/" + endpoint.id + "/deliveries lists them).",
    ]
    footer = "You get this email because you created this webhook endpoint."
    subject = "Your webhook endpoint has been disabled"
    text = "\n\n".join([*paragraphs, f"--\n{footer}"]) + "\n"
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    markup = (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(subject)}</title></head>\n"
        '<body style="font-family: Helvetica, Arial, sans-serif; color: #1f2933; '
        'line-height: 1.5; max-width: 600px;">\n'
        f"{body}\n"
        f'<p style="color: #616e7c; font-size: 12px;">{html.escape(footer)}</p>\n'
        "</body></html>\n"
    )
    return Email(to=to, subject=subject, text=text, html=markup)
