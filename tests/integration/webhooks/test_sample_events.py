"""events/deliver.json and events/deliver-schedule.json, the delivery function's sample events
(``sam local invoke DeliverFunction -e ...``), run through its handler as they are."""

import json
from pathlib import Path

from standardwebhooks import Webhook

from .conftest import Webhooks

EVENTS = Path(__file__).resolve().parents[3] / "events"


def test_the_queue_sample_delivers_its_event_and_ignores_a_retry_of_nothing(
    webhooks: Webhooks,
) -> None:
    created = webhooks.subscribe(event_types=["session.canceled"])
    event = json.loads((EVENTS / "deliver.json").read_text())

    answer = webhooks.invoke(event)

    assert answer == {"batchItemFailures": []}
    (received,) = webhooks.receiver.wait_for(1)
    body = Webhook(created.secret).verify(received.body, received.headers)
    assert body["type"] == "session.canceled" and body["data"]["credits_returned"] == 3
    # the sample's retry names a webhook that does not exist here: nothing is made of it
    (retry,) = [json.loads(r["body"])["retry"] for r in event["Records"][1:]]
    assert webhooks.store.get_delivery(retry["webhook_id"], retry["delivery_id"]) is None
    assert [d.event_type for d in webhooks.deliveries(created.endpoint)] == ["session.canceled"]


def test_the_schedule_sample_runs_the_retries_and_says_what_it_did(webhooks: Webhooks) -> None:
    event = json.loads((EVENTS / "deliver-schedule.json").read_text())

    answer = webhooks.invoke(event)

    assert answer == {
        "attempted": 0,
        "delivered": 0,
        "failed_attempts": 0,
        "given_up": 0,
        "disabled": 0,
        "notices_sent": 0,
        "unrecorded": 0,
        "failed_messages": 0,
    }
