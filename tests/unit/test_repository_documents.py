"""The repository stands on its own: nothing in it points at documents a user of it never sees.

The contract lives in docs/ (api.md and openapi.json) and CHANGELOG.md; a link to a file outside
the repository, or to a planning document by name, would leave a reader with nothing to open.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SKIPPED_DIRS = {"__pycache__", "node_modules", "build"}
TEXT_SUFFIXES = {".py", ".md", ".yaml", ".yml", ".toml", ".json", ".txt", ".cfg", ".ini", ""}

# Spelled in pieces so that this file does not find itself.
OUTSIDE = [
    re.escape(".." + "/shared"),
    r"\b" + "API" + r"\.md\b",  # case matters: docs/api.md is ours
    r"\b" + "PRODUCT" + r"\.md\b",
    r"\b" + "DESIGN" + r"\.md\b",
    r"\b" + "STYLE" + r"\.md\b",
]


def _text_files() -> list[Path]:
    found = []
    for path in ROOT.rglob("*"):
        relative = path.relative_to(ROOT)
        if any(part.startswith(".") or part in SKIPPED_DIRS for part in relative.parts):
            continue  # virtual environments, git, caches, sam build output, local state
        if path.is_file() and (path.suffix in TEXT_SUFFIXES or path.name == "Makefile"):
            found.append(path)
    return found


def test_the_repository_has_files_to_look_through() -> None:
    names = {path.relative_to(ROOT).as_posix() for path in _text_files()}
    assert {"README.md", "CHANGELOG.md", "docs/api.md", "docs/openapi.json"} <= names


@pytest.mark.parametrize("pattern", OUTSIDE)
def test_nothing_points_outside_the_repository(pattern: str) -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in _text_files()
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1)
        if re.search(pattern, line)
    ]

    assert offenders == [], f"point these at docs/api.md or say it in place: {offenders}"


def test_the_readme_api_section_links_to_the_reference() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## The API", 1)[1].split("\n## ", 1)[0]

    assert "](docs/api.md)" in section
    assert "make openapi" in readme
