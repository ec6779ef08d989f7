"""Fault injection: the next N invocations of a function die around their DynamoDB transaction.

AWS Fault Injection Service can stop a Lambda function mid-invocation; this does the same for
the local stack, so that anyone can check from outside what a killed invocation leaves behind.
A fault is armed for a function (its folder name under ``functions/``) and a moment:

- ``before_commit``: the invocation dies as it is about to send its first ``TransactWriteItems``
  (nothing of the change is written);
- ``after_commit``: it dies as soon as DynamoDB has accepted that transaction (the change is
  written, the caller never hears of it). A transaction DynamoDB refuses committed nothing, so it
  neither kills the invocation nor uses up the fault.

Each state-changing request makes one transaction, so "the first one of the invocation" is the
commit. The hooks are botocore events on the functions' shared DynamoDB client; the policy layer
knows nothing of them. The death is ``FunctionKilled``, a ``BaseException``: a Lambda killed by
its timeout runs no ``except Exception`` handler, no Powertools error mapping, no clean-up.
"""

import threading
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, get_args

When = Literal["before_commit", "after_commit"]
MOMENTS: tuple[str, ...] = get_args(When)

_EVENT = "{}-call.dynamodb.TransactWriteItems"


class FunctionKilled(BaseException):
    """The function's execution environment died mid-invocation (as on a timeout or OOM)."""

    def __init__(self, function: str, when: str) -> None:
        super().__init__(f"{function} killed {when.replace('_', ' ')} (fault injection)")
        self.function = function
        self.when = when


@dataclass
class _Invocation:
    function: str
    transactions: int = 0
    die_after: bool = False


class Faults:
    def __init__(self, functions: Collection[str] | None = None) -> None:
        """``functions``: the names ``arm`` accepts (any name when None)."""
        self.functions = functions
        self._armed: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        self._current = threading.local()

    # --- what is armed ----------------------------------------------------------------------

    def arm(self, function: str, when: When, count: int) -> None:
        """The next ``count`` invocations of ``function`` die at ``when`` (adds to what is
        armed there already)."""
        if not isinstance(function, str) or (
            self.functions is not None and function not in self.functions
        ):
            known = ", ".join(sorted(self.functions or ()))
            raise ValueError(f"unknown function: function must be one of {known}")
        if when not in MOMENTS:
            raise ValueError(f"when must be one of {', '.join(MOMENTS)}")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError("count must be a whole number, 1 or more")
        with self._lock:
            self._armed[(function, when)] = self._armed.get((function, when), 0) + count

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()

    def armed(self) -> list[dict[str, object]]:
        with self._lock:
            return [
                {"function": function, "when": when, "count": count}
                for (function, when), count in sorted(self._armed.items())
            ]

    def _take(self, function: str, when: str) -> bool:
        """Use up one fault armed for ``function`` at ``when``, if there is one."""
        with self._lock:
            left = self._armed.get((function, when), 0)
            if left < 1:
                return False
            if left == 1:
                del self._armed[(function, when)]
            else:
                self._armed[(function, when)] = left - 1
            return True

    def _is_armed(self, function: str, when: str) -> bool:
        with self._lock:
            return self._armed.get((function, when), 0) > 0

    # --- where they strike ------------------------------------------------------------------

    @contextmanager
    def running(self, function: str) -> Iterator[None]:
        """Mark this thread as running one invocation of ``function``."""
        outer = getattr(self._current, "invocation", None)
        self._current.invocation = _Invocation(function)
        try:
            yield
        finally:
            self._current.invocation = outer

    def install(self, client: Any) -> None:
        """Hook this boto3 DynamoDB client's ``TransactWriteItems`` calls (once per client)."""
        events = client.meta.events
        for moment, hook in (("before", self._before_call), ("after", self._after_call)):
            events.register(_EVENT.format(moment), hook, unique_id=f"faults-{moment}-{id(self)}")

    def _before_call(self, **_: Any) -> None:
        invocation: _Invocation | None = getattr(self._current, "invocation", None)
        if invocation is None:
            return  # not inside an invocation: the stack's own writes (demo data)
        invocation.transactions += 1
        if invocation.transactions != 1:
            return
        if self._take(invocation.function, "before_commit"):
            raise FunctionKilled(invocation.function, "before_commit")
        invocation.die_after = self._is_armed(invocation.function, "after_commit")

    def _after_call(self, http_response: Any, **_: Any) -> None:
        invocation: _Invocation | None = getattr(self._current, "invocation", None)
        if invocation is None or not invocation.die_after:
            return
        invocation.die_after = False
        committed = http_response is not None and http_response.status_code == 200
        if committed and self._take(invocation.function, "after_commit"):
            raise FunctionKilled(invocation.function, "after_commit")
