"""The HTTP side: what the functions behind the API share. Nothing else in the layer imports it.

- ``http``: the entry point every HTTP function uses: who is calling, the Idempotency-Key, and
  every failure as a problem.
- ``identity``: who is calling, from the token's claims.
- ``api``: the sessions' contract, bodies and answers (docs/api.md), and what every part of it
  shares; ``account_api``, ``service_api`` and ``webhook_api``: the accounts', the services' and
  the webhooks' routes' own, each imported by its one function (a function builds no model its
  routes never use).
- ``problems``: failures as RFC 9457 problems; ``answers``: which refusals each route documents.

The package imports nothing eagerly: the docs function loads ``problems`` alone.
"""
