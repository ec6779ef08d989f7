"""The policy layer as ``make build`` leaves it in ``.aws-sam/build/PolicyLayer``.

What Lambda runs is that folder, not ``shared/``: bytecode compiled by Python 3.13 so that a
read-only ``/opt`` is not compiled again at every cold start, the locked dependencies, botocore's
data trimmed to the services the functions call, and a size under the limit.

The layer is built for arm64 and this machine need not be: its compiled parts (pydantic-core,
wrapt) cannot be loaded here, so the client test imports only botocore from it, which is pure
Python, in a Python 3.13 interpreter that sees nothing but the layer.
"""

import ast
import io
import json
import os
import re
import subprocess
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from local.moto_server import SerializedMotoServer

ROOT = Path(__file__).resolve().parents[2]
BUILT = ROOT / ".aws-sam" / "build" / "PolicyLayer"
LOCK = ROOT / "shared" / "requirements.txt"
MAX_ZIPPED = 10 * 1000 * 1000
"""Bytes: the layer's size target, zipped, bytecode included."""

# One call per kept service, answered by moto, to prove the trimmed data still describes it.
CALLS: dict[str, tuple[str, dict[str, str]]] = {
    "dynamodb": ("list_tables", {}),
    "events": ("list_event_buses", {}),
    "secretsmanager": ("list_secrets", {}),
    "sesv2": ("list_email_identities", {}),
    "sqs": ("list_queues", {}),
}

CHECK_BYTECODE = r"""
import _imp, importlib.util, json, pathlib, sys
from importlib._bootstrap_external import _RAW_MAGIC_NUMBER

problems, checked = [], 0
for source in sorted(pathlib.Path(sys.argv[1]).rglob("*.py")):
    cached = pathlib.Path(importlib.util.cache_from_source(str(source)))
    if not cached.exists():
        problems.append(f"{source}: no {cached.name}")
        continue
    header = cached.read_bytes()[:16]
    expected = _imp.source_hash(_RAW_MAGIC_NUMBER, source.read_bytes())
    if header[:4] != importlib.util.MAGIC_NUMBER:
        problems.append(f"{cached}: not Python 3.13's magic number")
    elif int.from_bytes(header[4:8], "little") != 0b01:
        problems.append(f"{cached}: not unchecked-hash (flags {header[4:8].hex()})")
    elif header[8:16] != expected:
        problems.append(f"{cached}: compiled from another version of its source")
    checked += 1
print(json.dumps({"checked": checked, "problems": problems}))
"""

USE_CLIENTS = r"""
import json, sys
layer, endpoint, calls = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
sys.path.insert(0, layer)
import botocore.session

assert botocore.__file__.startswith(layer), "not the layer's"
session = botocore.session.get_session()  # as coaching.runtime builds the functions' clients
found = {}
for service, (operation, arguments) in calls.items():
    # As in Lambda: the endpoint from botocore's rules and partitions, no override.
    resolved = session.create_client(service).meta.endpoint_url
    answer = getattr(session.create_client(service, endpoint_url=endpoint), operation)(**arguments)
    found[service] = {
        "endpoint": resolved,
        "status": answer["ResponseMetadata"]["HTTPStatusCode"],
    }
print(json.dumps(found))
"""


@pytest.fixture(scope="module")
def layer() -> Path:
    python = BUILT / "python"
    if not python.is_dir():
        pytest.fail(
            f"{python} is missing: these tests inspect the built layer. Run `make build` first "
            "(`make test` does)."
        )
    return python


