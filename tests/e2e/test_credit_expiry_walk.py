"""Credits that expire, walked over `make run`'s stack as a platform would use it: a package that
lasts two days beside credits that never expire, a booking that spends the package first, a
cancel that puts it back, the clock moved past its end, the sweep, and what the owner reads."""

import uuid
from datetime import datetime, timedelta
from typing import Any

from tests.e2e.conftest import RunningStack


def _ok(answer: Any, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json()


def _now(stack: RunningStack) -> datetime:
    return datetime.fromisoformat(_ok(stack.call("GET", "/_local/clock"))["now"])


def test_a_package_is_spent_first_given_back_and_expires_once(own_stack: RunningStack) -> None:
    stack = own_stack
    tag = uuid.uuid4().hex[:8]
    member_id, address = f"pack-member-{tag}", f"pack-member-{tag}@example.com"
    member = stack.token(
        member_id, "member", "--email", address, "--name", "Mia", "--zoneinfo", "Europe/Paris"
    )
    coach = stack.token(f"pack-coach-{tag}", "coach", "--email", f"pack-coach-{tag}@example.com")
    support = stack.token(f"pack-support-{tag}", "support")
    account = f"/accounts/personal-{member_id}"

    # 3 credits that expire in two days, and 5 that never expire
    package = _ok(
        stack.call("POST", f"{account}/grants", support, json={"credits": 3, "valid_days": 2}), 201
    )
    _ok(stack.call("POST", f"{account}/grants", support, json={"credits": 5}), 201)
    [lot] = package["lots"]
    ends = lot["expires_at"]
    shown = _ok(stack.call("GET", account, member))
    assert [(x["credits_left"], x["expires_at"]) for x in shown["lots"]] == [(3, ends), (5, None)]
    assert shown["expiring_soon"] == {"credits": 3, "expires_at": ends}

    # A 2-credit session, booked three days out: paid from the package
    service = _ok(
        stack.call(
            "POST",
            "/services",
            coach,
            json={"name": f"Packaged {tag}", "session_types": [{"minutes": 60, "credits": 2}]},
        ),
        201,
    )
    start = (_now(stack) + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    body = {"service_id": service["id"], "session_type_id": "t1", "start": start.isoformat()}
    session = _ok(stack.call("POST", "/sessions", member, json=body), 201)
    [debit] = [
        e
        for e in _ok(stack.call("GET", f"{account}/ledger", member))["items"]
        if e["kind"] == "DEBIT"
    ]
    assert [(m["lot"], m["credits"]) for m in debit["lots"]] == [(lot["lot"], -2)]

    # Canceled inside the window: back to that lot
    canceled = _ok(stack.call("POST", f"/sessions/{session['id']}/cancel", member, json={}))
    assert canceled["refund"]["credits"] == 2
    shown = _ok(stack.call("GET", account, member))
    assert [(x["credits_left"], x["expires_at"]) for x in shown["lots"]] == [(3, ends), (5, None)]

    # Three days on, the sweep
    _ok(stack.call("POST", "/_local/clock", json={"advance_seconds": 3 * 86400}))
    [result] = _ok(stack.call("POST", "/_local/sweep"))["results"]
    assert result["credits"]["expired_lots"] >= 1

    # One EXPIRE of 3, naming the lot; a balance of 5
    ledger = _ok(stack.call("GET", f"{account}/ledger", member))["items"]
    expired = [e for e in ledger if e["kind"] == "EXPIRE"]
    assert [(e["credits"], e["balance_after"], e["actor"]) for e in expired] == [(-3, 5, None)]
    assert [(m["lot"], m["credits"], m["expires_at"]) for m in expired[0]["lots"]] == [
        (lot["lot"], -3, ends)
    ]
    shown = _ok(stack.call("GET", account, member))
    assert (shown["balance"], shown["expiring_soon"]) == (5, None)
    assert [(x["credits_left"], x["expires_at"]) for x in shown["lots"]] == [(5, None)]

    # A second sweep finds nothing more to expire
    [again] = _ok(stack.call("POST", "/_local/sweep"))["results"]
    assert again["credits"]["expired_lots"] == 0
    ledger = _ok(stack.call("GET", f"{account}/ledger", member))["items"]
    assert [e["kind"] for e in ledger].count("EXPIRE") == 1

    # Both emails: the credits expire soon (told at her first booking), then have expired;
    # on her own clock (Paris), each once
    mail = [m for m in _ok(stack.call("GET", "/_local/mailbox"))["items"] if address in m["to"]]
    soon = [m for m in mail if m["subject"].startswith("1 credit expires on")]
    gone = [m for m in mail if m["subject"] == "3 credits expired"]
    assert len(soon) == len(gone) == 1, [m["subject"] for m in mail]
    assert "(Europe/Paris)" in soon[0]["text"] and "(Europe/Paris)" in gone[0]["text"]
    assert "The balance is now 5 credits." in gone[0]["text"]
    # (a long header is folded onto a second line: unfolded, as RFC 5322 reads it)
    changes = [m["headers"]["X-Coaching-Change"].replace("\r\n", "") for m in (*soon, *gone)]
    assert [c.strip().split("#")[1] for c in changes] == ["CREDITS_EXPIRING", "CREDITS_EXPIRED"]
    assert all(c.strip().startswith(f"credits:personal-{member_id}:") for c in changes)

    # ... and the bus heard of the expiry
    events = _ok(stack.call("GET", "/_local/events"))["items"]
    [on_the_bus] = [
        e
        for e in events
        if e["detail_type"] == "credits.expired"
        and e["detail"]["account_id"] == f"personal-{member_id}"
    ]
    assert (on_the_bus["detail"]["credits"], on_the_bus["detail"]["lot"]) == (-3, lot["lot"])
