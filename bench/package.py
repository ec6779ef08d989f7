"""Deployment size: each function's package and the layer, zipped and unzipped.

The packages are what ``sam build`` leaves in ``.aws-sam/build`` (one folder per function and
one for the layer). When that build is missing or older than the sources it was built from, the
bench runs ``make build`` first. Each folder is zipped in memory (``zipfile``, deflate), which is
close to what ``sam deploy`` uploads.
"""

import io
import shutil
import subprocess
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from bench.env import ROOT
from bench.report import Section, Table, Target, size
from local.template import functions

BUILD = ROOT / ".aws-sam" / "build"
LAYER = "PolicyLayer"
MAX_FUNCTION_ZIPPED = 1024 * 1024
"""Target: every function package under 1 MB zipped, the layer excluded."""
MAX_LAYER_ZIPPED = 10 * 1000 * 1000
"""Target: the layer under 10 MB zipped, bytecode included (tests/layer checks it too)."""
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024
"""Lambda's limit on a function and all its layers, unzipped."""


@dataclass
class Package:
    name: str
    files: int
    unzipped: int
    zipped: int


def _newest_source() -> float:
    newest = (ROOT / "template.yaml").stat().st_mtime
    for folder in (ROOT / "functions", ROOT / "shared"):
        for path in folder.rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                newest = max(newest, path.stat().st_mtime)
    return newest


def _build_state() -> str | None:
    """Why the build must be redone, or None when it is current."""
    template = BUILD / "template.yaml"
    if not template.exists():
        return "no .aws-sam/build"
    missing = [
        name
        for name in [f.name for f in functions().values()] + [LAYER]
        if not (BUILD / name).is_dir()
    ]
    if missing:
        return f".aws-sam/build lacks {', '.join(missing)}"
    if _newest_source() > template.stat().st_mtime:
        return "sources changed since the last build"
    return None


def ensure_build() -> tuple[bool, str]:
    """(built, what happened)."""
    reason = _build_state()
    if reason is None:
        return True, "used the existing .aws-sam/build (newer than every source)"
    make = shutil.which("make")
    if make is None:
        return False, f"cannot build ({reason}): no make on PATH"
    started = time.perf_counter()
    done = subprocess.run(
        [make, "build"], cwd=ROOT, capture_output=True, text=True, check=False, timeout=900
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0 or _build_state() is not None:
        tail = (done.stdout + done.stderr).strip().splitlines()[-5:]
        return False, f"make build failed ({reason}): " + " / ".join(tail)
    return True, f"ran make build ({reason}): {seconds:.0f} s"


def zipped(folder: Path, name: str) -> Package:
    buffer = io.BytesIO()
    files = unzipped = 0
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
                files += 1
                unzipped += path.stat().st_size
    return Package(name=name, files=files, unzipped=unzipped, zipped=len(buffer.getvalue()))


def run() -> Section:
    built, how = ensure_build()
    table = Table(
        "Deployment size (from .aws-sam/build, zipped in memory)",
        ["package", "files", "unzipped", "zipped", "with the layer, unzipped"],
    )
    if not built:
        table.notes.append(how)
        target = Target("every function package under 1 MB zipped, excluding the layer", False, how)
        return Section(
            tables=[table], targets=[target, Target("the layer under 10 MB zipped", False, how)]
        )
    layer = zipped(BUILD / LAYER, f"{LAYER} (layer)")
    packages = [zipped(BUILD / f.name, f.name) for f in functions().values()]
    for p in packages:
        with_layer = p.unzipped + layer.unzipped
        table.add(
            p.name,
            p.files,
            size(p.unzipped),
            size(p.zipped),
            f"{size(with_layer)} ({with_layer / LAMBDA_UNZIPPED_LIMIT:.0%} of 250 MB)",
        )
    table.add(layer.name, layer.files, size(layer.unzipped), size(layer.zipped), "-")
    table.notes += [
        how + ".",
        "The layer holds the policy code and its locked requirements as wheels for python3.13 "
        "on arm64 (shared/requirements.txt: Powertools with the tracer, pydantic, boto3), the "
        ".py files with their Python 3.13 .pyc beside them, and botocore's data for only the "
        "services the functions call (SERVICES in shared/Makefile).",
    ]
    biggest = max(packages, key=lambda p: p.zipped)
    target = Target(
        "every function package under 1 MB zipped, excluding the layer",
        all(p.zipped < MAX_FUNCTION_ZIPPED for p in packages),
        f"largest {biggest.name} {size(biggest.zipped)}",
    )
    layer_target = Target(
        "the layer under 10 MB zipped, with its bytecode",
        layer.zipped < MAX_LAYER_ZIPPED,
        size(layer.zipped),
    )
    return Section(tables=[table], targets=[target, layer_target])