@pytest.fixture(scope="module")
def python313() -> str:
    """The Python 3.13 the build compiled with (shared/Makefile finds it)."""
    done = subprocess.run(
        ["make", "-s", "-C", str(ROOT / "shared"), "python313"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"no Python 3.13 to check the layer with: {done.stderr.strip()}")
    return done.stdout.strip()


def _kept_services(layer: Path) -> set[str]:
    return {p.name for p in (layer / "botocore" / "data").iterdir() if p.is_dir()}


def _clients_created() -> set[str]:
    """Every service the functions and the layer create a client for."""
    pattern = re.compile(r"""(?:\.client|\.create_client)\(\s*["']([a-z0-9-]+)["']""")
    sources = [*(ROOT / "shared" / "coaching").rglob("*.py"), *(ROOT / "functions").rglob("*.py")]
    return {name for path in sources for name in pattern.findall(path.read_text())}


def test_every_module_has_python_313_bytecode_that_is_never_rechecked(
    layer: Path, python313: str
) -> None:
    done = subprocess.run(
        [python313, "-I", "-c", CHECK_BYTECODE, str(layer)],
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(done.stdout)

    assert found["problems"] == []
    sources = sum(1 for _ in layer.rglob("*.py"))
    assert found["checked"] == sources
    assert (layer / "coaching" / "__pycache__" / "rules.cpython-313.pyc").is_file()


def test_the_layer_is_under_10_mb_zipped(layer: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(BUILT.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(BUILT).as_posix())

    assert len(buffer.getvalue()) < MAX_ZIPPED


def test_the_layer_holds_exactly_the_locked_versions(layer: Path) -> None:
    locked = dict(re.findall(r"^([A-Za-z0-9._-]+)==(\S+)", LOCK.read_text(), flags=re.MULTILINE))
    installed = {}
    for metadata in layer.glob("*.dist-info/METADATA"):
        fields = dict(
            line.split(": ", 1) for line in metadata.read_text().splitlines() if ": " in line
        )
        installed[canonicalize_name(fields["Name"])] = fields["Version"]

    assert installed == {canonicalize_name(name): version for name, version in locked.items()}


def test_the_lock_pins_every_file_by_hash_within_pyproject_ranges() -> None:
    text = LOCK.read_text()
    entries = re.findall(
        r"^(\S+)==(\S+) \\\n((?:\s+--hash=sha256:[0-9a-f]{64}(?: \\)?\n)+)", text, re.M
    )
    pins = {canonicalize_name(name): version for name, version, _ in entries}
    requirements = [line for line in text.splitlines() if line and not line.startswith((" ", "#"))]
    assert len(entries) == len(requirements)  # every requirement is pinned, each with hashes

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for spec in map(Requirement, declared):
        assert spec.specifier.contains(pins[canonicalize_name(spec.name)]), spec


def test_every_client_the_functions_create_is_in_the_trimmed_data(layer: Path) -> None:
    kept = _kept_services(layer)

    assert _clients_created() == {"dynamodb", "events", "secretsmanager", "sesv2", "sqs"}
    assert _clients_created() <= kept
    assert kept == set(CALLS)  # a new kept service needs its call in CALLS below
    assert not (layer / "botocore" / "data" / "s3").exists()  # the trim did happen


def test_every_kept_client_works_from_the_layer_alone(
    layer: Path, python313: str, moto_server: SerializedMotoServer
) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    done = subprocess.run(
        [python313, "-I", "-c", USE_CLIENTS, str(layer), moto_server.url, json.dumps(CALLS)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout)

    assert found == {
        service: {"endpoint": f"https://{host}.us-east-1.amazonaws.com", "status": 200}
        for service, host in {
            "dynamodb": "dynamodb",
            "events": "events",
            "secretsmanager": "secretsmanager",
            "sesv2": "email",
            "sqs": "sqs",
        }.items()
    }


def _unused() -> list[str]:
    """``UNUSED`` in shared/Makefile: the parts of the locked packages the build drops."""
    makefile = (ROOT / "shared" / "Makefile").read_text().replace("\\\n", " ")
    [line] = [x for x in makefile.splitlines() if x.startswith("UNUSED :=")]
    value = line.removeprefix("UNUSED :=")
    dropped = []
    for prefix, names in re.findall(r"\$\(addprefix ([^,]+),([^)]*)\)", value):
        dropped += [prefix + name for name in names.split()]
    dropped += re.sub(r"\$\([^)]*\)", " ", value).split()
    return dropped


def _imports(source: Path, root: Path) -> set[str]:
    """Every module ``source`` may import, as dotted names: ``import a.b``, and for
    ``from a import b`` (or ``from . import b``, resolved against its package) both ``a`` and
    ``a.b``, since ``b`` may be a module."""
    parts = source.relative_to(root).with_suffix("").parts
    package = parts[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source.read_bytes())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else ()
            module = ".".join((*base, *(node.module.split(".") if node.module else ())))
            found |= {module} | {f"{module}.{alias.name}" for alias in node.names}
    return found


def test_what_the_build_drops_is_gone_and_nothing_left_imports_it(layer: Path) -> None:
    dropped = _unused()
    assert "aws_lambda_powertools/utilities/idempotency" in dropped

    modules = [d.removesuffix(".py").replace("/", ".") for d in dropped]
    pattern = re.compile("|".join(re.escape(m) for m in modules))
    mentions = [
        str(source.relative_to(ROOT))
        for tree in (layer, ROOT / "functions")
        for source in tree.rglob("*.py")
        if pattern.search(source.read_text(encoding="utf-8", errors="replace"))
    ]
    # `from aws_lambda_powertools.utilities import jmespath_utils` names no dropped path as
    # text: Powertools' Logger does exactly that, and a layer without it failed every import.
    importers = sorted(
        f"{source.relative_to(layer)} imports {name}"
        for source in layer.rglob("*.py")
        for name in _imports(source, layer)
        if any(name == m or name.startswith(m + ".") for m in modules)
    )

    assert [d for d in dropped if (layer / d).exists()] == []
    assert mentions == []
    assert importers == []
