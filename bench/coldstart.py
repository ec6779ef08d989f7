"""Cold start: importing each function's handler module in a fresh interpreter, next to boto3.

Each measurement is a new ``python`` process (this venv's) that times, with ``perf_counter``,
the import of ``functions/<name>/app.py`` the way ``local.lambda_runtime.load_handler`` loads it
(from the template's ``CodeUri`` and ``Handler``), with ``PYTHONPATH=shared:.`` as the layer
and the package are on Lambda's path. The baseline is the same interpreter importing ``boto3``
alone. ``LAMBDA_TASK_ROOT`` is set, so Powertools' Tracer is active and patches botocore at
import, as it does in Lambda with ``Tracing: Active``.

Bytecode: every run reads cached ``.pyc`` files (kept in a private ``PYTHONPYCACHEPREFIX``,
warmed by one discarded run per target; the tree is not written to). The layer as built ships
no ``.pyc`` (``shared/Makefile`` deletes ``__pycache__``) and Lambda cannot write them under
``/opt``, so in AWS every cold start also compiles what it imports from the layer: the
'compile' column is that cost, measured by compiling the source of every imported module
outside the standard library once.
"""

import importlib.metadata
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from bench.env import ROOT, Function, functions, subprocess_environment
from bench.report import Section, Table, Target, median, ms

RUNS = 5
BREAKDOWN = "CancelFunction"
MAX_ADDED = 0.5
"""Target: a handler's import adds at most 50% over importing boto3 alone."""

PROBE = r"""
import importlib.util, json, sys, sysconfig, time

mode, target = sys.argv[1], sys.argv[2]
started = time.perf_counter()
if mode == "boto3":
    import boto3
else:
    path, attribute = target.rsplit(":", 1)
    spec = importlib.util.spec_from_file_location("lambda_function", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    getattr(module, attribute)
seconds = time.perf_counter() - started
result = {"seconds": seconds, "modules": len(sys.modules)}
if "--compile" in sys.argv:
    stdlib = sysconfig.get_paths()["stdlib"]
    sources = sorted(
        {
            m.__file__
            for m in list(sys.modules.values())
            if getattr(m, "__file__", None)
            and m.__file__.endswith(".py")
            and not m.__file__.startswith(stdlib)
        }
    )
    started = time.perf_counter()
    for source in sources:
        with open(source, "rb") as handle:
            compile(handle.read(), source, "exec", dont_inherit=True)
    result["compile_seconds"] = time.perf_counter() - started
    result["compiled_files"] = len(sources)
print(json.dumps(result))
"""


@dataclass
class Importer:
    label: str
    mode: str
    target: str
    env: dict[str, str]
    seconds: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)
    modules: int = 0
    compile_seconds: float = 0.0
    compiled_files: int = 0


def _run(t: Importer, *, compile_too: bool = False) -> dict[str, float]:
    args = [sys.executable, "-c", PROBE, t.mode, t.target]
    if compile_too:
        args.append("--compile")
    started = time.perf_counter()
    done = subprocess.run(args, env=t.env, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"importing {t.label} failed:\n{done.stderr[-2000:]}")
    found: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    found["wall"] = wall
    return found


