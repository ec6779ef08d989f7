"""Signed webhooks: the domain events, POSTed to the platform's own systems.

In the order an event meets them:

1. ``operations``: an admin subscribes an endpoint (``POST /webhooks``; the routes' bodies and
   answers are ``coaching.web.webhook_api``), its URL checked by ``addresses`` (https, public
   addresses only) and a secret made by ``signing``.
2. The bus's rule puts every domain event on the webhook queue; the delivery function hands the
   queue's batches to ``delivery``, which reads ``messages``, finds the endpoints that want each
   event (``rules.wants``) and makes one delivery per event and endpoint (``storage.webhooks``).
3. Each attempt checks the address again, signs the body (``signing``, the ``standardwebhooks``
   package) and sends it (``sender``); ``rules`` says what the answer means and when to try
   again.
4. A 410, or five days of failures, disables the endpoint; ``notices`` is the email its owner
   then gets, sent through the notifier like every email.

What is stored, endpoints and deliveries, is ``coaching.webhook_models``.
"""
