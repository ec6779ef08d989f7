"""The HTTP side: what the functions behind the API share. Nothing else in the layer imports it.

- ``http``: the entry point every HTTP function uses: who is calling, the Idempotency-Key, and
  every failure as a problem.
- ``identity``: who is calling, from the token's claims.
- ``api``: the sessions' contract, bodies and answers (docs/api.md); ``webhook_api``: the
  webhook routes' own.
- ``problems``: failures as RFC 9457 problems; ``answers``: which refusals each route documents.

The package imports nothing eagerly: the docs function loads ``problems`` alone.
"""
