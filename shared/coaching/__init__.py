"""The policy layer shared by every function: models, rules, storage, ledger and emails."""
