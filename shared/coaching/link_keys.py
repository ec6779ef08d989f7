"""The manage links' signing keys, read from AWS Secrets Manager: the only module that reads it.

The secret (the template's ``ManageLinkKey``; ``MANAGE_LINK_SECRET`` names it) holds the
current key and any previous ones (``manage_links.LinkKeys.from_secret``). It is read on first
use and kept for ``refresh_seconds``, so a rotation reaches every function within that time; a
token naming a key id that the keys in hand do not know makes one early read (at most one each
``retry_seconds``), so tokens signed right after a rotation work at once. Neither the key nor
any token is ever logged.
"""

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from coaching.manage_links import LinkKeys

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager.client import SecretsManagerClient
else:
    SecretsManagerClient = Any


class LinkKeySource:
    def __init__(
        self,
        client: "SecretsManagerClient",
        secret_id: str,
        *,
        refresh_seconds: float = 300.0,
        retry_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self.secret_id = secret_id
        self.refresh_seconds = refresh_seconds
        self.retry_seconds = retry_seconds
        self._clock = clock
        self._keys: LinkKeys | None = None
        self._read_at = 0.0
        self._lock = threading.Lock()

    def keys(self, key_id: str | None = None) -> LinkKeys:
        """The keys to sign with, or to check a token signed with ``key_id``."""
        with self._lock:
            now = self._clock()
            stale = self._keys is None or now - self._read_at >= self.refresh_seconds
            unknown = (
                key_id is not None
                and self._keys is not None
                and self._keys.find(key_id) is None
                and now - self._read_at >= self.retry_seconds
            )
            if stale or unknown:
                answer = self._client.get_secret_value(SecretId=self.secret_id)
                self._keys = LinkKeys.from_secret(answer["SecretString"])
                self._read_at = now
            assert self._keys is not None
            return self._keys
