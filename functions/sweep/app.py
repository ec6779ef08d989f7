"""The scheduled sweep of sessions: expire unanswered requests, complete sessions that are
over, and mark the reminders that are due (the notifier sends them from the stream).

EventBridge invokes this on the template's ``SweepSchedule`` (every minute: reminders are
promised within 5 minutes of their time). Credits that expire have their own function and
schedule (``functions/credit_expiry``). The sweep starts no new work a safety margin before the
timeout; whatever it leaves is still in the Due index, so the next run simply queries again. It
raises after reporting when any session failed, so the function's Errors metric
(``SweepErrorsAlarm``) tells someone, while the others were still swept.
"""

import gc

gc.disable()  # no collections while importing: see the end of the module

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from coaching import clock, runtime, sweep
from coaching.observability import log_metrics, logger, metrics, tracer


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)
@log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    budget = sweep.time_budget(context.get_remaining_time_in_millis)
    result = sweep.run(runtime.storage(), clock.now(), budget)
    answer = result.model_dump()
    logger.info("sweep done", extra=answer)
    metrics.add_metric(name="SessionsExpired", unit=MetricUnit.Count, value=result.expired_bookings)
    metrics.add_metric(
        name="RescheduleRequestsExpired", unit=MetricUnit.Count, value=result.expired_reschedules
    )
    metrics.add_metric(name="SessionsCompleted", unit=MetricUnit.Count, value=result.completed)
    metrics.add_metric(name="SweepItemsRead", unit=MetricUnit.Count, value=result.items_read)
    metrics.add_metric(name="RemindersFired", unit=MetricUnit.Count, value=result.reminders_fired)
    result.raise_for_failures()
    return answer


# What the imports built lives as long as the process and holds no garbage: keep it out of
# every later collection, then collect as usual.
gc.freeze()
gc.enable()
