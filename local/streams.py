"""Feeds a table's stream to its consumer function the way Lambda's event source mapping does.

Settings come from the function's ``DynamoDB`` event in ``template.yaml``: batch size, filter
criteria, partial batch responses (retry from the lowest failed record), a bounded number of
retries, bisecting a batch when the function fails, and the on-failure queue.
"""

import json
import logging
import threading
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from local import time_travel
from local.aws import EmbeddedAws
from local.faults import FunctionKilled
from local.lambdas import LambdaService
from local.template import Function

log = logging.getLogger("local.streams")

SEND_TRIES = 3
"""How often the poller tries to put a batch it gave up on in the on-failure queue."""


def matches(pattern: Any, value: Any) -> bool:
    """Lambda event filtering for the pattern forms the template uses: nested keys whose
    leaves are lists of allowed values."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(
            key in value and matches(sub, value[key]) for key, sub in pattern.items()
        )
    if isinstance(pattern, list):
        return value in pattern
    return bool(pattern == value)


def lambda_record(record: Mapping[str, Any], stream_arn: str) -> dict[str, Any]:
    """A record from ``dynamodbstreams.get_records`` as Lambda hands it to a function: boto3
    parses the stream's times into datetimes, Lambda sends epoch seconds."""
    dynamodb = dict(record["dynamodb"])
    created = dynamodb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        # moto stamps the record with the system clock; the functions' clock may have been moved
        # on (/_local/clock), and a record is read within a poll of being written.
        created += time_travel.offset()
        dynamodb["ApproximateCreationDateTime"] = int(created.timestamp())
    return {
        "eventVersion": "1.1",
        **record,
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    }


class StreamPoller:
    def __init__(
        self,
        aws: EmbeddedAws,
        lambdas: LambdaService,
        function: Function,
        settings: dict[str, Any],
        after_batch: Any = None,
        poll_seconds: float = 0.25,
    ) -> None:
        self.aws = aws
        self.lambdas = lambdas
        self.function = function
        self.stream_arn = aws.resolve(settings["Stream"])
        self.batch_size = int(settings.get("BatchSize", 100))
        self.max_retries = int(settings.get("MaximumRetryAttempts", -1))
        self.bisect = bool(settings.get("BisectBatchOnFunctionError", False))
        self.partial = "ReportBatchItemFailures" in settings.get("FunctionResponseTypes", [])
        self.filters = [
            json.loads(f["Pattern"]) for f in settings.get("FilterCriteria", {}).get("Filters", [])
        ]
        destination = settings.get("DestinationConfig", {}).get("OnFailure", {})
        # The template names the queue by its ARN, as Lambda wants; SQS's calls take its URL.
        self.on_failure = (
            aws.queue_url(aws.resolve(destination["Destination"])) if destination else None
        )
        self.after_batch = after_batch
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"stream-{function.name}", daemon=True
        )
        self._pending: list[dict[str, Any]] = []
        self._iterators: dict[str, str] = {}
        self._work = threading.Lock()

    def start(self) -> None:
        self._thread.start()

    def stop(self, wait: bool = True) -> None:
        """Stop polling; ``wait=False`` only asks, so that several pollers wind down together."""
        self._stop.set()
        if wait:
            self._thread.join(timeout=10)

    def _fetch(self) -> None:
        streams = self.aws.client("dynamodbstreams")
        shards = streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
        for shard in shards:
            shard_id = shard["ShardId"]
            if shard_id not in self._iterators:
                self._iterators[shard_id] = streams.get_shard_iterator(
                    StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            response = streams.get_records(ShardIterator=self._iterators[shard_id], Limit=1000)
            self._iterators[shard_id] = response["NextShardIterator"]
            self._pending += [lambda_record(r, self.stream_arn) for r in response["Records"]]

    def _wanted(self, record: dict[str, Any]) -> bool:
        return not self.filters or any(matches(f, record) for f in self.filters)

    def drain(self) -> None:
        """Deliver everything the stream holds now, before answering (used by /_local routes)."""
        with self._work:
            self._fetch()
            while self._pending:
                self._deliver(self._pending[: self.batch_size])

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with self._work:
                    self._fetch()
                    if self._pending:
                        self._deliver(self._pending[: self.batch_size])
                        continue
                self._stop.wait(self.poll_seconds)
            except Exception:  # the poller must outlive any one bad batch
                log.exception("stream poller error")
                self._stop.wait(1)

    def _deliver(self, batch: list[dict[str, Any]]) -> None:
        """Hand one batch to the function, retrying as Lambda would, then move past it."""
        attempts = 0
        while batch and not self._stop.is_set():
            records = [r for r in batch if self._wanted(r)]
            failed_from = self._invoke(records) if records else None
            if failed_from is None:
                del self._pending[: len(batch)]
                return
            # Everything before the lowest failed record is done; the rest goes again.
            done = next(i for i, r in enumerate(batch) if r is failed_from)
            del self._pending[:done]
            batch = batch[done:]
            attempts += 1
            if 0 <= self.max_retries < attempts:
                self._give_up(batch)
                del self._pending[: len(batch)]
                return
            if self.bisect and len(batch) > 1 and failed_from is batch[0]:
                batch = batch[: len(batch) // 2]
            time.sleep(min(2.0, 0.2 * 2**attempts))

    def _invoke(self, records: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The first record to retry from, or None when the batch succeeded."""
        try:
            response = self.lambdas.invoke(self.function.name, {"Records": records})
        except FunctionKilled as killed:  # a timed-out batch is retried whole, as in AWS
            log.warning("%s on a batch of %d", killed, len(records))
            return records[0]
        except Exception:
            log.exception("%s failed on a batch of %d", self.function.name, len(records))
            return records[0]
        finally:
            if self.after_batch:
                self.after_batch()
        failures = (response or {}).get("batchItemFailures", []) if self.partial else []
        failed_ids = {f["itemIdentifier"] for f in failures}
        for record in records:
            if record["dynamodb"]["SequenceNumber"] in failed_ids:
                return record
        return None

    def _give_up(self, batch: list[dict[str, Any]]) -> None:
        """Like the on-failure destination: say which records were not processed.

        The batch is dropped whatever happens here: a message that cannot be sent after
        ``SEND_TRIES`` tries is logged with the records' sequence numbers, never retried by
        replaying the batch (which would deliver it again, forever).
        """
        if not self.on_failure:
            log.warning("%s: %d records dropped after retries", self.function.name, len(batch))
            return
        body = {
            "requestContext": {"condition": "RetryAttemptsExhausted"},
            "DDBStreamBatchInfo": {
                "streamArn": self.stream_arn,
                "startSequenceNumber": batch[0]["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": batch[-1]["dynamodb"]["SequenceNumber"],
                "batchSize": len(batch),
            },
        }
        for attempt in range(1, SEND_TRIES + 1):
            try:
                self.aws.client("sqs").send_message(
                    QueueUrl=self.on_failure, MessageBody=json.dumps(body)
                )
            except Exception:  # the batch is dropped anyway: say so, and what it was
                log.exception("%s: on-failure queue refused try %d", self.function.name, attempt)
                if attempt < SEND_TRIES and not self._stop.wait(0.2 * attempt):
                    continue
                log.error(
                    "%s: %d records dropped unsent to the on-failure queue: %s",
                    self.function.name,
                    len(batch),
                    json.dumps(body["DDBStreamBatchInfo"]),
                )
                return
            log.warning(
                "%s: %d records sent to the on-failure queue", self.function.name, len(batch)
            )
            return
