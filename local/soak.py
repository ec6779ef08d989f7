"""A soak of `make run`'s stack: clients at work while faults strike, then every invariant checked.

Eight clients (members, with their coaches, support and a group's admin behind them) book,
cancel, move, refund, grant, answer requests and mark no-shows over HTTP for a stated time, each
write with an Idempotency-Key: a 502 (an armed fault killed the function) is retried with the
same key, and now and then a request that succeeded is sent again, which must replay its first
answer. Meanwhile faults are armed at random (death before or after the commit, on random
functions), the clock moves on and the sweep runs. Then the clock jumps past everything, the
sweep runs until it is done, and the soak checks, over HTTP:

- every account's balance is the sum of its entries, each ``balance_after`` the running sum,
  none below zero, and the sum of its lots' ``credits_left``;
- every lot's credits are spent, expired once (by one ``EXPIRE``, after which nothing moves it)
  or still there; no booking spent from a lot that had expired; no session got back more for a
  lot than it took from it; and once the final sweep is done, no expired lot holds credits;
- no session gave back more than it took, and its ledger entries agree with it;
- no two sessions of one coach that kept their time hold the same slot;
- every booking request that lapsed was released, and no request is left waiting;
- each change mailed each recipient once (``X-Coaching-Change`` on every email), and put one
  domain event on the bus (by event id, and by session, version and type);
- no answer was a 5xx but the 502s of the faults armed.

    python -m local.soak --base http://127.0.0.1:3000 --seconds 600   # against a running stack
    python -m local.soak --seconds 60                                  # starts its own stack

It prints the counts and exits 1 when any invariant fails. ``make soak`` runs it for 10 minutes;
``make test`` runs a short one (tests/e2e/test_soak.py); ``make bench`` prints its figures.
"""

import argparse
import random
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

import requests

from local import auth

FUNCTIONS = ("sessions", "cancel", "reschedule", "refund", "accounts")
"""The functions faults are armed for: every one that moves credits or holds time."""
CLIENTS = 8
SLOT = timedelta(minutes=15)


@dataclass
class Tally:
    """What happened, counted across the clients (each count under a lock)."""

    answers: Counter[str] = field(default_factory=Counter)
    actions: Counter[str] = field(default_factory=Counter)
    retried_502: int = 0
    replays: int = 0
    faults_armed: int = 0
    clock_moves: int = 0
    sweeps: int = 0
    chaos_unanswered: int = 0
    """Chaos's own calls that got no answer in time (the stack busy): counted, and chaos goes on."""
    violations: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answered(self, method: str, status: int) -> None:
        with self.lock:
            self.answers[f"{method} {status}"] += 1

    def did(self, action: str) -> None:
        with self.lock:
            self.actions[action] += 1

    def violation(self, what: str) -> None:
        with self.lock:
            self.violations.append(what)


@dataclass
class People:
    members: list[str]
    coaches: list[str]
    services: list[dict[str, Any]]
    group_id: str
    admin: str = "soak-admin"
    support: str = "soak-support"


