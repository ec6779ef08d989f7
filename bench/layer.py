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


def moto_site() -> tuple[Path, str]:
    """moto and its packages for Python 3.13 (the local stack's lock, as ``make run`` installs
    it), for the cold-start section's first request: last on a probe's path, after the layer,
    so the function still imports the layer's own packages. Installed once per lock, into
    ``.aws-sam/bench-moto-<arch>``, precompiled (moto's import is not timed, only waited for)."""
    lock = ROOT / "local" / "requirements.txt"
    folder = ROOT / ".aws-sam" / f"bench-moto-{platform.machine()}"
    stamp = folder / ".installed"
    if stamp.exists() and stamp.stat().st_mtime >= lock.stat().st_mtime:
        return folder, f"reused {folder.relative_to(ROOT)}"
    scratch = folder.with_name(folder.name + ".partial")
    shutil.rmtree(scratch, ignore_errors=True)
    done = subprocess.run(
        [
            python313(),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--require-hashes",
            "--target",
            str(scratch),
            "-r",
            str(lock),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    if done.returncode != 0:
        raise RuntimeError(f"installing moto for Python 3.13 failed:\n{done.stderr[-3000:]}")
    shutil.rmtree(folder, ignore_errors=True)
    scratch.rename(folder)
    stamp.touch()
    return folder, f"installed {folder.relative_to(ROOT)} from local/requirements.txt"