def _environment(cache: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Bytecode cached in ``cache`` only (written even where the caller's environment says
    not to write any), so that every timed run reads the same warm cache."""
    env = subprocess_environment({"PYTHONPYCACHEPREFIX": cache, **(extra or {})})
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _targets(cache: str) -> list[Importer]:
    found = [Importer("boto3 alone (baseline)", "boto3", "", _environment(cache))]
    for f in functions():
        env = _environment(
            cache,
            {"LAMBDA_TASK_ROOT": str(ROOT / f.code_uri), "AWS_LAMBDA_FUNCTION_NAME": f.logical_id},
        )
        env.pop("POWERTOOLS_TRACE_DISABLED", None)
        found.append(Importer(f.logical_id, "handler", _target(f), env))
    return found


def _target(f: Function) -> str:
    _, _, attribute = f.handler.rpartition(".")
    return f"{f.module_path}:{attribute}"


def _breakdown(t: Importer) -> dict[str, float]:
    """Self time of each top-level package in one import (``python -X importtime``)."""
    args = [sys.executable, "-X", "importtime", "-c", PROBE, t.mode, t.target]
    done = subprocess.run(args, env=t.env, cwd=ROOT, capture_output=True, text=True, check=False)
    distributions = importlib.metadata.packages_distributions()
    totals: dict[str, float] = {}
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        self_us, _, name = (part.strip() for part in line[len("import time:") :].split("|"))
        if not self_us.isdigit():
            continue
        package = _package(name.split(".")[0], distributions)
        totals[package] = totals.get(package, 0.0) + int(self_us) / 1e6
    return totals


def _package(top: str, distributions: Mapping[str, list[str]]) -> str:
    if top == "coaching":
        return "coaching (the layer's own code)"
    if top == "lambda_function":
        return "the handler module"
    if top in distributions:
        return distributions[top][0]
    return "standard library"


def run(runs: int = RUNS) -> Section:
    with tempfile.TemporaryDirectory(prefix="bench-pycache-") as cache:
        targets = _targets(cache)
        for t in targets:  # warm the bytecode cache and the OS's file cache; not counted
            found = _run(t, compile_too=True)
            t.compile_seconds = found["compile_seconds"]
            t.compiled_files = int(found["compiled_files"])
        for _ in range(runs):  # interleaved, so drift in the machine's load hits all alike
            for t in targets:
                found = _run(t)
                t.seconds.append(found["seconds"])
                t.wall.append(found["wall"])
                t.modules = int(found["modules"])
        example = next(t for t in targets if t.label == BREAKDOWN)
        breakdown = _breakdown(example)

    baseline = targets[0]
    base = median(baseline.seconds)
    table = Table(
        "Cold start: handler import in a fresh interpreter",
        [
            "function",
            "import p50 ms",
            "process p50 ms",
            "modules",
            "vs boto3",
            "adds over boto3",
            "+ compile, no .pyc (ms, files)",
        ],
    )
    worst = ("", 0.0)
    for t in targets:
        value = median(t.seconds)
        added = value / base - 1
        if t is not baseline and added > worst[1]:
            worst = (t.label, added)
        table.add(
            t.label,
            ms(value),
            ms(median(t.wall)),
            t.modules,
            "1.00x" if t is baseline else f"{value / base:.2f}x",
            "-" if t is baseline else f"{added * 100:+.0f}%",
            f"{ms(t.compile_seconds)} ({t.compiled_files})",
        )
    table.notes += [
        f"Median of {runs} fresh interpreters per row, interleaved. 'import' is timed inside "
        "the process around the import alone; 'process' is the whole run (interpreter start, "
        "import, exit) as the parent saw it.",
        "Tracing is active at import (LAMBDA_TASK_ROOT set): Powertools' Tracer loads the X-Ray "
        "SDK and patches botocore, as in Lambda.",
        "'+ compile': compiling the source of every imported module outside the standard "
        "library, which a cold start in AWS pays on top: the layer ships no .pyc.",
        f"This machine runs Python {sys.version.split()[0]} on x86_64; Lambda runs 3.13 on "
        "arm64 and adds its own runtime start. Compare rows, not absolute numbers.",
    ]
    target = Target(
        f"handler import adds at most {MAX_ADDED:.0%} over importing boto3 alone",
        all(median(t.seconds) / base - 1 <= MAX_ADDED for t in targets[1:]),
        f"boto3 {ms(base)} ms; worst {worst[0]} adds {worst[1] * 100:+.0f}%",
    )
    where = Table(
        f"Cold start: where {BREAKDOWN}'s import goes (self time by package, one run)",
        ["package", "ms", "share"],
    )
    total = sum(breakdown.values())
    small = {k: v for k, v in breakdown.items() if v / total < 0.02}
    for package, seconds in sorted(breakdown.items(), key=lambda kv: -kv[1]):
        if package not in small:
            where.add(package, ms(seconds), f"{seconds / total:.0%}")
    if small:
        rest = sum(small.values())
        where.add(f"{len(small)} more packages, under 2% each", ms(rest), f"{rest / total:.0%}")
    where.notes.append(
        "From python -X importtime (which itself slows imports a little): each module's own "
        "time, summed by its top-level package."
    )
    return Section(tables=[table, where], targets=[target])
