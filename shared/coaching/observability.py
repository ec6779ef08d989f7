"""Logger, Tracer and Metrics, created once here and imported by every function.

Logs carry ids, codes and outcomes; never emails, names or reasons. Traces carry timings and
annotations only: every handler decorator turns off capturing responses and errors (their
bodies and messages hold personal data), and the template says the same to Powertools.

Powertools keeps ``metrics`` (values and dimensions) in state shared by the whole process, and
empties it only when it prints it. So a dimension never goes on ``metrics``: a metric labelled
with an outcome goes out in a document of its own (``outcome_metrics``), and every handler
empties ``metrics`` when it returns, printed or not (``log_metrics``).
"""

import functools
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, cast

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
    AmazonCloudWatchEMFProvider,
)

# A read that records no metric is normal; Powertools would warn about it on every call.
warnings.filterwarnings("ignore", message="No application metrics to publish")

logger = Logger()
metrics = Metrics()

F = TypeVar("F", bound=Callable[..., Any])


def log_metrics(handler: F) -> F:
    """Powertools' ``log_metrics`` (the invocation's metrics printed as it ends), then emptied.

    Powertools empties them only when it prints them: with metrics disabled (the local stack,
    every function in one process) they would pile up, invocation after invocation, until a
    hundredth value of one made Powertools print them all, whatever it was told.
    """
    printed = metrics.log_metrics(handler)

    @functools.wraps(handler)
    def invocation(*args: Any, **kwargs: Any) -> Any:
        try:
            return printed(*args, **kwargs)
        finally:
            metrics.clear_metrics()

    return cast(F, invocation)


@contextmanager
def outcome_metrics(outcome: str) -> Iterator[AmazonCloudWatchEMFProvider]:
    """Metrics labelled ``outcome`` (and ``service``), printed when the block ends as an EMF
    document of their own, as Powertools' ``single_metric`` does, and like ``metrics`` not
    at all when metrics are disabled.

    The label lives in this block's own metric set. On ``metrics`` it would stay among the
    process's shared dimensions, labelling whatever is recorded next, until something emptied
    them: the next invocation's metrics, where they are not printed (the local stack).
    """
    labelled = AmazonCloudWatchEMFProvider(namespace=metrics.namespace, service=metrics.service)
    labelled.add_dimension(name="outcome", value=outcome)
    yield labelled
    labelled.flush_metrics()


def __getattr__(name: str) -> Tracer:
    """``tracer``, created by the first import of it (PEP 562), not by importing this module.

    Creating it loads the X-Ray SDK and patches botocore, so that every AWS call is traced: a
    function that calls AWS imports ``tracer`` at its cold start and pays that there, as before;
    one that never calls AWS (docs) does not import it and skips that cost.
    """
    if name != "tracer":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    tracer = Tracer(patch_modules=["botocore"])  # all our AWS calls go through botocore
    from aws_xray_sdk.core import xray_recorder

    xray_recorder.configure(emitter=WithoutMessages(xray_recorder.emitter))
    globals()["tracer"] = tracer  # later imports find it without coming here
    return tracer


class WithoutMessages:
    """The X-Ray emitter, less the messages of the exceptions a trace recorded.

    The X-Ray SDK records every failed AWS call's exception with its message, and AWS's messages
    can quote a request's values (a condition's, an item's: an address, a reason). Traces keep
    each exception's type and where it was raised; its message is replaced by its type before
    the entity leaves for the daemon.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def send_entity(self, entity: Any) -> None:
        _drop_messages(entity)
        self.inner.send_entity(entity)

    def set_daemon_address(self, address: str | None) -> None:
        self.inner.set_daemon_address(address)


def _drop_messages(entity: Any) -> None:
    cause = getattr(entity, "cause", None)
    if isinstance(cause, dict):
        for throwable in cause.get("exceptions", []):
            if hasattr(throwable, "message"):
                throwable.message = getattr(throwable, "type", "error")
    for sub in getattr(entity, "subsegments", []):
        _drop_messages(sub)
