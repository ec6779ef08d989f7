"""Plain-text tables, the targets' verdicts and the few statistics the sections share."""

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def p95(values: Sequence[float]) -> float:
    """The 95th percentile (nearest rank): with 25 samples, the second slowest."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def ms(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds * 1000:.1f}"


def ratio(value: float, base: float) -> str:
    if math.isnan(value) or math.isnan(base) or base <= 0:
        return "-"
    return f"{value / base:.2f}x"


def units(value: float) -> str:
    return f"{value:g}"


def size(n_bytes: int) -> str:
    if n_bytes >= 1024 * 1024:
        return f"{n_bytes / (1024 * 1024):.2f} MB"
    return f"{n_bytes / 1024:.1f} KB"


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        self.rows.append([str(c) for c in cells])

    def render(self) -> str:
        widths = [len(c) for c in self.columns]
        for row in self.rows:
            for i, cell in enumerate(row):
                widths[i] = max(widths[i], len(cell))

        def line(cells: Sequence[str]) -> str:
            parts = [
                cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
                for i, cell in enumerate(cells)
            ]
            return "| " + " | ".join(parts) + " |"

        rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
        out = [f"## {self.title}", "", line(self.columns), rule]
        out += [line(row) for row in self.rows]
        if self.notes:
            out.append("")
            out += [f"- {note}" for note in self.notes]
        return "\n".join(out)


@dataclass(frozen=True)
class Target:
    name: str
    holds: bool
    measured: str

    def render(self) -> str:
        return f"[{'PASS' if self.holds else 'FAIL'}] {self.name}: {self.measured}"


@dataclass
class Section:
    """What one part of the bench found: its tables and its verdicts on the targets."""

    tables: list[Table] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    seconds: float = 0.0
