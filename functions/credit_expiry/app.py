"""The scheduled sweep of credits that expire: tell owners a week ahead, then take out what a
lot still holds once its time has come (one ``EXPIRE`` entry, exactly once).

EventBridge invokes this on the template's ``CreditExpirySchedule`` (every 5 minutes): lots
expire to the second, but nobody waits on the minute, so it does not read the ledger's Due
index as often as the sessions' sweep reads theirs. The layer does the work
(``coaching.credit_expiry``). A run starts no new work a safety margin before the timeout;
whatever it leaves is still due in the index, so the next run simply queries again. It raises
after reporting when any lot failed, so the function's Errors metric
(``CreditExpiryErrorsAlarm``) tells someone, while the others were still swept.
"""

import gc

gc.disable()  # no collections while importing: see the end of the module

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from coaching import clock, credit_expiry, runtime, sweep
from coaching.observability import log_metrics, logger, metrics, tracer


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)
@log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    budget = sweep.time_budget(context.get_remaining_time_in_millis)
    result = credit_expiry.run(runtime.storage(), clock.now(), budget)
    answer = result.model_dump()
    logger.info("credit expiry done", extra=answer)
    metrics.add_metric(name="CreditLotsExpired", unit=MetricUnit.Count, value=result.expired_lots)
    metrics.add_metric(name="CreditLotsWarned", unit=MetricUnit.Count, value=result.warned_lots)
    metrics.add_metric(name="LotSweepItemsRead", unit=MetricUnit.Count, value=result.items_read)
    result.raise_for_failures()
    return answer


# What the imports built lives as long as the process and holds no garbage: keep it out of
# every later collection, then collect as usual.
gc.freeze()
gc.enable()
