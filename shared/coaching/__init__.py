"""The policy layer shared by every function: the domain and its rules, the use cases, and the
wings ``storage`` (DynamoDB), ``mail`` (the emails), ``events`` (domain events, webhooks) and
``web`` (what the HTTP functions share)."""
