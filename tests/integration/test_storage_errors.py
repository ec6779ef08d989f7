"""Callers of storage see the project's errors, never botocore's: a table gone, a condition failed.

The tables are real (moto); a test deletes one to make DynamoDB refuse every request to it.
"""

from collections.abc import Callable
from datetime import timedelta

import boto3
import pytest
from botocore.exceptions import ClientError

from coaching import operations, sweep
from coaching.errors import RecordTooLarge, StaleRead, StorageFailed
from coaching.mail.notifications import Notification, NotificationKind
from coaching.mail.notifier import NotDelivered, Notifier
from coaching.models import Account, AccountKind
from coaching.storage import Storage
from coaching.storage.email_claims import Claim, EmailClaims, Held
from tests.builders import NOW, World, coach, member, support
from tests.unit.test_emails import ANN, facts

HOUR = timedelta(hours=1)


def drop(store: Storage, table: str) -> None:
    store._db.delete_table(TableName=table)


def refused(call: Callable[[], object]) -> StorageFailed:
    with pytest.raises(StorageFailed) as raised:
        call()
    assert not isinstance(raised.value, ClientError)
    return raised.value


READS: dict[str, Callable[[Storage], object]] = {
    "get_session": lambda s: s.get_session("x"),
    "slot_holder": lambda s: s.slot_holder("c", NOW),
    "sessions_of": lambda s: s.sessions_of("member", "m", "upcoming", NOW, 10, None),
    "claimed_slots": lambda s: s.claimed_slots("c", NOW, NOW + HOUR),
    "session_and_accounts": lambda s: s.session_and_accounts("x", ["personal-m"]),
    "services_of": lambda s: s.services_of("c", 10, None),
    "get_availability": lambda s: s.get_availability("c"),
    "due_page": lambda s: s.due_page("DUE#0", NOW, 10),
}


@pytest.mark.parametrize("read", READS.values(), ids=READS.keys())
def test_every_read_of_a_missing_table_fails_as_storage_failed(
    store: Storage, read: Callable[[Storage], object]
) -> None:
    drop(store, store.sessions_table)

    assert refused(lambda: read(store)).code == "ResourceNotFoundException"


LEDGER: dict[str, Callable[[Storage], object]] = {
    "get_account": lambda s: s.get_account("group-x"),
    "ledger": lambda s: s.ledger("group-x", 10, None),
    "group_account_ids": lambda s: s.group_account_ids("m"),
    "create_group_account": lambda s: s.create_group_account(
        Account(id="group-x", kind=AccountKind.GROUP, name="Pool")
    ),
}


@pytest.mark.parametrize("call", LEDGER.values(), ids=LEDGER.keys())
def test_every_ledger_request_to_a_missing_table_fails_as_storage_failed(
    store: Storage, call: Callable[[Storage], object]
) -> None:
    drop(store, store.ledger_table)

    assert refused(lambda: call(store)).code == "ResourceNotFoundException"


def test_operations_pass_the_projects_error_up_and_change_nothing(world: World) -> None:
    alice, service = member(), world.service()
    world.fund(alice, 10)
    drop(world.store, world.store.sessions_table)

    failure = refused(
        lambda: operations.book(
            world.store,
            alice,
            service_id=service.id,
            session_type_id="t1",
            start=NOW + 48 * HOUR,
            account_id=None,
            timezone=None,
            now=NOW,
        )
    )

    assert failure.code == "ResourceNotFoundException"
    assert world.balance(f"personal-{alice.id}") == 10


def test_a_grant_into_a_missing_ledger_fails_as_storage_failed(world: World) -> None:
    alice = member()
    world.fund(alice, 1)
    drop(world.store, world.store.ledger_table)

    refused(lambda: operations.grant(world.store, support(), f"personal-{alice.id}", 5, None, NOW))


def test_a_sweep_that_cannot_read_the_index_says_so_and_raises_nothing(store: Storage) -> None:
    drop(store, store.sessions_table)

    result = sweep.run(store, NOW, lambda: 60.0)

    assert (result.query_failed, result.finished, result.ok) == (True, False, False)


def test_a_failed_condition_on_a_new_item_is_a_stale_read(world: World) -> None:
    service = world.service(coach())

    with pytest.raises(StaleRead):
        world.store.put_service(service)  # the same id again: it exists already


def test_a_claim_refused_by_its_condition_is_held_or_false_not_an_error(store: Storage) -> None:
    claims = EmailClaims(store._db, store.settings.emails_table)

    def take(owner: str) -> Claim | Held:
        return claims.take(
            "k", owner=owner, now=1.0, lease_seconds=45, session_id="s", kind="k", audience="a"
        )

    first, second = take("a"), take("b")

    assert isinstance(first, Claim) and isinstance(second, Held)
    assert not claims.release(Claim(key="k", owner="b", lease_until=46.0, attempt=1))
    assert not claims.mark_sent(Claim(key="k", owner="b", lease_until=46.0, attempt=1), "m", 2.0)


def test_the_notifier_fails_the_record_when_the_claims_table_is_gone(
    store: Storage, aws: None
) -> None:
    drop(store, store.settings.emails_table)
    notifier = Notifier(
        ses=boto3.client("sesv2", region_name="us-east-1"),
        sqs=lambda: boto3.client("sqs", region_name="us-east-1"),
        claims=EmailClaims(store._db, store.settings.emails_table),
        sender="noreply@example.com",
        configuration_set=None,
        dead_letter_queue_url="http://127.0.0.1/1/dlq",
        base_url="https://app.example.com/",
    )
    notification = Notification(
        kind=NotificationKind.CANCELED, audience="member", recipient=ANN, facts=facts()
    )

    with pytest.raises(NotDelivered) as failed:
        notifier.deliver_all([notification], lambda: 60.0)

    assert failed.value.code == "ResourceNotFoundException"


def test_a_write_past_dynamodb_s_item_size_is_a_4xx_and_changes_nothing(world: World) -> None:
    # What the service's bounds never let a request do: a session item of some 600 KB.
    alice = member()
    world.fund(alice, 10)
    session = world.book(alice, world.service())
    huge = session.model_copy(
        update={
            "history": [session.history[0].model_copy(update={"reason": "\U0001d54f" * 500})] * 300,
            "version": session.version + 1,
        }
    )

    with pytest.raises(RecordTooLarge) as raised:
        world.store.save_session(before=session, after=huge)

    assert raised.value.status == 422 and raised.value.code == "RECORD_TOO_LARGE"
    assert world.store.get_session(session.id) == session
