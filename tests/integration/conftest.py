"""Fixtures of the integration tests, beyond tests/conftest.py's moto stores and API."""

from tests.integration.webhook_steps import dns, receiver

__all__ = ["dns", "receiver"]
