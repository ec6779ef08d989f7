"""A copy of the policy layer built for this machine, for the cold-start section.

``make build`` builds the layer for Lambda (arm64); its compiled parts (pydantic-core, wrapt)
cannot be loaded on another architecture, and a cold start imports them. So the bench builds
the same recipe (``shared/Makefile``: the same lock, the same trim, the same Python 3.13
bytecode) once more with this machine's wheels, into ``.aws-sam/bench-layer-<arch>``, and
builds it again only when something under ``shared/`` changed.
"""

import platform
import shutil
import subprocess
from pathlib import Path

from bench.env import ROOT

SHARED = ROOT / "shared"


def _make() -> str:
    found = shutil.which("make")
    if found is None:
        raise RuntimeError("the cold-start section builds the layer with make: none on PATH")
    return found


def python313() -> str:
    """The Python 3.13 the layer's build uses (``make -C shared python313``)."""
    done = subprocess.run(
        [_make(), "-s", "-C", str(SHARED), "python313"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            "the cold-start section needs Python 3.13 (Lambda's runtime): " + done.stderr.strip()
        )
    return done.stdout.strip()


def _newest_source() -> float:
    return max(
        path.stat().st_mtime
        for path in SHARED.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    )


def host_layer() -> tuple[Path, str]:
    """The layer's ``python`` folder built for this machine, and what was done to get it."""
    machine = platform.machine()
    folder = ROOT / ".aws-sam" / f"bench-layer-{machine}"
    stamp = folder / ".built"
    if stamp.exists() and stamp.stat().st_mtime >= _newest_source():
        return folder / "python", f"reused {folder.relative_to(ROOT)}"
    scratch = folder.with_name(folder.name + ".partial")
    shutil.rmtree(scratch, ignore_errors=True)
    done = subprocess.run(
        [
            _make(),
            "-s",
            "-C",
            str(SHARED),
            "build-PolicyLayer",
            f"ARTIFACTS_DIR={scratch}",
            f"LAYER_PLATFORM=manylinux2014_{machine}",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    if done.returncode != 0:
        raise RuntimeError(f"building the layer for {machine} failed:\n{done.stderr[-3000:]}")
    shutil.rmtree(folder, ignore_errors=True)
    scratch.rename(folder)
    stamp.touch()
    return folder / "python", f"built {folder.relative_to(ROOT)} (manylinux2014_{machine})"
