"""Cold start as Lambda runs it: a fresh Python 3.13 importing a handler from a read-only layer.

In Lambda the function's package (``/var/task``) and the layer (``/opt``) are read-only, so
Python can neither find a bytecode cache it did not ship nor write one: whatever the layer
lacks as ``.pyc`` is compiled from source at every cold start. The bench reproduces that:

- the layer is the one ``shared/Makefile`` builds (lock, trim, Python 3.13 bytecode), built
  for this machine's architecture (``bench/layer.py``), since the arm64 build's pydantic-core
  cannot load here;
- it and each function's package (its template ``CodeUri``) are copied into a temporary
  folder made read-only (``chmod -R a-w``; as root that is not enforced, so
  ``PYTHONDONTWRITEBYTECODE=1`` and a check that no file appeared afterwards make sure);
- every sample is a new ``python3.13 -s`` process, no ``PYTHONPYCACHEPREFIX``, with the
  package and then the layer on ``PYTHONPATH``, that imports the handler's module by name as
  Lambda's runtime does (``docs/app.handler`` is the module ``docs.app``), timed with
  ``perf_counter`` around the import alone. Tracing is active, as with ``Tracing: Active``:
  Powertools' Tracer loads the X-Ray SDK and patches botocore at import. The process has the
  function's plain environment variables from the template (``PYDANTIC_DISABLE_PLUGINS``
  among them), as Lambda sets them.

The baseline is ``import boto3`` from the same read-only layer, precompiled: what any Python
function that talks to AWS pays. Each handler is measured twice: with the layer as built, and
with the same layer stripped of its ``.pyc`` files (how the layer shipped before it carried
bytecode), against the same baseline.
"""

import json
import os
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median as middle
from typing import Any

from bench.env import AWS_ENVIRONMENT, ROOT
from bench.layer import host_layer, python313
from bench.report import Section, Table, Target, median, ms
from local.template import Function, functions

RUNS = 11
"""Interpreters per row: a cold import's CPU time varies by a few per cent from one process to
the next, and the target is judged on medians a few per cent apart."""
SOURCE_RUNS = 3
"""Fewer samples for the layer without bytecode: each is several times slower, and its
figure only shows what the bytecode is worth."""
BREAKDOWN_RUNS = 5
MAX_RATIO = 2.0
"""Target: a handler's cold import costs at most twice a precompiled ``import boto3``."""

PROBE = r"""
import importlib, json, sys, time

target = sys.argv[1]
started, cpu = time.perf_counter(), time.process_time()
if target == "boto3":
    import boto3
else:
    module, _, attribute = target.rpartition(".")
    getattr(importlib.import_module(module.replace("/", ".")), attribute)
seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
print(json.dumps({"seconds": seconds, "cpu": cpu, "modules": len(sys.modules)}))
"""


@dataclass
class Importer:
    label: str
    target: str  # "boto3" or the template's Handler
    task: Path  # the function's package, read-only (cwd and first on the path)
    layer: Path  # the layer's python folder, read-only
    function: str
    runs: int
    environment: dict[str, Any] = field(default_factory=dict)  # the template's, for the function
    seconds: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    modules: int = 0

    def command(self, python: str, *options: str) -> list[str]:
        return [python, "-s", *options, "-c", PROBE, self.target]

    def env(self) -> dict[str, str]:
        """What a Lambda function's process sees, and nothing from this one: the template's
        plain variables (a ``!Ref`` names a table, which an import never reads), then the
        bench's region and credentials."""
        env = {k: str(v) for k, v in self.environment.items() if not isinstance(v, dict)}
        env |= {k: v for k, v in AWS_ENVIRONMENT.items() if k != "POWERTOOLS_TRACE_DISABLED"}
        env.update(
            {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "LANG": "C.UTF-8",
                "LAMBDA_TASK_ROOT": str(self.task),
                "AWS_LAMBDA_FUNCTION_NAME": self.function,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
                "_HANDLER": self.target,
                "PYTHONPATH": os.pathsep.join([str(self.task), str(self.layer)]),
                "PYTHONDONTWRITEBYTECODE": "1",
            }
        )
        return env


def _run(python: str, t: Importer) -> None:
    done = subprocess.run(
        t.command(python), env=t.env(), cwd=t.task, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"importing {t.label} failed:\n{done.stderr[-2000:]}")
    found = json.loads(done.stdout.strip().splitlines()[-1])
    t.seconds.append(found["seconds"])
    t.cpu.append(found["cpu"])
    t.modules = int(found["modules"])


def _stage(root: Path, layer: Path, fns: list[Function]) -> dict[str, Path]:
    """Copy the layer (with and without bytecode) and the packages under ``root``."""
    skip = shutil.ignore_patterns("__pycache__")
    places = {"layer": root / "opt" / "python", "source-only layer": root / "opt-src" / "python"}
    shutil.copytree(layer, places["layer"])
    shutil.copytree(layer, places["source-only layer"], ignore=skip)
    for f in fns:
        places[f.name] = root / "task" / f.name
        shutil.copytree(ROOT / f.code_uri, places[f.name], ignore=skip)
    return places