class Client:
    """HTTP to the stack, tokens minted for whoever is asked for, 5xx watched."""

    def __init__(self, base: str, tally: Tally) -> None:
        self.base, self.tally = base, tally
        self.http = requests.Session()
        self._tokens: dict[str, str] = {}

    def token(self, sub: str, role: str) -> str:
        found = self._tokens.get(sub)
        if found is None:
            found = auth.mint(sub, role, email=f"{sub}@example.com", name=sub.title())
            self._tokens[sub] = found
        return found

    def call(
        self,
        method: str,
        path: str,
        who: tuple[str, str] | None = None,
        timeout: float = 60,
        **kwargs: Any,
    ) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if who is not None:
            headers["Authorization"] = f"Bearer {self.token(*who)}"
        answer = self.http.request(
            method, self.base + path, headers=headers, timeout=timeout, **kwargs
        )
        self.tally.answered(method, answer.status_code)
        if answer.status_code >= 500 and answer.status_code != 502:
            self.tally.violation(f"{method} {path} answered {answer.status_code}: {answer.text}")
        return answer

    def write(
        self, method: str, path: str, who: tuple[str, str], body: dict[str, Any]
    ) -> requests.Response:
        """A keyed write: retried with its key while a fault kills it (502); sometimes sent once
        more after it answered, which must replay that answer byte for byte."""
        key = uuid.uuid4().hex
        answer = self._until_answered(method, path, who, body, key)
        if answer.status_code < 400 and random.random() < 0.1:
            again = self._until_answered(method, path, who, body, key)
            with self.tally.lock:
                self.tally.replays += 1
            if (again.status_code, again.text) != (answer.status_code, answer.text):
                self.tally.violation(f"{method} {path}: a replay answered otherwise")
        return answer

    def _until_answered(
        self, method: str, path: str, who: tuple[str, str], body: dict[str, Any], key: str
    ) -> requests.Response:
        """Sent with its key until a function answers (a fault's 502 is no answer)."""
        for _ in range(8):
            answer = self.call(method, path, who, json=body, headers={"Idempotency-Key": key})
            if answer.status_code != 502:
                return answer
            with self.tally.lock:
                self.tally.retried_502 += 1
        return answer

    def pages(self, path: str, who: tuple[str, str], **query: str) -> Iterator[dict[str, Any]]:
        token: str | None = None
        while True:
            params = {**query, "limit": "100"} | ({"next_token": token} if token else {})
            page = self.call("GET", path, who, params=params)
            page.raise_for_status()
            body = page.json()
            yield from body["items"]
            token = body["next_token"]
            if token is None:
                return


def _now(client: Client) -> datetime:
    return datetime.fromisoformat(client.call("GET", "/_local/clock").json()["now"])


def _grid(moment: datetime) -> datetime:
    moment = moment.replace(second=0, microsecond=0)
    return moment + timedelta(minutes=(-moment.minute) % 15)


def set_up(client: Client, tag: str) -> People:
    """Three coaches open around the clock, each with a service of its own kind; members with
    credits of their own and a group's."""
    coaches = [f"soak-coach-{tag}-{n}" for n in range(3)]
    members = [f"soak-member-{tag}-{n}" for n in range(CLIENTS)]
    everywhere = [
        {"day": day, "start": "00:00", "end": "24:00"}
        for day in ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
    ]
    kinds: list[dict[str, Any]] = [
        {"session_types": [{"minutes": 60, "credits": 3}, {"minutes": 30, "credits": 2}]},
        {
            "session_types": [{"minutes": 45, "credits": 2}],
            "requires_approval": True,
            "request_ttl_hours": 6,
        },
        {
            "session_types": [{"minutes": 50, "credits": 4}],
            "refund_tiers": [
                {"hours_before": 48, "percent": 100},
                {"hours_before": 6, "percent": 50},
            ],
            "max_reschedules": 2,
        },
    ]
    services = []
    for coach, kind in zip(coaches, kinds, strict=True):
        who = (coach, "coach")
        hours = client.call("PUT", "/coaches/me/availability", who, json={"weekly": everywhere})
        hours.raise_for_status()
        made = client.call("POST", "/services", who, json={"name": f"Soak {coach}", **kind})
        made.raise_for_status()
        services.append(made.json())
    support = ("soak-support", "support")
    admin = ("soak-admin", "admin")
    group = client.call(
        "POST", "/accounts", admin, json={"name": f"Soak team {tag}", "member_ids": members}
    )
    group.raise_for_status()
    group_id = group.json()["id"]
    client.call(
        "POST", f"/accounts/{group_id}/grants", admin, json={"credits": 2000}
    ).raise_for_status()
    for member in members:
        for grant in ({"credits": 300}, {"credits": 20, "valid_days": 1}):
            granted = client.call(
                "POST", f"/accounts/personal-{member}/grants", support, json=grant
            )
            granted.raise_for_status()
    return People(members=members, coaches=coaches, services=services, group_id=group_id)


