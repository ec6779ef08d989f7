"""``make run``: the whole system on this machine, in the foreground, until Ctrl-C.

Embedded AWS (moto) with the template's tables, streams, queues, SES, event bus and its rules;
the HTTP API on http://127.0.0.1:3000 (``PORT`` to change); the streams and queues feeding the
functions the template attaches to them (notify, publish, deliver); the scheduled functions on
their schedules (the sweeps, webhook retries); demo data; and the local routes of docs/api.md
(health, mailbox, events, clock, sweep, webhook retries, faults, and the demo page's token).

Webhooks may go to this machine's loopback addresses here, over http too
(``WEBHOOKS_ALLOW_LOOPBACK``, on unless the environment sets it to ``false``), so that a
receiver on 127.0.0.1 can be tried; in AWS only https URLs with public addresses are allowed.
"""

import argparse
import faulthandler
import json
import logging
import os
import signal
import sys
import threading
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request

from local import auth, lambda_runtime, moto_index, time_travel
from local.aws import EmbeddedAws
from local.aws import start as start_aws
from local.event_log import EventLog
from local.gateway import Gateway
from local.lambdas import LambdaService
from local.mailbox import Mailbox
from local.queues import QueuePoller
from local.scheduler import Scheduler
from local.seed import USERS
from local.seed import seed as seed_demo
from local.streams import StreamPoller

log = logging.getLogger("local.stack")


