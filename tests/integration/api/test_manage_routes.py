"""Managing one session from an email's link, without signing in: the /manage routes.

Ann booked Cho three days out (3 credits, the 24-hour window). Her emails carry a link whose
token (``coaching.manage_links``) names that session and Ann, until the session's end; the
token, sent as a bearer token, lets its holder do to that one session what Ann may do in the
app, under Ann's own rules, and nothing else.
"""

from datetime import timedelta
from typing import Any

import pytest

from coaching import manage_links, runtime
from coaching.manage_links import LinkKeys, SigningKey
from coaching.models import Caller, Session, personal_account_id
from coaching.storage import Storage
from tests.api_client import Api, Reply
from tests.builders import World, coach, member

from .api_steps import (
    assert_ok,
    assert_problem,
    balance,
    bearer,
    iso,
    nothing_changes,
    token_for,
    travel,
)

HOUR = timedelta(hours=1)


def manage(api: Api, method: str, path: str, token: str | None, **kwargs: Any) -> Reply:
    headers = {**kwargs.pop("headers", {}), **(bearer(token) if token is not None else {})}
    return api.call(None, method, path, headers=headers, **kwargs)


def booked(given: World, **service: Any) -> tuple[Caller, Caller, Session]:
    ann, cho = member("Ann"), coach("Cho")
    offered = given.service(cho, credits=3, **service)
    given.fund(ann, 10)
    return ann, cho, given.book(ann, offered, in_hours=72)


# --- what the holder may do ---------------------------------------------------------------------


def test_the_holder_reads_the_session_and_what_a_cancel_would_give_back(
    api: Api, given: World
) -> None:
    _, _, session = booked(given)
    token = token_for(session)

    shown = assert_ok(manage(api, "GET", "/manage/session", token))
    quote = assert_ok(manage(api, "GET", "/manage/cancellation", token))

    assert (shown["id"], shown["member"]["name"]) == (session.id, "Ann")
    # ... as Ann sees it: her own actions
    assert shown["actions"]["can_cancel"] and shown["actions"]["can_reschedule"]
    assert not shown["actions"]["can_refund"]
    assert (quote["refundable"], quote["refund_credits"]) == (True, 3)


def test_the_holder_cancels_and_the_credits_come_back_once_whatever_the_retries(
    api: Api, given: World, store: Storage
) -> None:
    ann, _, session = booked(given)
    token = token_for(session)
    key = {"idempotency-key": "cancel-from-email-1"}
    body = {"reason": "A clash at work", "expected_refund_credits": 3}

    first = manage(api, "POST", "/manage/cancel", token, body=body, headers=key)
    again = manage(api, "POST", "/manage/cancel", token, body=body, headers=key)

    canceled = assert_ok(first)
    assert again.status == 200 and again.text == first.text  # the first answer, replayed
    assert canceled["status"] == "CANCELED"
    assert canceled["cancellation"]["canceled_by"] == {"id": ann.id, "role": "member"}
    assert canceled["refund"]["credits"] == 3
    assert balance(store, personal_account_id(ann.id)) == 10


def test_a_key_belongs_to_the_member_whether_sent_from_the_link_or_from_the_app(
    api: Api, given: World
) -> None:
    # Given Ann canceled in the app with a key
    ann, cho, session = booked(given)
    key = {"idempotency-key": "same-key"}
    assert_ok(api.post(ann, f"/sessions/{session.id}/cancel", {}, headers=key))
    # ... and Bea, another member, has a session of her own
    bea = member("Bea")
    given.fund(bea, 10)
    hers = given.book(bea, given.service(cho, credits=1), in_hours=96)

    # When each sends that key from a manage link
    ann_again = manage(api, "POST", "/manage/cancel", token_for(session), body={}, headers=key)
    bea_first = manage(api, "POST", "/manage/cancel", token_for(hers), body={}, headers=key)

    # Then Ann's is another request under a key she used: refused; Bea's key is her own
    assert_problem(ann_again, 422, "IDEMPOTENCY_KEY_REUSED")
    assert assert_ok(bea_first)["status"] == "CANCELED"


