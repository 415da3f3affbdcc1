"""Check results and their three renderings: a rich table, JSON and Markdown.

Exit codes: 0 when every check passed, 1 when one failed (or could not run: fail closed), 2 for usage.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from rich.console import Console
from rich.table import Table

Status = Literal["pass", "fail"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


@dataclass(frozen=True)
class Check:
    resource: str
    check: str
    status: Status
    detail: str
    #: How far past its limit a failing check is (seconds), for "the oldest gap per resource".
    gap_seconds: float | None = None


@dataclass
class Report:
    command: str
    stack: str
    title: str
    checks: list[Check] = field(default_factory=list)
    #: Measurements (RTO, RPO...) shown above the table, in order.
    facts: dict[str, str] = field(default_factory=dict)

    def add(self, resource: str, check: str, ok: bool, detail: str, gap_seconds: float | None = None) -> Check:
        item = Check(resource, check, "pass" if ok else "fail", detail, None if ok else gap_seconds)
        self.checks.append(item)
        return item

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.status == "pass" for c in self.checks)

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.passed else EXIT_FAILED

    def oldest_gaps(self) -> dict[str, Check]:
        """Per resource, its failing check furthest past its limit (or its first failure)."""
        worst: dict[str, Check] = {}
        for item in self.checks:
            if item.status != "fail":
                continue
            current = worst.get(item.resource)
            if current is None or (item.gap_seconds or 0) > (current.gap_seconds or 0):
                worst[item.resource] = item
        return worst

    def to_json(self) -> dict[str, Any]:
        return {"command": self.command, "stack": self.stack, "title": self.title, "passed": self.passed,
                "facts": self.facts, "checks": [asdict(c) for c in self.checks],
                "oldestGaps": {r: asdict(c) for r, c in self.oldest_gaps().items()}}

    def to_markdown(self) -> str:
        result = "PASS" if self.passed else "FAIL"
        lines = [f"# {self.title}", "", f"- Stack: `{self.stack}`", f"- Result: **{result}**"]
        lines += [f"- {k}: {v}" for k, v in self.facts.items()]
        lines += ["", "| Resource | Check | Result | Detail |", "|---|---|---|---|"]
        lines += [f"| {_cell(c.resource)} | {_cell(c.check)} | {c.status.upper()} | {_cell(c.detail)} |"
                  for c in self.checks]
        gaps = self.oldest_gaps()
        if gaps:
            lines += ["", "## Oldest gap per resource", ""]
            lines += [f"- `{r}`: {c.check}: {c.detail}" for r, c in gaps.items()]
        return "\n".join(lines) + "\n"

    def render(self, console: Console) -> None:
        table = Table(title=f"{self.title} ({self.stack})")
        for column in ("Resource", "Check", "Result", "Detail"):
            table.add_column(column)
        for c in self.checks:
            table.add_row(c.resource, c.check, "[green]PASS[/]" if c.status == "pass" else "[red]FAIL[/]", c.detail)
        for key, value in self.facts.items():
            console.print(f"{key}: {value}")
        console.print(table)
        gaps = self.oldest_gaps()
        for resource, c in gaps.items():
            console.print(f"[red]oldest gap[/] {resource}: {c.check}: {c.detail}")
        console.print("[green]all checks passed[/]" if self.passed else "[red]checks failed[/]")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def write_outputs(report: Report, *, json_out: bool, markdown: Path | None, console: Console,
                  stdout: Console) -> None:
    """The table on the terminal (stderr when ``--json`` owns stdout), JSON on stdout, Markdown to a file."""
    report.render(console if json_out else stdout)
    if json_out:
        stdout.print_json(json.dumps(report.to_json(), default=str))
    if markdown is not None:
        markdown.parent.mkdir(parents=True, exist_ok=True)
        markdown.write_text(report.to_markdown())


def duration(value: timedelta | float) -> str:
    """``1h 02m 03s`` for a duration (negative durations keep their sign)."""
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    sign = "-" if seconds < 0 else ""
    whole = round(abs(seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{sign}{days}d {hours:02d}h {minutes:02d}m {secs:02d}s"
    if hours:
        return f"{sign}{hours}h {minutes:02d}m {secs:02d}s"
    if minutes:
        return f"{sign}{minutes}m {secs:02d}s"
    return f"{sign}{secs}s"