class Member:
    """One client: a member who books and changes their sessions, and the staff of those
    sessions doing what staff do to them."""

    def __init__(self, client: Client, people: People, me: str, rng: random.Random) -> None:
        self.client, self.people, self.me, self.rng = client, people, me, rng
        self.sessions: list[dict[str, Any]] = []

    def step(self) -> None:
        action = self.rng.choices(
            ["book", "cancel", "move", "answer", "refund", "no-show", "grant", "read"],
            weights=[30, 14, 16, 10, 8, 6, 4, 12],
        )[0]
        getattr(self, action.replace("-", "_"))()
        self.client.tally.did(action)

    def _mine(self) -> dict[str, Any] | None:
        return self.rng.choice(self.sessions) if self.sessions else None

    def _coach_of(self, session: dict[str, Any]) -> tuple[str, str]:
        return (session["coach"]["id"], "coach")

    def _remember(self, answer: requests.Response) -> None:
        if answer.status_code in (200, 201, 202):
            body = answer.json()
            session = body.get("session", body)
            self.sessions = [s for s in self.sessions if s["id"] != session["id"]] + [session]

    def book(self) -> None:
        service = self.rng.choice(self.people.services)
        kind = self.rng.choice(service["session_types"])
        start = _grid(_now(self.client) + timedelta(hours=self.rng.uniform(2, 240)))
        body: dict[str, Any] = {
            "service_id": service["id"],
            "session_type_id": kind["id"],
            "start": start.isoformat(),
        }
        if self.rng.random() < 0.25:
            body["account_id"] = self.people.group_id
        self._remember(self.client.write("POST", "/sessions", (self.me, "member"), body))

    def cancel(self) -> None:
        session = self._mine()
        if session is not None:
            who = (self.me, "member") if self.rng.random() < 0.7 else self._coach_of(session)
            path = f"/sessions/{session['id']}/cancel"
            self._remember(self.client.write("POST", path, who, {"reason": "Soak"}))

    def move(self) -> None:
        session = self._mine()
        if session is not None:
            who = (self.me, "member") if self.rng.random() < 0.6 else self._coach_of(session)
            start = _grid(_now(self.client) + timedelta(hours=self.rng.uniform(1, 240)))
            path = f"/sessions/{session['id']}/reschedule"
            self._remember(self.client.write("POST", path, who, {"start": start.isoformat()}))

    def answer(self) -> None:
        session = self._mine()
        if session is not None:
            what = self.rng.choice(
                ["approve", "decline", "reschedule-request/approve", "reschedule-request/decline"]
            )
            path = f"/sessions/{session['id']}/{what}"
            self._remember(self.client.write("POST", path, self._coach_of(session), {}))

    def refund(self) -> None:
        session = self._mine()
        if session is not None:
            who = (
                self._coach_of(session)
                if self.rng.random() < 0.5
                else (self.people.support, "support")
            )
            body = {"credits": 1} if self.rng.random() < 0.5 else {}
            self._remember(
                self.client.write("POST", f"/sessions/{session['id']}/refund", who, body)
            )

    def no_show(self) -> None:
        session = self._mine()
        if session is not None:
            party = self.rng.choice(["MEMBER", "COACH"])
            path = f"/sessions/{session['id']}/no-show"
            self._remember(
                self.client.write("POST", path, self._coach_of(session), {"party": party})
            )

    def grant(self) -> None:
        account = f"personal-{self.me}" if self.rng.random() < 0.7 else self.people.group_id
        who = (self.people.support, "support")
        if account == self.people.group_id:
            who = (self.people.admin, "admin")
        body: dict[str, Any] = {"credits": 5}
        if self.rng.random() < 0.6:  # a package that lapses while the soak runs
            body["valid_days"] = self.rng.randint(1, 3)
        self.client.write("POST", f"/accounts/{account}/grants", who, body)

    def read(self) -> None:
        session = self._mine()
        if session is not None:
            self.client.call("GET", f"/sessions/{session['id']}", (self.me, "member"))


SWEEP_TIMEOUT = 420
"""Seconds to wait for ``POST /_local/sweep``: it runs both sweep functions, one after the other,
and each may use its whole timeout (120 s in template.yaml) and wait for the invocations ahead
of it."""


READ_ALL_TIMEOUT = 900
"""Seconds to wait for the whole mailbox or event log at the end."""


def chaos(client: Client, stop: threading.Event, rng: random.Random) -> None:
    """Faults armed at random, the clock moved on, the sweep run, until ``stop``."""
    while not stop.wait(rng.uniform(0.3, 1.5)):
        try:
            _strike(client, rng)
        except requests.RequestException:
            with client.tally.lock:
                client.tally.chaos_unanswered += 1


