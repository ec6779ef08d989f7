"""Who is told about credits that expire, and what they read: the ledger table's stream through the
notify function, with moto's SES behind it (the notices are written by the real operations and
sweep, and read from the real stream)."""

from datetime import timedelta

import boto3
import pytest
from botocore.config import Config

from coaching import credit_expiry, operations
from coaching.models import Caller, personal_account_id
from tests.builders import World, admin, coach, member, support
from tests.integration.notify.conftest import REGION, Notify, Sent, Stream
from tests.integration.notify.steps import deliver as deliver_sessions

DAY = timedelta(days=1)


@pytest.fixture
def ledger(notify: Notify) -> Stream:
    """The ledger table's stream, read from its start."""
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    table = dynamodb.describe_table(TableName=notify.store.ledger_table)["Table"]
    streams = boto3.client(
        "dynamodbstreams", region_name=REGION, config=Config(account_id_endpoint_mode="disabled")
    )
    return Stream(arn=table["LatestStreamArn"], _client=streams)


def deliver(notify: Notify, stream: Stream) -> list[Sent]:
    before = len(notify.sent)
    event = stream.event()
    assert notify.invoke(event) == {"batchItemFailures": []}
    # The stream may deliver a record again: nothing is sent twice.
    assert notify.invoke(event) == {"batchItemFailures": []}
    return notify.sent[before:]


def test_the_owner_reads_that_credits_expire_soon_and_then_that_they_have(
    world: World, notify: Notify, ledger: Stream
) -> None:
    # Given Ann (London) with 3 credits that expire in two days, granted by support
    ann = member("Ann", tz="Europe/London")
    account_id = personal_account_id(ann.id)
    operations.grant(world.store, support(), account_id, 3, None, world.now, valid_days=2)
    assert deliver(notify, ledger) == []  # nobody knows where to write to her yet

    # When she books (paying 2 of them), she is told what is left expires
    world.book(ann, world.service(coach(), credits=2), in_hours=96)
    [soon] = deliver(notify, ledger)

    assert soon.to == [ann.email]
    assert soon.subject == "1 credit expires on Thursday 3 December"
    assert "1 credit in your personal account expires on Thursday 3 December 2026, 09:00 " in (
        soon.text
    )
    assert "(Europe/London)" in soon.text
    assert f"https://app.example.test/accounts/{account_id}" in soon.text

    # When the sweep finds it expired, she is told it has gone, and what is left
    credit_expiry.run(world.store, world.now + 2 * DAY, lambda: 60.0)
    [gone] = deliver(notify, ledger)

    assert gone.subject == "1 credit expired"
    assert "1 credit in your personal account expired on Thursday 3 December 2026" in gone.text
    assert "has left its balance" in gone.text
    assert "The balance is now 0 credits." in gone.text
    assert "<script>" not in gone.html


def test_each_admin_of_a_group_who_gave_an_address_is_told(
    world: World, notify: Notify, ledger: Stream
) -> None:
    first = admin().model_copy(update={"email": "first@example.com", "name": "Fay <b>"})
    second = admin().model_copy(update={"email": "second@example.com", "name": "Sol"})
    silent = admin()  # never acted with an address
    group = operations.create_group_account(
        world.store,
        first,
        name="Acme <team>",
        member_ids=[],
        admin_ids=[first.id, second.id, silent.id],
        now=world.now,
    )
    operations.grant(world.store, second, group.id, 1, None, world.now)  # Sol acts: known too

    operations.grant(world.store, first, group.id, 4, None, world.now, valid_days=5)
    mails = deliver(notify, ledger)

    assert sorted(m.to[0] for m in mails) == ["first@example.com", "second@example.com"]
    for mail in mails:
        assert mail.subject == "4 credits expire on Sunday 6 December"
        assert 'the shared account "Acme <team>"' in mail.text
        assert "&lt;team&gt;" in mail.html and "<team>" not in mail.html
        assert "because you are an admin of this account" in mail.text


def test_a_refund_into_an_expired_lot_says_when_the_credits_now_expire(
    world: World, notify: Notify
) -> None:
    ann: Caller = member("Ann", tz="UTC")
    operations.grant(
        world.store, support(), personal_account_id(ann.id), 2, None, world.now, valid_days=1
    )
    session = world.book(ann, world.service(coach(), credits=2), in_hours=24 * 5)
    later = world.now + 2 * DAY
    notify.invoke(notify.stream.event())  # the booking's emails

    operations.cancel(world.store, ann, session.id, None, later)
    [receipt] = [m for m in deliver_sessions(notify) if m.to == [ann.email]]

    assert (
        "2 credits of what came back were paid from credits that have expired since the "
        "booking, so they come back as new credits that can be used until Thursday 10 "
        "December 2026, 09:00 (UTC)." in receipt.text
    )
