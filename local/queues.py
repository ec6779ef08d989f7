"""Feeds a queue to its consumer function the way Lambda's SQS event source mapping does.

Settings come from the function's ``SQS`` event in ``template.yaml``: the queue, the batch size
(at most 10 a receive, as one ``ReceiveMessage`` gives) and partial batch responses. After an
invocation, every message it did not report as failed is deleted; a failed one, or every message
of an invocation that raised, stays in the queue and comes back once its visibility timeout (the
queue's, from the template) has passed, and after the redrive policy's receives moto moves it
to the dead letter queue, as SQS does. Messages sent with a delay arrive after it.

moto serves one request at a time (``local.moto_server``), so the poller never long-polls: a
receive that waited would hold every other request. It asks every ``poll_seconds`` instead.
"""

import logging
import threading
from collections.abc import Mapping
from typing import Any

from local.aws import REGION, EmbeddedAws
from local.faults import FunctionKilled
from local.lambdas import LambdaService
from local.template import Function

log = logging.getLogger("local.queues")


def lambda_record(message: Mapping[str, Any], queue_arn: str) -> dict[str, Any]:
    """A message from ``sqs.receive_message`` as Lambda hands it to a function."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "dataType": value.get("DataType"),
                "stringListValues": [],
                "binaryListValues": [],
            }
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }


class QueuePoller:
    def __init__(
        self,
        aws: EmbeddedAws,
        lambdas: LambdaService,
        function: Function,
        settings: dict[str, Any],
        poll_seconds: float = 0.25,
    ) -> None:
        self.aws = aws
        self.lambdas = lambdas
        self.function = function
        self.queue_arn = str(aws.resolve(settings["Queue"]))
        self.queue_url = aws.queue_url(self.queue_arn)
        self.batch_size = max(1, min(10, int(settings.get("BatchSize", 10))))
        self.partial = "ReportBatchItemFailures" in settings.get("FunctionResponseTypes", [])
        self.poll_seconds = poll_seconds
        self._sqs = aws.client("sqs")
        self._stop = threading.Event()
        self._work = threading.Lock()
        self._thread = threading.Thread(
            target=self._run, name=f"queue-{function.name}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self, wait: bool = True) -> None:
        """Stop polling; ``wait=False`` only asks, so that several pollers wind down together."""
        self._stop.set()
        if wait:
            self._thread.join(timeout=10)

    def drain(self) -> None:
        """Deliver every message the queue shows now, before answering (the /_local routes)."""
        with self._work:
            while self._poll_once():
                pass

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with self._work:
                    received = self._poll_once()
                if received:
                    continue
                self._stop.wait(self.poll_seconds)
            except Exception:  # the poller must outlive any one bad batch
                log.exception("queue poller error")
                self._stop.wait(1)

    def _poll_once(self) -> int:
        """One receive and, if it got messages, one invocation; how many it got."""
        messages = self._sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        records = [lambda_record(m, self.queue_arn) for m in messages]
        try:
            response = self.lambdas.invoke(self.function.name, {"Records": records})
        except FunctionKilled as killed:  # as a timeout: nothing is deleted
            log.warning("%s on a batch of %d", killed, len(records))
            return len(messages)
        except Exception:
            log.exception("%s failed on a batch of %d", self.function.name, len(records))
            return len(messages)
        failures = (response or {}).get("batchItemFailures", []) if self.partial else []
        failed = {f["itemIdentifier"] for f in failures}
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            self._sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]}
                    for n, m in enumerate(done[start : start + 10])
                ],
            )
        if failed:
            log.warning("%s: %d messages to retry", self.function.name, len(failed))
        return len(messages)
