"""What the offline preview prints. Every value is printed literally: the consoles have markup, emoji and
highlighting off (so ``:secret:`` in an ARN, ``[secret]`` and ``[red]`` in a value stay as they are) and
styles are applied with ``rich.text.Text`` spans, never by markup in strings."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from offline.engine import STACK_TYPE, Plan
from offline.policy import PolicyReport, Violation

# A fixed, wide width when output goes to a file or CI log, so lines are never cut mid-name.
_WIDTH = None if sys.stdout.isatty() else 200
console = Console(highlight=False, markup=False, emoji=False, soft_wrap=True, width=_WIDTH)
err_console = Console(stderr=True, highlight=False, markup=False, emoji=False, soft_wrap=True, width=_WIDTH)


def error(message: str) -> None:
    """One ``error: ...`` line on stderr (the message printed literally)."""
    err_console.print(Text.assemble(("error:", "bold red"), " ", message))


def note(message: str) -> None:
    console.print(Text.assemble(("note:", "yellow"), " ", message))


def short_type(type_: str) -> str:
    """``aws:ec2/vpc:Vpc`` -> ``aws:ec2:Vpc``, as ``pulumi preview`` prints it."""
    parts = type_.split(":")
    if len(parts) == 3 and "/" in parts[1]:
        return f"{parts[0]}:{parts[1].split('/')[0]}:{parts[2]}"
    return type_


def _create(type_: str, name: str, protect: bool = False) -> Text:
    text = Text.assemble(("+", "green"), f" {type_}  ", (name, "bold"), "  create")
    if protect:
        text.append("  [protect]", style="yellow")
    return text


def render_tree(plan: Plan) -> Tree:
    root_urn = f"urn:pulumi:{plan.stack}::{plan.project}::{STACK_TYPE}::{plan.project}-{plan.stack}"
    tree = Tree(_create(STACK_TYPE, f"{plan.project}-{plan.stack}"))
    nodes = {root_urn: tree}
    children: dict[str, list[Any]] = {}
    for resource in plan.resources:
        children.setdefault(resource.parent, []).append(resource)

    def add(parent_urn: str, node: Tree) -> None:
        for resource in sorted(children.get(parent_urn, []), key=lambda r: (r.custom, r.type, r.name)):
            child = node.add(_create(short_type(resource.type), resource.name, resource.protect))
            nodes[resource.urn] = child
            add(resource.urn, child)

    add(root_urn, tree)
    orphans = [r for r in plan.resources if r.parent and r.parent not in nodes and r.parent != root_urn]
    for resource in orphans:
        tree.add(Text.assemble(("?", "red"), f" {resource.type} {resource.name} (parent {resource.parent} "
                                             "not registered)"))
    return tree


def counts_table(plan: Plan) -> Table:
    table = Table(title=f"Resources by type ({len(plan.resources)} to create)", title_justify="left")
    table.add_column("Type", no_wrap=True)
    table.add_column("Count", justify="right")
    for type_, count in plan.counts().items():
        table.add_row(type_, str(count))
    return table


def outputs_json(plan: Plan) -> str:
    """The stack's outputs as JSON (secrets masked), never cut: ARNs and kubeconfigs stay whole."""
    return json.dumps(plan.outputs, indent=2, sort_keys=True)


def violation_rows(violations: list[Violation], stack: str) -> list[str]:
    """Aligned ``level  resource  policy  finding`` lines; fix hints name the stack's real file."""
    rows = [(v.level, f"{short_type(v.resource_type)} {v.resource_name}".strip() if v.resource_name else "(stack)",
             v.policy, " ".join(v.detail.replace("Pulumi.<stack>.yaml", f"Pulumi.{stack}.yaml").split()))
            for v in violations]
    header = ("LEVEL", "RESOURCE", "POLICY", "FINDING")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    return ["  ".join(cell.ljust(widths[i]) if i < 3 else cell for i, cell in enumerate(row)).rstrip()
            for row in [header, *rows]]


def print_policy_report(report: PolicyReport, stack: str) -> None:
    mandatory, advisory = len(report.mandatory), len(report.advisory)
    console.print(Text.assemble("Policy pack ", (report.pack_name, "bold"), f" {report.pack_version}: "
                                f"{len(report.policies)} policies; {mandatory} mandatory and {advisory} advisory "
                                "violation(s)"))
    if not report.violations:
        console.print(Text("No policy violations.", style="green"))
        return
    ordered = sorted(report.violations, key=lambda v: (v.level != "mandatory", v.policy, v.resource_name, v.urn))
    lines = violation_rows(ordered, stack)
    console.print(Text(lines[0], style="bold"))
    for violation, line in zip(ordered, lines[1:], strict=True):
        console.print(Text(line, style="red" if violation.level == "mandatory" else "yellow"))