def _strike(client: Client, rng: random.Random) -> None:
    """One of chaos's moves."""
    roll = rng.random()
    if roll < 0.55:
        fault = {
            "function": rng.choice(FUNCTIONS),
            "when": rng.choice(["before_commit", "after_commit"]),
            "count": 1,
        }
        if client.call("POST", "/_local/faults", json=fault).status_code == 200:
            with client.tally.lock:
                client.tally.faults_armed += 1
    elif roll < 0.8:
        seconds = rng.randint(600, 6 * 3600)
        client.call("POST", "/_local/clock", json={"advance_seconds": seconds})
        with client.tally.lock:
            client.tally.clock_moves += 1
    else:
        client.call("POST", "/_local/sweep", timeout=SWEEP_TIMEOUT)
        with client.tally.lock:
            client.tally.sweeps += 1


# --- the invariants ----------------------------------------------------------------------------


def _held_until(end: datetime) -> datetime:
    past = timedelta(minutes=end.minute % 15, seconds=end.second)
    return end if not past else end - past + SLOT


def _at(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))


def _lots_violations(
    account_id: str, account: dict[str, Any], entries: list[dict[str, Any]], now: datetime
) -> list[str]:
    """The account's lots hold its balance; each lot's moves, replayed in order, add up to what
    it holds, never below zero, expired once and then never moved; no booking spent from an
    expired lot; after the final sweep, no expired lot holds credits."""
    found: list[str] = []
    lots = {lot["lot"]: lot for lot in account["lots"]}
    if sum(lot["credits_left"] for lot in lots.values()) != account["balance"]:
        found.append(f"{account_id}: its lots do not add up to its balance")
    running = _replay_lots(account_id, entries, found)
    for lot, credits in running.items():
        held = lots[lot]["credits_left"] if lot in lots else 0
        if held != credits:
            found.append(f"{account_id}: lot {lot} holds {held}, its moves add up to {credits}")
    for lot in lots.values():
        ends = _at(lot["expires_at"])
        if ends is not None and ends <= now and lot["credits_left"] > 0:
            found.append(f"{account_id}: lot {lot['lot']} expired and still holds credits")
    return found


def _replay_lots(
    account_id: str, entries: list[dict[str, Any]], found: list[str]
) -> dict[int, int]:
    """Each lot's moves replayed in order: what each lot holds by them. What breaks a rule on
    the way (an entry whose lots do not add up to it, a lot below zero or moved once expired,
    a booking spent from an expired lot) is added to ``found``."""
    running: dict[int, int] = defaultdict(int)
    gone: set[int] = set()
    for entry in entries:
        if sum(m["credits"] for m in entry["lots"]) != entry["credits"]:
            found.append(f"{account_id}: entry {entry['id']}'s lots do not add up to it")
        at = _at(entry["at"])
        for move in entry["lots"]:
            lot, ends = move["lot"], _at(move["expires_at"])
            if lot in gone:
                found.append(f"{account_id}: lot {lot} moved after it expired ({entry['id']})")
            running[lot] += move["credits"]
            if running[lot] < 0:
                found.append(f"{account_id}: lot {lot} below zero at {entry['id']}")
            if entry["kind"] == "DEBIT" and ends is not None and at is not None and ends <= at:
                found.append(f"{account_id}: {entry['id']} spent from lot {lot}, expired")
            if entry["kind"] == "EXPIRE":
                if running[lot] != 0:
                    found.append(f"{account_id}: lot {lot} expired only in part")
                gone.add(lot)
    return running


def _returns_violations(session_id: str, moved: list[dict[str, Any]]) -> list[str]:
    """No lot got back more for a session than the session took from it (credits given back
    into a new lot count for the lot they replace)."""
    taken: dict[int, int] = defaultdict(int)
    back: dict[int, int] = defaultdict(int)
    for entry in moved:
        for move in entry["lots"]:
            if entry["kind"] == "DEBIT":
                taken[move["lot"]] -= move["credits"]
            elif entry["kind"] in ("REFUND", "RELEASE"):
                back[move["replaces"] if move["replaces"] is not None else move["lot"]] += move[
                    "credits"
                ]
    return [
        f"session {session_id}: lot {lot} got {credits} back, gave {taken[lot]}"
        for lot, credits in back.items()
        if credits > taken[lot]
    ]


