"""Webhook deliveries: the domain events the bus's rule puts on the webhook queue, and retries.

Two events invoke it. A batch from the queue (the template's ``Events`` mapping, partial batch
responses on): each message an event to deliver to every endpoint that wants it, or a retry
that is due. And a schedule, every minute: every retry the Due index says is due. The policy
layer does the work (``coaching.events.webhooks.delivery``, whose docstring lists its steps).

Not Powertools' ``BatchProcessor``: it hands records over one at a time, so an endpoint that
never answers would cost its 10 seconds per event, one after another. Here a batch's attempts
go out side by side, and the messages whose work could not be done are the batch's failures.
"""

import gc

gc.disable()  # no collections while importing: see the end of the module

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from coaching import runtime
from coaching.events.webhooks.delivery import QueueMessage, as_batch_response
from coaching.observability import log_metrics, logger, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)
@log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    def time_left() -> float:
        return context.get_remaining_time_in_millis() / 1000

    if "Records" in event:
        queue = [QueueMessage(r["messageId"], r["body"]) for r in event["Records"]]
        return as_batch_response(runtime.deliverer().deliver(queue, time_left))
    # The schedule's event: retries that are due. A run that could not record what it did
    # raises once it is done (the errors alarm fires); the next run, a minute on, retries.
    report = runtime.deliverer().retry_due(time_left)
    if report.unrecorded:
        raise OutcomesNotRecorded(report.unrecorded)
    return report.as_dict()


class OutcomesNotRecorded(Exception):
    """Some attempts' outcomes were not written: their leases run out and they are retried."""


# What the imports built lives as long as the process and holds no garbage: keep it out of
# every later collection, then collect as usual.
gc.freeze()
gc.enable()
