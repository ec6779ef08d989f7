"""Threads released together at a barrier: the race tests' one way of racing calls."""

import threading
from collections.abc import Callable
from typing import Any

JOIN_SECONDS = 60


def race(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls on threads released together; each result is a value or the exception."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        barrier.wait(timeout=JOIN_SECONDS)
        try:
            results[index] = call()
        except BaseException as error:  # every outcome is inspected by the caller
            results[index] = error

    threads = [
        threading.Thread(target=run, args=(n, call), name=f"racer-{n}", daemon=True)
        for n, call in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=JOIN_SECONDS)
        assert not thread.is_alive(), f"{thread.name} did not finish"
    return results
