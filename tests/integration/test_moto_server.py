"""The embedded AWS's server: requests served one at a time, in the order they came, and a
request whose caller gave up waiting is never applied after it (``local.moto_server``)."""

import threading
import time
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError

from local.moto_server import SerializedMotoServer, _TurnLock
from tests.builders import unique


def _sqs(server: SerializedMotoServer, **config: Any) -> Any:
    return boto3.client(
        "sqs",
        region_name="us-east-1",
        endpoint_url=server.url,
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}, **config),
    )


def _bodies(sqs: Any, url: str) -> list[str]:
    found: list[str] = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return found
        found += [m["Body"] for m in got]


def test_a_request_its_caller_gave_up_on_is_not_applied(moto_server: SerializedMotoServer) -> None:
    sqs = _sqs(moto_server)
    url = sqs.create_queue(QueueName=unique("abandoned"))["QueueUrl"]
    impatient = _sqs(moto_server, read_timeout=0.5)
    before = moto_server.abandoned
    with moto_server.held(), pytest.raises(ReadTimeoutError):
        impatient.send_message(QueueUrl=url, MessageBody="given up on")
    sqs.send_message(QueueUrl=url, MessageBody="waited for")

    assert _bodies(sqs, url) == ["waited for"]
    assert moto_server.abandoned == before + 1


def test_a_request_its_caller_waits_for_is_served_after_the_hold(
    moto_server: SerializedMotoServer,
) -> None:
    sqs = _sqs(moto_server)
    url = sqs.create_queue(QueueName=unique("patient"))["QueueUrl"]
    patient = _sqs(moto_server, read_timeout=30)
    sent = threading.Thread(
        target=lambda: patient.send_message(QueueUrl=url, MessageBody="late"), daemon=True
    )
    with moto_server.held():
        sent.start()
        time.sleep(0.5)
        assert sent.is_alive()  # it waits its turn
    sent.join(timeout=30)

    assert not sent.is_alive()
    assert _bodies(sqs, url) == ["late"]


def test_waiters_are_let_in_in_the_order_they_came() -> None:
    turns = _TurnLock()
    order: list[int] = []

    def take(number: int) -> None:
        with turns:
            order.append(number)

    threads = [threading.Thread(target=take, args=(n,), daemon=True) for n in range(8)]
    with turns:
        for count, thread in enumerate(threads, start=1):
            thread.start()
            deadline = time.monotonic() + 10
            while turns.waiting < count and time.monotonic() < deadline:
                time.sleep(0.001)
            assert turns.waiting == count
    for thread in threads:
        thread.join(timeout=10)

    assert order == list(range(8))


def test_a_request_that_waited_too_long_is_shed_unapplied_and_its_retry_served() -> None:
    with SerializedMotoServer(shed_after=0.3) as server:
        sqs = _sqs(server)
        url = sqs.create_queue(QueueName=unique("shed"))["QueueUrl"]
        once = _sqs(server, read_timeout=30)
        retried = boto3.client(
            "sqs",
            region_name="us-east-1",
            endpoint_url=server.url,
            config=Config(read_timeout=30, retries={"mode": "standard", "total_max_attempts": 3}),
        )
        failures: list[BaseException] = []

        def send(client: Any, body: str) -> None:
            try:
                client.send_message(QueueUrl=url, MessageBody=body)
            except ClientError as error:
                failures.append(error)

        threads = [
            threading.Thread(target=send, args=(once, "shed"), daemon=True),
            threading.Thread(target=send, args=(retried, "retried"), daemon=True),
        ]
        with server.held():
            for thread in threads:
                thread.start()
            time.sleep(0.6)
        for thread in threads:
            thread.join(timeout=30)

        assert [f.response["ResponseMetadata"]["HTTPStatusCode"] for f in failures] == [503]
        assert sorted(_bodies(sqs, url)) == ["retried"]
        assert server.shed == 2