def test_the_holder_moves_the_session_under_the_members_rules(api: Api, given: World) -> None:
    _, _, session = booked(given, max_reschedules=1, late_reschedule_requires_approval=True)
    token = token_for(session)

    moved = manage(
        api, "POST", "/manage/reschedule", token, body={"start": iso(session.start + HOUR)}
    )
    again = manage(
        api, "POST", "/manage/reschedule", token, body={"start": iso(session.start + 2 * HOUR)}
    )

    assert assert_ok(moved)["start"].startswith(iso(session.start + HOUR)[:16])
    # The service lets a member move a session once: the link gives no more than the app
    assert_problem(again, 409, "RESCHEDULE_LIMIT_REACHED")


def test_a_late_move_from_the_link_waits_for_the_coach_as_in_the_app(
    api: Api, given: World
) -> None:
    _, _, session = booked(given, late_reschedule_requires_approval=True)
    token = token_for(session)
    travel().set(session.start - 12 * HOUR)

    asked = manage(
        api, "POST", "/manage/reschedule", token, body={"start": iso(session.start + 24 * HOUR)}
    )

    assert asked.status == 202, asked.text
    assert asked.json["reschedule_request"]["start"].startswith(iso(session.start + 24 * HOUR)[:16])


def test_a_reason_the_service_requires_is_required_from_the_link_too(
    api: Api, given: World, store: Storage
) -> None:
    _, _, session = booked(given, cancel_reason_required=True)

    with nothing_changes(store):
        reply = manage(api, "POST", "/manage/cancel", token_for(session), body={})

    assert_problem(reply, 422, "VALIDATION_FAILED", field="reason")


def test_the_free_times_are_those_of_the_sessions_own_type(api: Api, given: World) -> None:
    _, cho, session = booked(given)
    api.call(
        cho,
        "PUT",
        "/coaches/me/availability",
        {"timezone": "UTC", "weekly": [{"day": "SAT", "start": "09:00", "end": "11:00"}]},
    )
    start = session.start  # Friday 09:00 UTC

    free = assert_ok(
        manage(
            api,
            "GET",
            "/manage/slots",
            token_for(session),
            query={"from": iso(start), "to": iso(start + 48 * HOUR)},
        )
    )

    # Saturday 09:00 to 11:00, one-hour sessions on the 15-minute grid
    assert [item["start"][11:16] for item in free["items"]] == [
        "09:00",
        "09:15",
        "09:30",
        "09:45",
        "10:00",
    ]


# --- what the token never does -------------------------------------------------------------------


def _altered(token: str) -> str:
    head, signature = token.rsplit(".", 1)
    return f"{head}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"


REFUSALS = {
    "no token": lambda s: None,
    "an empty bearer": lambda s: "",
    "a token altered by one character": lambda s: _altered(token_for(s)),
    "a token of another member for the session": lambda s: token_for(s, member_id="someone"),
    "a token whose key is not ours": lambda s: manage_links.sign(
        LinkKeys(current=SigningKey(id="1", secret=b"z" * 64)), s.id, s.member.id, s.end
    ),
    "a token for a session that does not exist": lambda s: manage_links.sign(
        runtime.link_keys().keys(), "no-such-session", s.member.id, s.end
    ),
}
ROUTES = [
    ("GET", "/manage/session", None, None),
    ("GET", "/manage/cancellation", None, None),
    ("POST", "/manage/cancel", {}, None),
    ("POST", "/manage/reschedule", {"start": "2030-01-16T10:00:00+00:00"}, None),
    ("GET", "/manage/slots", None, {"from": "2030-01-14T00:00:00Z", "to": "2030-01-15T00:00:00Z"}),
]


