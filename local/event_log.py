"""What reaches the event bus, read back as a subscriber would see it.

EventBridge keeps no record of the events it routed, and neither does moto: the local stack
subscribes to every bus the template declares with a rule matching every event, whose target is
a queue of its own, and reads that queue. So ``GET /_local/events`` shows what a consumer's
rule would have received, in the order the bus took them.
"""

import json
import threading
from typing import Any

from local.aws import PREFIX, EmbeddedAws

RULE = "coaching-local-record-everything"


class EventLog:
    def __init__(self, aws: EmbeddedAws) -> None:
        self._sqs = aws.client("sqs")
        events = aws.client("events")
        self._queue_url = self._sqs.create_queue(QueueName=PREFIX + "event-log")["QueueUrl"]
        queue_arn = self._sqs.get_queue_attributes(
            QueueUrl=self._queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        for bus in aws.bus_arns.values():
            events.put_rule(
                Name=RULE,
                EventBusName=bus,
                EventPattern=json.dumps({"source": [{"prefix": ""}]}),
            )
            events.put_targets(
                Rule=RULE, EventBusName=bus, Targets=[{"Id": "event-log", "Arn": queue_arn}]
            )
        self._items: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def collect(self) -> list[dict[str, Any]]:
        """Every event recorded so far, oldest first."""
        with self._lock:
            while True:
                messages = self._sqs.receive_message(
                    QueueUrl=self._queue_url, MaxNumberOfMessages=10
                ).get("Messages", [])
                if not messages:
                    return list(self._items)
                for message in messages:
                    event = json.loads(message["Body"])
                    self._items.append(
                        {
                            "source": event["source"],
                            "detail_type": event["detail-type"],
                            "detail": event["detail"],
                            "time": event["time"],
                        }
                    )
                    self._sqs.delete_message(
                        QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"]
                    )
