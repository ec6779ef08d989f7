"""``make test`` runs the suite in two halves side by side (the Makefile's ``TESTS_LONG`` and
``TESTS_SHORT``): a test file in neither half would never run in CI, and one in both would run
twice. Every test module under tests/ must be in exactly one."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _half(name: str) -> tuple[list[Path], list[Path]]:
    """A half's folders and its ``--ignore``d ones, as the Makefile spells them."""
    makefile = (ROOT / "Makefile").read_text()
    [value] = re.findall(rf"^{name} := (.*)$", makefile, flags=re.MULTILINE)
    folders = [ROOT / word for word in value.split() if not word.startswith("--")]
    ignored = [
        ROOT / word.removeprefix("--ignore=")
        for word in value.split()
        if word.startswith("--ignore=")
    ]
    return folders, ignored


def _selects(half: tuple[list[Path], list[Path]], module: Path) -> bool:
    folders, ignored = half
    return any(module.is_relative_to(f) for f in folders) and not any(
        module.is_relative_to(i) for i in ignored
    )


def test_every_test_module_runs_in_exactly_one_half_of_make_test() -> None:
    halves = [_half("TESTS_LONG"), _half("TESTS_SHORT")]
    modules = sorted((ROOT / "tests").rglob("test_*.py"))
    assert len(modules) > 90  # the whole suite was found

    selected_by = {m.relative_to(ROOT): sum(_selects(h, m) for h in halves) for m in modules}

    assert {m: n for m, n in selected_by.items() if n != 1} == {}