def _snapshot(root: Path) -> set[str]:
    return {str(p) for p in root.rglob("*")}


def _set_writable(root: Path, writable: bool) -> None:
    bits = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
    for path in [root, *root.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod((mode | stat.S_IWUSR) if writable else (mode & ~bits))


def _breakdown(python: str, t: Importer) -> dict[str, float]:
    """Median self time of each package over a few ``-X importtime`` runs."""
    samples: list[dict[str, float]] = []
    for _ in range(BREAKDOWN_RUNS):
        done = subprocess.run(
            t.command(python, "-X", "importtime"),
            env=t.env(),
            cwd=t.task,
            capture_output=True,
            text=True,
            check=False,
        )
        totals: dict[str, float] = {}
        for line in done.stderr.splitlines():
            if not line.startswith("import time:") or "|" not in line:
                continue
            self_us, _, name = (part.strip() for part in line[len("import time:") :].split("|"))
            if self_us.isdigit():
                group = _group(name, t.layer)
                totals[group] = totals.get(group, 0.0) + int(self_us) / 1e6
        samples.append(totals)
    groups = {g for s in samples for g in s}
    return {g: middle([s.get(g, 0.0) for s in samples]) for g in groups}


_PARTS = {
    "boto3": "AWS SDK (boto3, botocore, s3transfer, urllib3, dateutil, jmespath)",
    "botocore": "AWS SDK (boto3, botocore, s3transfer, urllib3, dateutil, jmespath)",
    "s3transfer": "AWS SDK (boto3, botocore, s3transfer, urllib3, dateutil, jmespath)",
    "urllib3": "AWS SDK (boto3, botocore, s3transfer, urllib3, dateutil, jmespath)",
    "dateutil": "AWS SDK (boto3, botocore, s3transfer, urllib3, dateutil, jmespath)",
    "jmespath": "AWS SDK (boto3, botocore, s3transfer, urllib3, dateutil, jmespath)",
    "six": "AWS SDK (boto3, botocore, s3transfer, urllib3, dateutil, jmespath)",
    "pydantic": "pydantic (pydantic, pydantic_core, annotated_types, typing_*)",
    "pydantic_core": "pydantic (pydantic, pydantic_core, annotated_types, typing_*)",
    "annotated_types": "pydantic (pydantic, pydantic_core, annotated_types, typing_*)",
    "typing_extensions": "pydantic (pydantic, pydantic_core, annotated_types, typing_*)",
    "typing_inspection": "pydantic (pydantic, pydantic_core, annotated_types, typing_*)",
    "aws_xray_sdk": "X-Ray SDK (the Tracer: aws_xray_sdk, wrapt)",
    "wrapt": "X-Ray SDK (the Tracer: aws_xray_sdk, wrapt)",
    "coaching": "our code (coaching, the handler module)",
}


def _group(module: str, layer: Path) -> str:
    """The part of the stack a module belongs to; Powertools by part, as it is the largest."""
    parts = module.split(".")
    if parts[0] == "aws_lambda_powertools":
        part = parts[1] if len(parts) > 1 else ""
        if part == "event_handler":
            return "Powertools event_handler (resolver, OpenAPI validation)"
        if part == "utilities":
            return "Powertools utilities (its event classes, typing, batch)"
        return "Powertools logging, metrics, tracing, shared"
    if parts[0] == "app" or parts[-1] == "app":
        return _PARTS["coaching"]
    if parts[0] in _PARTS:
        return _PARTS[parts[0]]
    if (layer / parts[0]).is_dir() or (layer / f"{parts[0]}.py").exists():
        return "other layer packages"
    return "standard library (whichever part imports it first)"


def run(runs: int = RUNS) -> Section:
    python = python313()
    layer, how = host_layer()
    fns = list(functions().values())
    with tempfile.TemporaryDirectory(prefix="bench-coldstart-") as scratch:
        root = Path(scratch)
        places = _stage(root, layer, fns)
        before = _snapshot(root)
        _set_writable(root, False)
        try:
            baseline = Importer(
                "import boto3 (precompiled)",
                "boto3",
                places["layer"].parent,
                places["layer"],
                "Baseline",
                runs,
            )
            built = {
                f.name: Importer(
                    f.name,
                    f.handler,
                    places[f.name],
                    places["layer"],
                    f.name,
                    runs,
                    environment=f.environment,
                )
                for f in fns
            }
            source = {
                f.name: Importer(
                    f.name,
                    f.handler,
                    places[f.name],
                    places["source-only layer"],
                    f.name,
                    SOURCE_RUNS,
                    environment=f.environment,
                )
                for f in fns
            }
            everyone = [baseline, *built.values(), *source.values()]
            for t in everyone:  # the OS's file cache, warm for every row alike; not counted
                _run(python, t)
                t.seconds.clear()
                t.cpu.clear()
            for round_ in range(runs):  # interleaved, so the machine's load hits all rows alike
                for t in everyone:
                    if round_ < t.runs:
                        _run(python, t)
            worst = max(built.values(), key=lambda t: median(t.cpu))
            handler_parts = _breakdown(python, worst)
            boto3_parts = _breakdown(python, baseline)
        finally:
            _set_writable(root, True)
        written = sorted(_snapshot(root) - before)
    if written:
        raise RuntimeError(f"the read-only tree was written to: {written[:5]}")

    base, base_wall = median(baseline.cpu), median(baseline.seconds)
    table = Table(
        "Cold start: handler import in a fresh Python 3.13, read-only layer, no bytecode cache",
        [
            "function",
            "CPU p50 ms",
            "vs boto3",
            "wall p50 ms",
            "vs boto3 (wall)",
            "modules",
            "layer without .pyc: CPU ms",
            "vs boto3",
            f"at most {MAX_RATIO:.1f}x",
        ],
    )
    table.add(
        baseline.label, ms(base), "1.00x", ms(base_wall), "1.00x", baseline.modules, "-", "-", "-"
    )
    for name, t in built.items():
        cpu, wall, old = median(t.cpu), median(t.seconds), median(source[name].cpu)
        table.add(
            name,
            ms(cpu),
            f"{cpu / base:.2f}x",
            ms(wall),
            f"{wall / base_wall:.2f}x",
            t.modules,
            ms(old),
            f"{old / base:.2f}x",
            "PASS" if cpu / base <= MAX_RATIO else "FAIL",
        )
    table.notes += [
        f"Median of {runs} interpreters per row ({SOURCE_RUNS} for the layer without .pyc), "
        "interleaved, each timed inside the process around the import alone: 'CPU' is the "
        "process's CPU time (time.process_time), 'wall' the elapsed time (perf_counter).",
        "The ratios and the target use CPU time: on a shared machine the wall time mostly "
        "measures how long the process waited for a core, which swings by 2x from run to run; "
        "the CPU an import needs does not. With a core to itself the two are close.",
        f"The layer: {how}; Python {python}. Same lock, trim and bytecode as the arm64 "
        "layer `make build` ships; only the wheels' architecture differs.",
        "'layer without .pyc': the same layer with its __pycache__ folders removed, as it "
        "shipped before: read-only, so every imported module is compiled at every cold start.",
        "Lambda runs arm64 with a share of a vCPU and adds its runtime's own start; compare "
        "ratios, not absolute numbers.",
    ]
    ratios = {name: median(t.cpu) / base for name, t in built.items()}
    walls = {name: median(t.seconds) / base_wall for name, t in built.items()}
    targets = [
        Target(
            f"{name} imports in at most {MAX_RATIO:.1f}x a precompiled boto3 (cold, read-only)",
            ratios[name] <= MAX_RATIO,
            f"{ratios[name]:.2f}x ({ms(median(built[name].cpu))} ms CPU against boto3's "
            f"{ms(base)}; wall {walls[name]:.2f}x)",
        )
        for name in sorted(ratios, key=lambda n: -ratios[n])
    ]
    where = Table(
        f"Cold start: what {worst.label}'s import is made of (self time, median of "
        f"{BREAKDOWN_RUNS} runs)",
        ["part", "ms", "share", "in import boto3 alone, ms", "beyond boto3, ms", "x boto3"],
    )
    total, alone = sum(handler_parts.values()), sum(boto3_parts.values())
    for group, seconds in sorted(handler_parts.items(), key=lambda kv: -kv[1]):
        more = seconds - boto3_parts.get(group, 0.0)
        where.add(
            group,
            ms(seconds),
            f"{seconds / total:.0%}",
            ms(boto3_parts.get(group, 0.0)),
            ms(more),
            f"{more / alone:+.2f}x",
        )
    where.add("all", ms(total), "100%", ms(alone), ms(total - alone), f"{total / alone:.2f}x")
    where.notes += [
        f"The slowest handler to import ({worst.label}), from python3.13 -X importtime on the "
        "same read-only layer (which slows imports a little, so its total ratio differs from "
        "the table above): each module's own time, summed by part of the stack. 'beyond "
        "boto3' is what the handler pays that `import boto3` alone does not, as a share of "
        "boto3's import: the parts add up to the handler's ratio.",
        "A standard-library module counts where it is first imported: Powertools imports "
        "asyncio and ssl before the SDK does, for instance, so some of 'standard library' is "
        "the SDK's own need.",
    ]
    return Section(tables=[table, where], targets=targets)
