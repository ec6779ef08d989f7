"""``python -m bench`` (``make bench``): measure, and print the figures as Markdown tables.

Progress goes to stderr; the tables go to stdout. The handlers' own log lines and metrics
(which Lambda would send to CloudWatch) are written, as in Lambda, but to /dev/null.
"""

import argparse
import gc
import os
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TextIO

from bench import env
from bench.report import Section

SECTIONS = (
    "coldstart",
    "api",
    "notify",
    "sweep",
    "expiry",
    "slots",
    "load",
    "memory",
    "local",
    "webhooks",
    "package",
    "soak",
)


def _report_stream() -> TextIO:
    """The real stdout for the report; fd 1 itself goes to /dev/null for the handlers' logs."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    return os.fdopen(saved, "w", buffering=1)


def _runners(args: argparse.Namespace) -> dict[str, Callable[[], Section]]:
    from moto import mock_aws

    from bench import (
        api_ops,
        coldstart,
        expiry,
        load,
        local_stack,
        memory,
        notify,
        package,
        slots,
        soak,
        stack,
        sweep,
        webhooks,
    )

    def api() -> Section:
        with mock_aws(), stack.tables(streams=False) as aws:
            return api_ops.run(aws, samples=args.samples)

    return {
        "coldstart": lambda: coldstart.run(runs=args.cold_runs),
        "api": api,
        "notify": lambda: notify.run(rounds=args.notify_rounds),
        "sweep": lambda: sweep.run(tuple(args.sweep_sizes)),
        "expiry": lambda: expiry.run(tuple(args.expiry_sizes)),
        "slots": lambda: slots.run(tuple(args.slots_history)),
        "load": load.run,
        "memory": memory.run,
        "local": local_stack.run,
        "webhooks": lambda: webhooks.run(grants=args.webhook_grants),
        "package": package.run,
        "soak": lambda: soak.run(args.soak_seconds),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="Measure the functions and print the figures."
    )
    parser.add_argument("--only", nargs="+", choices=SECTIONS, help="run only these sections")
    parser.add_argument("--samples", type=int, default=25, help="timed requests per operation")
    parser.add_argument("--cold-runs", type=int, default=7, help="interpreters per cold start")
    parser.add_argument("--notify-rounds", type=int, default=3, help="timed stream batches")
    parser.add_argument(
        "--sweep-sizes",
        type=int,
        nargs="+",
        default=[1_000, 10_000, 100_000],
        help="fresh items in the table at each sweep",
    )
    parser.add_argument(
        "--expiry-sizes",
        type=int,
        nargs="+",
        default=[1_000, 10_000],
        help="accounts with a lot not yet due at each expiry sweep",
    )
    parser.add_argument(
        "--slots-history",
        type=int,
        nargs="+",
        default=[0, 1_000, 3_000],
        help="past sessions of the coach at each free-times measurement",
    )
    parser.add_argument(
        "--webhook-grants",
        type=int,
        default=100,
        help="grants made through the local stack for the webhooks' deliveries a second",
    )
    parser.add_argument(
        "--soak-seconds",
        type=float,
        default=120.0,
        help="how long the soak's clients work (`make soak` runs 600 s on its own)",
    )
    args = parser.parse_args(argv)

    env.configure_process()
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    out = _report_stream()
    machine = env.machine()
    started = time.perf_counter()
    load = os.getloadavg()
    out.write(
        f"# Benchmarks, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
        f"Machine: {machine['nproc']} CPUs ({machine['cpu']}), Python {machine['python']}; "
        f"moto {machine['moto']}, boto3 {machine['boto3']}, "
        f"Powertools {machine['powertools']}. Load average at start: "
        f"{load[0]:.2f}.\n\n"
    )

    runners = _runners(args)
    chosen = [name for name in SECTIONS if not args.only or name in args.only]
    sections: list[tuple[str, Section]] = []
    failed: list[str] = []
    for name in chosen:
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        section_started = time.perf_counter()
        try:
            section = runners[name]()
        except Exception:
            failed.append(name)
            out.write(f"## {name}: FAILED\n\n```\n{traceback.format_exc()}```\n\n")
            continue
        finally:
            gc.unfreeze()  # what the section froze out of the collector (env.settle_garbage)
        section.seconds = time.perf_counter() - section_started
        sections.append((name, section))
        for table in section.tables:
            out.write(table.render() + "\n\n")
        print(f"bench: {name} took {section.seconds:.0f} s", file=sys.stderr, flush=True)

    out.write("## Targets\n\n")
    for _, section in sections:
        for target in section.targets:
            out.write(f"- {target.render()}\n")
    for name in failed:
        out.write(f"- [FAIL] section {name} did not run to the end (see above)\n")
    seconds = time.perf_counter() - started
    out.write(
        f"\nTook {seconds:.0f} s ("
        + ", ".join(f"{n} {s.seconds:.0f} s" for n, s in sections)
        + f"). Load average at the end: {os.getloadavg()[0]:.2f}.\n"
    )
    out.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
