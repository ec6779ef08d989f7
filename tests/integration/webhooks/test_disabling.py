"""A 410 disables an endpoint at once; five days without a successful attempt disables it too.
Either way its admin is emailed, once."""

from datetime import timedelta

from coaching import clock
from coaching.events.webhooks import operations
from coaching.webhook_models import DeliveryState, DisabledReason, EndpointStatus
from tests.integration.api.api_steps import travel
from tests.integration.webhook_steps import near
from tests.webhook_receiver import Receiver

from .conftest import Webhooks


def test_a_410_disables_the_endpoint_at_once_and_tells_its_admin_once(
    webhooks: Webhooks,
) -> None:
    created = webhooks.subscribe(description="CRM")
    with Receiver() as elsewhere:
        other = webhooks.subscribe(url=elsewhere.url)  # the same admin's, still answering
        webhooks.receiver.answer(410, 410)

        # two events in one batch: both attempts to the endpoint meet its 410
        webhooks.deliver(
            webhooks.event("s1", "session.booked", 1), webhooks.event("s2", "session.booked", 1)
        )

        assert len(webhooks.receiver.wait_for(2)) == len(elsewhere.wait_for(2)) == 2
    endpoint = webhooks.endpoint(created.endpoint)
    assert endpoint.status is EndpointStatus.DISABLED
    assert endpoint.disabled_reason is DisabledReason.GONE
    assert near(endpoint.disabled_at, clock.now()) and endpoint.notice is None
    assert webhooks.endpoint(other.endpoint).status is EndpointStatus.ENABLED
    failed = webhooks.deliveries(endpoint)
    assert [(d.state, d.last_status, d.next_attempt_at) for d in failed] == [
        (DeliveryState.FAILED, 410, None)
    ] * 2
    assert webhooks.waiting() == []
    # ... its admin got one email, naming the endpoint and why
    (email,) = webhooks.emails
    assert email.to == [webhooks.owner.email]
    assert email.subject == "Your webhook endpoint has been disabled"
    assert endpoint.url in email.text and endpoint.id in email.text
    assert "410" in email.text and f"/webhooks/{endpoint.id}/enable" in email.text
    # ... and nothing more reaches it, nor is anyone emailed again
    webhooks.deliver(webhooks.event("s3", "session.booked", 1))
    assert len(webhooks.receiver.received) == 2
    assert len(webhooks.emails) == 1


def test_five_days_without_a_success_disables_the_endpoint(webhooks: Webhooks) -> None:
    created = webhooks.subscribe()
    webhooks.receiver.answer(*[503] * 20)
    started = clock.now()
    webhooks.deliver(webhooks.event("s1", "session.booked", 1))
    failing_since = webhooks.endpoint(created.endpoint).failing_since
    assert failing_since is not None and near(failing_since, started)

    # a day short of five, still failing, it stays enabled
    travel().set(failing_since + timedelta(days=4, hours=23))
    webhooks.deliver(webhooks.event("s2", "session.booked", 1))
    assert webhooks.endpoint(created.endpoint).status is EndpointStatus.ENABLED

    # at five days from the first failure (not from `started`: under load the first attempt
    # can come a second after it), the next failure disables it
    travel().set(failing_since + timedelta(days=5))
    webhooks.deliver(webhooks.event("s3", "session.booked", 1))

    endpoint = webhooks.endpoint(created.endpoint)
    assert endpoint.status is EndpointStatus.DISABLED
    assert endpoint.disabled_reason is DisabledReason.FAILING
    (email,) = webhooks.emails
    assert email.to == [webhooks.owner.email]
    assert "5 days" in email.text
    # its waiting retries are given up at their turn, without being sent
    sent = len(webhooks.receiver.received)
    travel().advance(24 * 3600)
    webhooks.run_schedule()
    assert len(webhooks.receiver.received) == sent
    assert {d.state for d in webhooks.deliveries(endpoint)} == {DeliveryState.FAILED}
    assert webhooks.waiting() == []


def test_a_success_in_between_starts_the_five_days_again(webhooks: Webhooks) -> None:
    created = webhooks.subscribe()
    webhooks.receiver.answer(503, 200, 503)
    started = clock.now()
    webhooks.deliver(webhooks.event("s1", "session.booked", 1))
    travel().set(started + timedelta(days=3))
    webhooks.deliver(webhooks.event("s2", "session.booked", 1))
    assert webhooks.endpoint(created.endpoint).failing_since is None

    travel().set(started + timedelta(days=5, hours=1))
    webhooks.deliver(webhooks.event("s3", "session.booked", 1))

    endpoint = webhooks.endpoint(created.endpoint)
    assert endpoint.status is EndpointStatus.ENABLED
    assert near(endpoint.failing_since, started + timedelta(days=5, hours=1))
    assert webhooks.emails == []


def test_an_admin_whose_token_had_no_address_is_not_emailed_and_nothing_waits(
    webhooks: Webhooks,
) -> None:
    created = webhooks.subscribe(owner=webhooks.owner.model_copy(update={"email": None}))
    webhooks.receiver.answer(410)

    webhooks.deliver(webhooks.event("s1", "session.booked", 1))

    endpoint = webhooks.endpoint(created.endpoint)
    assert endpoint.status is EndpointStatus.DISABLED and endpoint.notice is None
    assert webhooks.emails == []


def test_an_email_left_unsent_goes_out_on_the_next_run_and_only_once(webhooks: Webhooks) -> None:
    # Given an endpoint disabled whose email did not go out (its run died before sending it)
    created = webhooks.subscribe()
    now = clock.now()
    from coaching.events.webhooks import notices

    webhooks.store.disable(
        created.endpoint.id, DisabledReason.GONE, now, notices.notice_key(created.endpoint.id, now)
    )

    # When the next runs read the endpoints
    webhooks.run_schedule()
    webhooks.run_schedule()
    webhooks.deliver(webhooks.event("s1", "session.booked", 1))

    # Then the admin was told once, and the notice is done with
    (email,) = webhooks.emails
    assert email.to == [webhooks.owner.email]
    assert webhooks.endpoint(created.endpoint).notice is None


def test_enabling_again_lets_events_through(webhooks: Webhooks) -> None:
    created = webhooks.subscribe()
    webhooks.receiver.answer(410)
    webhooks.deliver(webhooks.event("s1", "session.booked", 1))
    assert webhooks.endpoint(created.endpoint).status is EndpointStatus.DISABLED

    operations.enable(webhooks.store, webhooks.owner, created.endpoint.id)
    webhooks.deliver(webhooks.event("s1", "session.canceled", 2))

    assert [r.json["type"] for r in webhooks.receiver.wait_for(2)] == [
        "session.booked",
        "session.canceled",
    ]