class Stack:
    def __init__(self, host: str, port: int, seed: bool = True) -> None:
        self.host, self.port, self.should_seed = host, port, seed
        self.ready = threading.Event()
        self.seeded: dict[str, Any] = {}

    # --- start and stop ---------------------------------------------------------------------

    def start(self) -> None:
        # The functions read time through the layer's clock: here one that /_local/clock moves.
        self.clock = time_travel.install()
        self.aws: EmbeddedAws = start_aws(self.host)
        os.environ["AWS_ENDPOINT_URL"] = self.aws.server.url
        os.environ.update(self.aws.function_environment())
        lambda_runtime.use_zone_rules_of(os.environ)  # the template's PYTHONTZPATH: pinned zones
        # No X-Ray daemon or CloudWatch here; keep the console for what matters.
        os.environ["POWERTOOLS_TRACE_DISABLED"] = "true"
        os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
        os.environ["POWERTOOLS_LOG_LEVEL"] = os.environ.get("LOG_LEVEL", "WARNING")
        # The local stack's one relaxation: webhooks may go to a receiver on this machine.
        os.environ.setdefault("WEBHOOKS_ALLOW_LOOPBACK", "true")

        from coaching import runtime  # after the environment points at the embedded AWS

        runtime.reset()
        self.lambdas = LambdaService(self.aws.loaded)
        self.lambdas.load_all()
        # Every function shares this one client (one process), so its hooks see every commit.
        self.faults = self.lambdas.faults
        self.faults.install(runtime.dynamodb())
        self.mailbox = Mailbox(auth.STATE / "mailbox")
        # Streams first, then queues: draining them in this order (the local routes do) carries
        # a change through its domain events to the webhooks they cause.
        self.pollers: list[StreamPoller | QueuePoller] = [
            StreamPoller(self.aws, self.lambdas, function, props, after_batch=self.mailbox.collect)
            for function, props in self.lambdas.with_event_type("DynamoDB")
        ]
        self.pollers += [
            QueuePoller(self.aws, self.lambdas, function, props)
            for function, props in self.lambdas.with_event_type("SQS")
        ]
        self.scheduler = Scheduler(self.aws, self.lambdas)
        gateway = Gateway(self.lambdas, auth.Verifier(), self._local_routes())
        self.server = make_server(self.host, self.port, gateway, threaded=True)
        self.port = self.server.server_port
        self.server_thread = threading.Thread(
            target=self.server.serve_forever, name="gateway", daemon=True
        )
        self.server_thread.start()
        if self.should_seed:
            from coaching import clock

            self.seeded = seed_demo(runtime.storage(), clock.now())
        for poller in self.pollers:
            poller.start()
        for function, _every in self.scheduler.jobs:
            self.scheduler.run_now(function)  # tidy what the demo data left stale, as AWS would
        for poller in self.pollers:
            poller.drain()
        self.mailbox.start_after_what_is_there()  # the mailbox shows what the user causes
        self.event_log = EventLog(self.aws)  # and so does the event log: subscribed from here
        self.scheduler.start()
        self.ready.set()

    def stop(self) -> None:
        for poller in self.pollers:
            poller.stop(wait=False)  # all wind down while the scheduler finishes its run
        self.scheduler.stop()
        for poller in self.pollers:
            poller.stop()
        self.server.shutdown()
        self.server.server_close()
        self.aws.server.stop()

    # --- /_local routes ---------------------------------------------------------------------

    def _local_routes(self) -> dict[tuple[str, str], Any]:
        return {
            ("GET", "/_local/health"): self._health,
            ("GET", "/_local/mailbox"): self._mailbox,
            ("GET", "/_local/events"): self._events,
            ("GET", "/_local/clock"): self._clock,
            ("POST", "/_local/clock"): self._advance,
            ("POST", "/_local/sweep"): self._sweep,
            ("POST", "/_local/webhooks/retries"): self._webhook_retries,
            ("GET", "/_local/faults"): self._faults,
            ("POST", "/_local/faults"): self._arm,
            ("DELETE", "/_local/faults"): self._clear_faults,
            ("GET", "/_local/token"): self._token,
        }

    def _health(self, _: Request) -> tuple[int, Any]:
        if not self.ready.is_set():
            return 503, {"status": "starting"}
        return 200, {"status": "ok", "seeded": self.seeded}

    def _mailbox(self, _: Request) -> tuple[int, Any]:
        for poller in self.pollers:
            poller.drain()  # emails caused by changes made so far are in the answer
        return 200, {"items": self.mailbox.collect()}

    def _events(self, _: Request) -> tuple[int, Any]:
        for poller in self.pollers:
            poller.drain()  # events of the changes made so far are in the answer
        return 200, {"items": self.event_log.collect()}

    def _clock(self, _: Request) -> tuple[int, Any]:
        from coaching import clock

        return 200, {
            "now": clock.now().isoformat(),
            "offset_seconds": self.clock.offset().total_seconds(),
        }

    def _advance(self, request: Request) -> tuple[int, Any]:
        try:  # JSON whatever the Content-Type says: `curl -d` sends it as a form
            body = json.loads(request.get_data() or b"{}")
        except ValueError:
            body = None
        seconds = body.get("advance_seconds") if isinstance(body, dict) else None
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
            return 422, {"error": "advance_seconds must be a number of seconds, 0 or more"}
        self.clock.advance(seconds)
        return self._clock(request)

    def _scheduled(self, name: str) -> list[Any]:
        """Run the scheduled function ``name`` (a template logical id) now; what it answered."""
        return [self.scheduler.run_now(f) for f, _every in self.scheduler.jobs if f.name == name]

    def _webhook_retries(self, _: Request) -> tuple[int, Any]:
        (result,) = self._scheduled("DeliverFunction")
        for poller in self.pollers:
            poller.drain()
        return 200, {"result": result}

    def _sweep(self, _: Request) -> tuple[int, Any]:
        """One run of each sweep, now: the sessions' answer with the credits' under ``credits``
        and ``finished`` for both, as docs/api.md says (in AWS they are two functions on two
        schedules, SweepFunction and CreditExpiryFunction)."""
        sessions = self._scheduled("SweepFunction")
        credits = self._scheduled("CreditExpiryFunction")
        results = [
            {**swept, "credits": expired, "finished": swept["finished"] and expired["finished"]}
            for swept, expired in zip(sessions, credits, strict=True)
        ]
        for poller in self.pollers:
            poller.drain()
        return 200, {"results": results}

    def _faults(self, _: Request) -> tuple[int, Any]:
        return 200, {"items": self.faults.armed()}

    def _arm(self, request: Request) -> tuple[int, Any]:
        try:
            body = json.loads(request.get_data() or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return 422, {"error": "the body must be a JSON object"}
        given: Any = body  # Faults.arm checks each value and refuses what it cannot use
        try:
            self.faults.arm(given.get("function"), given.get("when"), given.get("count", 1))
        except ValueError as error:
            return 422, {"error": str(error)}
        return 200, {"items": self.faults.armed()}

    def _clear_faults(self, _: Request) -> tuple[int, Any]:
        self.faults.clear()
        return 200, {"items": []}

    def _token(self, request: Request) -> tuple[int, Any]:
        """A demo user's token: the demo page's picker (``/app/?as=demo-member``) signs in with
        it. Demo users only; this route, like every ``/_local`` one, is never deployed."""
        user = next((u for u in USERS if u.sub == request.args.get("as")), None)
        if user is None:
            return 422, {"error": f"as must be one of {', '.join(u.sub for u in USERS)}"}
        token = auth.mint(
            user.sub, user.role.value, email=user.email, name=user.name, zoneinfo=user.zoneinfo
        )
        return 200, {
            "token": token,
            "sub": user.sub,
            "role": user.role.value,
            "name": user.name,
            "expires_in": auth.TOKEN_LIFETIME_SECONDS,
        }

    # --- what to tell the user --------------------------------------------------------------

    def banner(self) -> str:
        base = f"http://{self.host}:{self.port}"
        lines = [
            "",
            "Coaching sessions backend is running locally.",
            f"  API        {base}",
            f"  Docs       {base}/docs   (OpenAPI: {base}/openapi.json)",
            f"  App        {base}/app/?as=demo-member   (or ?as=demo-coach: the screens)",
            f"  Mailbox    {base}/_local/mailbox   (and .eml files in {self.mailbox.folder})",
            f"  Events     {base}/_local/events    (what reached the event bus)",
            f'  Clock      {base}/_local/clock     (POST {{"advance_seconds": 3600}} to move on)',
            f"  Sweep      POST {base}/_local/sweep",
            f"  Retries    POST {base}/_local/webhooks/retries   (webhook retries that are due)",
            f"  Webhooks   to http://127.0.0.1 and localhost too (WEBHOOKS_ALLOW_LOOPBACK="
            f"{os.environ.get('WEBHOOKS_ALLOW_LOOPBACK', 'true')})",
            f"  Faults     {base}/_local/faults    (POST "
            '{"function": "cancel", "when": "after_commit", "count": 1} to kill the next cancel)',
            f"  Embedded AWS (moto) at {self.aws.server.url}",
            "",
            "Demo users (tokens valid for one hour; mint more with local/token --sub ID --role R):",
        ]
        for user in USERS:
            token = auth.mint(
                user.sub, user.role.value, email=user.email, name=user.name, zoneinfo=user.zoneinfo
            )
            lines += [f"  {user.role.value:<8} {user.sub}", f"    {token}"]
        if self.seeded:
            sessions = self.seeded["sessions"]
            lines += [
                "",
                "Try it (as the demo member):",
                f"  export TOKEN=$(local/token --sub {USERS[0].sub} --role member)",
                f"  curl -s -X POST {base}/sessions/{sessions['upcoming_refundable']}/cancel \\",
                "       -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' \\",
                '       -d \'{"reason": "Something came up"}\'',
                f"  curl -s {base}/_local/mailbox",
            ]
        return "\n".join(lines) + "\n\nCtrl-C stops everything.\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    parser.add_argument("--no-seed", action="store_true", help="start with empty tables")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request is noise

    # A query reads the partition it names, not the whole table: a stack that has run for a
    # while answers as fast as a new one (same answers: tests/integration/test_moto_index.py).
    moto_index.install()
    stack = Stack(args.host, args.port, seed=not args.no_seed)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    # `kill -USR1` prints every thread's stack: what a stack that will not stop is doing.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    stack.start()
    print(stack.banner(), flush=True)
    # Wait in short steps: Python runs a signal's handler in the main thread only, when it next
    # runs bytecode. A Ctrl-C that the kernel handed to another thread left a main thread asleep
    # in one long wait with the handler never run (every thread idle: seen in a SIGUSR1 dump).
    while not stopping.wait(0.2):
        pass
    print("Stopping...", flush=True)
    stack.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()