@pytest.mark.parametrize("refusal", REFUSALS.values(), ids=REFUSALS.keys())
def test_anything_but_a_valid_token_is_refused_401_on_every_route_and_changes_nothing(
    api: Api, given: World, store: Storage, refusal: Any
) -> None:
    _, _, session = booked(given)
    token = refusal(session)

    with nothing_changes(store):
        replies = [
            manage(api, method, path, token, body=body, query=query)
            for method, path, body, query in ROUTES
        ]

    for reply in replies:
        assert_problem(reply, 401, "UNAUTHENTICATED")


def test_a_token_stops_working_at_the_sessions_end(api: Api, given: World) -> None:
    _, _, session = booked(given)
    token = token_for(session)
    travel().set(session.end - timedelta(seconds=1))
    assert_ok(manage(api, "GET", "/manage/session", token))

    travel().set(session.end)

    assert_problem(manage(api, "GET", "/manage/session", token), 401, "UNAUTHENTICATED")


def test_a_token_stops_at_the_sessions_end_as_it_is_now_after_a_move_earlier(
    api: Api, given: World
) -> None:
    _, cho, session = booked(given)
    token = token_for(session)  # signed until the end at booking
    earlier = session.start - 24 * HOUR
    assert_ok(api.post(cho, f"/sessions/{session.id}/reschedule", {"start": iso(earlier)}))

    travel().set(earlier + 2 * HOUR)  # after the new end, before the old one

    assert_problem(manage(api, "GET", "/manage/session", token), 401, "UNAUTHENTICATED")


def test_a_signed_in_user_s_jwt_opens_no_manage_route(api: Api, given: World) -> None:
    ann, _, _ = booked(given)

    reply = api.get(ann, "/manage/session")  # the member's own claims, but no manage token

    assert_problem(reply, 401, "UNAUTHENTICATED")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/sessions/{session_id}", None),
        ("POST", "/sessions/{session_id}/refund", {}),
        ("POST", "/accounts/{account_id}/grants", {"credits": 5}),
        ("GET", "/sessions/{other_id}", None),
    ],
    ids=["the session by its id", "a refund", "a grant", "another session"],
)
def test_the_token_opens_nothing_outside_manage(
    api: Api, given: World, store: Storage, method: str, path: str, body: Any
) -> None:
    # (in AWS the JWT authorizer refuses it before any function runs: it is no JWT of the
    # issuer; the function behind, reached without claims, refuses it too)
    ann, cho, session = booked(given)
    other = given.book(ann, given.service(cho, credits=1), in_hours=96)
    filled = path.format(
        session_id=session.id, other_id=other.id, account_id=personal_account_id(ann.id)
    )

    with nothing_changes(store):
        reply = api.call(None, method, filled, body, headers=bearer(token_for(session)))

    assert_problem(reply, 401, "UNAUTHENTICATED")


def test_a_token_signed_before_a_rotation_works_until_its_key_is_dropped(
    api: Api, given: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, _, session = booked(given)
    old_token = token_for(session)
    old = runtime.link_keys().keys().current
    rotated = LinkKeys(current=SigningKey(id=old.id + "-next", secret=b"n" * 64), previous=(old,))
    monkeypatch.setattr(runtime.link_keys(), "keys", lambda key_id=None: rotated)

    assert_ok(manage(api, "GET", "/manage/session", old_token))

    monkeypatch.setattr(runtime.link_keys(), "keys", lambda key_id=None: LinkKeys(rotated.current))
    assert_problem(manage(api, "GET", "/manage/session", old_token), 401, "UNAUTHENTICATED")


def test_no_token_ever_reaches_the_logs(
    api: Api, given: World, capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, session = booked(given)
    token = token_for(session)
    capsys.readouterr()

    manage(
        api,
        "POST",
        "/manage/cancel",
        token,
        body={"reason": "x"},
        headers={"idempotency-key": "k1"},
    )
    manage(api, "GET", "/manage/session", _altered(token))
    printed = capsys.readouterr()

    signature = token.rsplit(".", 1)[1]
    assert signature not in printed.out + printed.err
    assert token.split(".")[2] not in printed.out + printed.err