def check(client: Client, people: People) -> list[str]:
    """Every invariant, over HTTP, once nothing moves any more. What fails, in words."""
    tally = client.tally
    found: list[str] = []
    support = (people.support, "support")
    now = _now(client)
    sessions: dict[str, dict[str, Any]] = {}
    for member in people.members:
        for view in ("upcoming", "past"):
            for session in client.pages("/sessions", support, member_id=member, view=view):
                sessions[session["id"]] = session
    accounts = [f"personal-{m}" for m in people.members] + [people.group_id]
    entries_of_session: dict[str, list[dict[str, Any]]] = defaultdict(list)
    expiries = 0
    for account_id in accounts:
        entries = _account_entries(client, support, account_id, now, found)
        expiries += sum(e["kind"] == "EXPIRE" for e in entries)
        for entry in entries:
            if entry["session_id"]:
                entries_of_session[entry["session_id"]].append(entry)
    for session in sessions.values():
        found += _session_violations(session, entries_of_session[session["id"]])
    found += _overlap_violations(sessions.values())
    # After ten minutes the mailbox and the event log hold thousands of items, each parsed as
    # it is read: minutes, not seconds.
    mail = client.call("GET", "/_local/mailbox", timeout=READ_ALL_TIMEOUT).json()["items"]
    events = client.call("GET", "/_local/events", timeout=READ_ALL_TIMEOUT).json()["items"]
    found += _repeat_violations(mail, events)
    with tally.lock:
        found += tally.violations
    tally.answers["sessions checked"] = len(sessions)
    tally.answers["lot expiries checked"] = expiries
    tally.answers["emails checked"] = len(mail)
    tally.answers["events checked"] = len(events)
    return found


def _account_entries(
    client: Client, support: tuple[str, str], account_id: str, now: datetime, found: list[str]
) -> list[dict[str, Any]]:
    """The account's ledger, in order, each entry following the one before and the balance
    their sum, its lots holding what their moves say (what fails is added to ``found``)."""
    account = client.call("GET", f"/accounts/{account_id}", support).json()
    # Entry ids are "{account}:{number}"; numbered 1, 2, 3 ... in the order they were made.
    entries = sorted(
        client.pages(f"/accounts/{account_id}/ledger", support),
        key=lambda e: int(e["id"].rsplit(":", 1)[1]),
    )
    running = 0
    for number, entry in enumerate(entries, start=1):
        running += entry["credits"]
        if entry["id"] != f"{account_id}:{number}" or entry["balance_after"] != running:
            found.append(f"{account_id}: entry {entry['id']} does not follow the one before")
        if running < 0:
            found.append(f"{account_id}: below zero after entry {entry['id']}")
    if account["balance"] != running:
        found.append(f"{account_id}: balance {account['balance']}, entries add up to {running}")
    found += _lots_violations(account_id, account, entries, now)
    return entries


def _session_violations(session: dict[str, Any], moved: list[dict[str, Any]]) -> list[str]:
    """One debit of what the session cost, given back no more than it cost and as the ledger
    says; nothing left waiting after the final sweep; an expired request's credits released."""
    found = []
    debits = [e["credits"] for e in moved if e["kind"] == "DEBIT"]
    back = sum(e["credits"] for e in moved if e["kind"] in ("REFUND", "RELEASE"))
    if debits != [-session["credits"]]:
        found.append(f"session {session['id']}: debits {debits} for {session['credits']}")
    if not 0 <= session["refund"]["credits"] <= session["credits"]:
        found.append(f"session {session['id']}: refunded {session['refund']['credits']}")
    if back != session["refund"]["credits"]:
        found.append(
            f"session {session['id']}: the ledger gave back {back}, "
            f"the session {session['refund']['credits']}"
        )
    if session["status"] == "REQUESTED" or session["reschedule_request"] is not None:
        found.append(f"session {session['id']}: still waiting after the final sweep")
    if session["status"] == "EXPIRED" and session["refund"]["credits"] != session["credits"]:
        found.append(f"session {session['id']}: expired without its credits released")
    return found + _returns_violations(session["id"], moved)


def _overlap_violations(sessions: Iterable[dict[str, Any]]) -> list[str]:
    """No two sessions that keep their time hold the same coach's time."""
    found = []
    kept = defaultdict(list)
    for session in sessions:
        if session["status"] in ("SCHEDULED", "COMPLETED", "NO_SHOW"):
            start = datetime.fromisoformat(session["start"])
            end = _held_until(datetime.fromisoformat(session["end"]))
            kept[session["coach"]["id"]].append((start, end, session["id"]))
    for coach, held in kept.items():
        held.sort()
        for (_, end, first), (start, _, second) in pairwise(held):
            if start < end:
                found.append(f"coach {coach}: {first} and {second} hold the same time")
    return found


