"""The emails: who is told, what they read, and the one sender. Only ``notifier`` calls SES.

A change reaches these modules in this order:

1. ``notifications``: who is told what about a session's change (``decide``) or a sweep's mark
   on its reminders (``of_marks``). Pure. Notices about credits come decided
   (``coaching.credit_notices``), and a disabled webhook's notice comes rendered
   (``coaching.events.webhooks.notices``).
2. ``emails``: how each notification reads, subject, plain text and HTML, in the recipient's
   time zone. Pure.
3. ``invites``: the calendar invite (iCalendar) the email carries about a session's time. Pure.
4. ``mime``: the email and its invite packed as one MIME message. Pure.
5. ``notifier``: claim each email once (``coaching.storage.email_claims``), send it with SES,
   record the outcome.

The package imports nothing eagerly: a function loads only the steps it uses.
"""
