"""The webhook rules, as pure functions: who manages endpoints, what an endpoint receives, what
an answer means, when the next attempt is, when to give up and when to disable."""

from datetime import UTC, datetime, timedelta

import pytest

from coaching.errors import Forbidden, NotFound, WebhookDisabled, WebhookLimitReached
from coaching.events.domain_events import CREDITS_EXPIRED, CREDITS_GRANTED, SESSION_EVENT_TYPES
from coaching.events.webhooks import rules
from coaching.models import Caller, Role
from coaching.webhook_models import (
    Delivery,
    DeliveryState,
    Endpoint,
    EndpointStatus,
    SigningSecret,
)

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def endpoint(**changes: object) -> Endpoint:
    values: dict[str, object] = {
        "id": "e1",
        "owner_id": "ada",
        "url": "https://hooks.example.com/",
        "event_types": ["*"],
        "status": EndpointStatus.ENABLED,
        "secrets": [SigningSecret(value="whsec_new")],
        "created_at": NOW,
    }
    return Endpoint(**(values | changes))  # type: ignore[arg-type]


def delivery(attempts: int, final: bool = False) -> Delivery:
    return Delivery(
        id="d1",
        endpoint_id="e1",
        event_id="session:s:1:session.booked",
        event_type="session.booked",
        event_time=NOW,
        payload="{}",
        state=DeliveryState.PENDING,
        attempts=attempts,
        final_attempt=final,
        created_at=NOW,
    )


def test_only_admins_and_support_manage_webhooks() -> None:
    managers = set()
    for role in Role:
        try:
            rules.require_manager(Caller(id="x", role=role))
        except Forbidden:
            continue
        managers.add(role)
    assert managers == {Role.ADMIN, Role.SUPPORT}


def test_an_admin_sees_their_own_endpoints_and_support_all() -> None:
    mine = endpoint()
    assert rules.require_visible(Caller(id="ada", role=Role.ADMIN), mine) is mine
    assert rules.require_visible(Caller(id="sam", role=Role.SUPPORT), mine) is mine
    with pytest.raises(NotFound):
        rules.require_visible(Caller(id="bob", role=Role.ADMIN), mine)
    with pytest.raises(NotFound):
        rules.require_visible(Caller(id="ada", role=Role.ADMIN), None)
    with pytest.raises(Forbidden):
        rules.require_visible(Caller(id="ada", role=Role.COACH), mine)


def test_the_limit_is_ten_endpoints_an_admin() -> None:
    rules.require_room(rules.MAX_ENDPOINTS_PER_ADMIN - 1)
    with pytest.raises(WebhookLimitReached):
        rules.require_room(rules.MAX_ENDPOINTS_PER_ADMIN)
    with pytest.raises(WebhookDisabled):
        rules.require_enabled(endpoint(status=EndpointStatus.DISABLED))


def test_the_subscribable_types_are_every_domain_event_type() -> None:
    assert set(rules.EVENT_TYPES) == {
        *SESSION_EVENT_TYPES.values(),
        CREDITS_GRANTED,
        CREDITS_EXPIRED,
    }
    assert rules.subscribed_types(["session.booked", "session.booked"]) == ["session.booked"]
    for refused, reason in (
        (["nope"], r"unknown: nope"),
        (["*", "session.booked"], "alone"),
        ([], "at least one"),
    ):
        with pytest.raises(ValueError, match=reason):
            rules.subscribed_types(refused)


def test_an_enabled_endpoint_wants_its_types_and_the_star_wants_all() -> None:
    some = endpoint(event_types=["session.canceled"])
    assert rules.wants(some, "session.canceled") and not rules.wants(some, "session.booked")
    assert all(rules.wants(endpoint(), t) for t in rules.EVENT_TYPES)
    assert not rules.wants(endpoint(status=EndpointStatus.DISABLED), "session.canceled")


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (200, rules.Verdict.DELIVERED),
        (204, rules.Verdict.DELIVERED),
        (299, rules.Verdict.DELIVERED),
        (410, rules.Verdict.GONE),
        (301, rules.Verdict.FAILED),
        (302, rules.Verdict.FAILED),
        (400, rules.Verdict.FAILED),
        (404, rules.Verdict.FAILED),
        (429, rules.Verdict.FAILED),
        (500, rules.Verdict.FAILED),
        (None, rules.Verdict.FAILED),
    ],
)
def test_what_an_answer_means(status: int | None, verdict: rules.Verdict) -> None:
    assert rules.verdict(status) is verdict


def test_after_each_failed_attempt_the_next_waits_by_the_schedule_then_it_is_failed() -> None:
    waits = []
    for attempts in range(1, rules.MAX_ATTEMPTS):
        after = rules.after_attempt(delivery(attempts), 500, NOW)
        assert after.state is DeliveryState.PENDING and after.next_attempt_at is not None
        waits.append(after.next_attempt_at - NOW)
    assert waits == [
        timedelta(seconds=5),
        timedelta(minutes=5),
        timedelta(minutes=30),
        timedelta(hours=2),
        timedelta(hours=5),
        timedelta(hours=10),
        timedelta(hours=10),
    ]
    assert rules.after_attempt(delivery(rules.MAX_ATTEMPTS), 500, NOW) == rules.AfterAttempt(
        DeliveryState.FAILED, None
    )
    assert rules.after_attempt(delivery(1), 410, NOW).state is DeliveryState.FAILED
    assert rules.after_attempt(delivery(3), 204, NOW).state is DeliveryState.DELIVERED
    assert rules.after_attempt(delivery(1, final=True), 500, NOW).next_attempt_at is None


def test_five_days_of_failure_disables() -> None:
    assert not rules.failing_too_long(NOW, NOW + timedelta(days=5) - timedelta(seconds=1))
    assert rules.failing_too_long(NOW, NOW + timedelta(days=5))


def test_a_rotation_keeps_the_replaced_secret_signing_for_a_day_and_no_older_one() -> None:
    first = endpoint(secrets=[SigningSecret(value="whsec_one")])
    once = first.model_copy(update={"secrets": rules.rotated(first, "whsec_two", NOW)})
    twice = once.model_copy(
        update={"secrets": rules.rotated(once, "whsec_three", NOW + timedelta(hours=1))}
    )

    assert rules.signing_secrets(once, NOW) == ["whsec_two", "whsec_one"]
    assert rules.signing_secrets(once, NOW + timedelta(hours=24)) == ["whsec_two"]
    assert rules.signing_secrets(twice, NOW + timedelta(hours=1)) == ["whsec_three", "whsec_two"]