def _repeat_violations(mail: list[dict[str, Any]], events: list[dict[str, Any]]) -> list[str]:
    """No email sent twice to the same people about the same change; no event, nor a session's
    change, on the bus twice."""
    mailed = Counter(
        (m["headers"].get("X-Coaching-Change"), tuple(m["to"])) for m in mail if m["headers"]
    )
    found = [f"{change} mailed {times} times" for change, times in mailed.items() if times > 1]
    ids = Counter(e["detail"].get("event_id") for e in events)
    found += [f"event {i} on the bus {n} times" for i, n in ids.items() if n > 1]
    changes = Counter(
        (e["detail"].get("session_id"), e["detail"].get("version"), e["detail_type"])
        for e in events
        if e["detail"].get("session_id")
    )
    found += [f"{c} published {n} times" for c, n in changes.items() if n > 1]
    return found


def soak(base: str, seconds: float, seed: int = 7) -> tuple[Tally, list[str]]:
    """Run the clients and the chaos for ``seconds`` against the stack at ``base``, then check."""
    tally = Tally()
    setup = Client(base, tally)
    tag = uuid.uuid4().hex[:6]
    people = set_up(setup, tag)
    stop = threading.Event()
    rng = random.Random(seed)
    members = [
        Member(Client(base, tally), people, me, random.Random(rng.random()))
        for me in people.members
    ]

    def work(member: Member) -> None:
        while not stop.is_set():
            member.step()

    threads = [threading.Thread(target=work, args=(m,), daemon=True) for m in members]
    threads.append(
        threading.Thread(
            target=chaos,
            args=(Client(base, tally), stop, random.Random(seed)),
            daemon=True,
        )
    )
    for thread in threads:
        thread.start()
    stop.wait(seconds)
    stop.set()
    for thread in threads:
        thread.join(timeout=120)
    setup.call("DELETE", "/_local/faults")
    setup.call("POST", "/_local/clock", json={"advance_seconds": 90 * 86400})
    for _ in range(10):  # a sweep stops when its time is up and resumes on the next run
        results = setup.call("POST", "/_local/sweep", timeout=SWEEP_TIMEOUT).json()["results"]
        if all(r.get("finished") for r in results):
            break
    return tally, check(setup, people)


@contextmanager
def own_stack() -> Iterator[str]:
    """A stack of its own (``python -m local.stack``) on a free port, stopped afterwards."""
    import signal
    import socket
    import subprocess
    import sys

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "local.stack", "--port", str(port), "--no-seed"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(400):
            try:
                if requests.get(base + "/_local/health", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.3)
        yield base
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)


def report(tally: Tally, violations: list[str], seconds: float) -> str:
    requests_made = sum(
        n for k, n in tally.answers.items() if k.split()[0] in ("GET", "POST", "PUT", "DELETE")
    )
    lines = [
        f"soak: {seconds:.0f} s, {CLIENTS} clients, {requests_made} requests "
        f"({requests_made / max(seconds, 1):.0f}/s)",
        "actions: " + ", ".join(f"{k} {n}" for k, n in sorted(tally.actions.items())),
        "answers: " + ", ".join(f"{k} {n}" for k, n in sorted(tally.answers.items())),
        f"faults armed {tally.faults_armed}, 502s retried {tally.retried_502}, "
        f"replays {tally.replays}, clock moves {tally.clock_moves}, sweeps {tally.sweeps}, "
        f"chaos calls unanswered {tally.chaos_unanswered}",
        f"invariant violations: {len(violations)}",
        *[f"  - {v}" for v in violations[:50]],
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--base", help="a running stack (default: start one)")
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--seed", type=int, default=7)
    options = parser.parse_args(argv)
    started = time.monotonic()
    if options.base:
        tally, violations = soak(options.base, options.seconds, options.seed)
    else:
        with own_stack() as base:
            tally, violations = soak(base, options.seconds, options.seed)
    print(report(tally, violations, time.monotonic() - started), flush=True)
    return 1 if violations else 0


if __name__ == "__main__":
    raise SystemExit(main())
