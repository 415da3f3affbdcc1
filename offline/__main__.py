"""``python -m offline preview <stack>... | --all``: the offline preview.

Runs the real ``__main__.py`` under the Pulumi SDK's mock engine with ``Pulumi.<stack>.yaml``,
prints the resource tree, counts per type and the exports, writes ``build/<stack>/plan.json``, then
runs the real policy pack over the plan as the Pulumi engine would (``--policy-pack policies
--policy-pack-config policies/config/<stack>.json``).

Exit codes: 0 all stacks rendered with no mandatory violation; 1 a mandatory policy violation or
the program failed; 2 bad configuration or bad usage.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from offline.engine import STACK_TYPE, DuplicateUrnError, Plan, run_stack
from offline.stackfile import ROOT, StackFileError, available_stacks

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2

# A fixed, wide width when output goes to a file or CI log, so trees are never cut mid-name.
_WIDTH = None if sys.stdout.isatty() else 200
console = Console(highlight=False, soft_wrap=True, width=_WIDTH)
err_console = Console(stderr=True, highlight=False, soft_wrap=True, width=_WIDTH)


@dataclass
class StackResult:
    stack: str
    exit_code: int
    summary: str


def _short_type(type_: str) -> str:
    """``aws:ec2/vpc:Vpc`` -> ``aws:ec2:Vpc``, as ``pulumi preview`` prints it."""
    parts = type_.split(":")
    if len(parts) == 3 and "/" in parts[1]:
        return f"{parts[0]}:{parts[1].split('/')[0]}:{parts[2]}"
    return type_


def render_tree(plan: Plan) -> Tree:
    root_urn = f"urn:pulumi:{plan.stack}::{plan.project}::{STACK_TYPE}::{plan.project}-{plan.stack}"
    tree = Tree(f"[green]+[/] {STACK_TYPE}  [bold]{plan.project}-{plan.stack}[/]  create")
    nodes = {root_urn: tree}
    children: dict[str, list] = {}
    for resource in plan.resources:
        children.setdefault(resource.parent, []).append(resource)

    def add(parent_urn: str, node: Tree) -> None:
        for resource in sorted(children.get(parent_urn, []), key=lambda r: (r.custom, r.type, r.name)):
            lock = "  [yellow]\\[protect][/]" if resource.protect else ""
            child = node.add(f"[green]+[/] {_short_type(resource.type)}  [bold]{resource.name}[/]  create{lock}")
            nodes[resource.urn] = child
            add(resource.urn, child)

    add(root_urn, tree)
    orphans = [r for r in plan.resources if r.parent and r.parent not in nodes and r.parent != root_urn]
    for resource in orphans:
        tree.add(f"[red]?[/] {resource.type} {resource.name} (parent {resource.parent} not registered)")
    return tree


def counts_table(plan: Plan) -> Table:
    table = Table(title=f"Resources by type ({len(plan.resources)} to create)", title_justify="left")
    table.add_column("Type")
    table.add_column("Count", justify="right")
    for type_, count in plan.counts().items():
        table.add_row(type_, str(count))
    return table


def outputs_table(plan: Plan) -> Table:
    table = Table(title="Outputs", title_justify="left")
    table.add_column("Name")
    table.add_column("Value", overflow="fold")
    for name, value in plan.outputs.items():
        table.add_row(name, str(value))
    return table


def _program_frames(exc: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if str(ROOT) in (f.filename or "") and "/.venv/" not in f.filename and "/offline/" not in f.filename]
    return "".join(traceback.format_list(frames[-4:]))


def preview(stack: str, *, out_dir: Path, policies: bool, tree: bool) -> StackResult:
    from config import ConfigError

    plan_path = out_dir / stack / "plan.json"
    console.rule(f"[bold]Previewing stack {stack}[/] (offline: the Pulumi SDK's mock engine, no cloud)")
    if plan_path.exists():
        plan_path.unlink()  # never leave a stale plan behind a failed run
    try:
        plan = run_stack(stack)
    except ConfigError as exc:
        err_console.print(f"[red]error:[/] stack {stack}: the configuration is invalid; nothing was planned:")
        for line in exc.lines:
            err_console.print(f"  {line}", markup=False)
        return StackResult(stack, EXIT_CONFIG, "invalid configuration")
    except StackFileError as exc:
        err_console.print(f"[red]error:[/] {exc}", markup=False)
        return StackResult(stack, EXIT_CONFIG, "unreadable stack file")
    except DuplicateUrnError as exc:
        err_console.print(f"[red]error:[/] stack {stack}: {exc}", markup=False)
        return StackResult(stack, EXIT_FAILED, "duplicate URNs")
    except Exception as exc:  # the program itself failed: say where, in the program's own files
        err_console.print(f"[red]error:[/] stack {stack}: the program failed: {type(exc).__name__}: {exc}",
                          markup=False)
        frames = _program_frames(exc)
        if frames:
            err_console.print(frames.rstrip(), markup=False)
        return StackResult(stack, EXIT_FAILED, "program failed")

    for note in plan.notes:
        console.print(f"[yellow]note:[/] {note}", markup=True)
    if tree:
        console.print(render_tree(plan))
    console.print(counts_table(plan))
    console.print(outputs_table(plan))
    plan_path.parent.mkdir(parents=True, exist_ok=True)
    plan_path.write_text(plan.to_json())
    shown = plan_path.relative_to(ROOT) if plan_path.is_relative_to(ROOT) else plan_path
    summary = f"{len(plan.resources)} resources; plan {shown}"

    if not policies:
        return StackResult(stack, EXIT_OK, summary + "; policy pack skipped (--no-policy)")
    return _run_policies(plan, stack, out_dir, summary)


def _run_policies(plan: Plan, stack: str, out_dir: Path, summary: str) -> StackResult:
    pack_dir = ROOT / "policies"
    if not (pack_dir / "PulumiPolicy.yaml").exists():
        console.print("[yellow]note:[/] no policy pack in policies/ yet; policies not checked")
        return StackResult(stack, EXIT_OK, summary + "; no policy pack")
    from offline.compliance import write_compliance_report
    from offline.policy import PolicyPackError, run_policy_pack

    try:
        report = run_policy_pack(plan, stack)
    except PolicyPackError as exc:
        err_console.print(f"[red]error:[/] stack {stack}: the policy pack failed; this is not a pass:", markup=True)
        err_console.print(str(exc), markup=False)
        return StackResult(stack, EXIT_FAILED, summary + "; policy pack failed")
    compliance_path = out_dir / stack / "compliance.md"
    write_compliance_report(report, plan, compliance_path)
    print_policy_report(report)
    mandatory = len(report.mandatory)
    advisory = len(report.violations) - mandatory
    summary += f"; policies: {mandatory} mandatory, {advisory} advisory violation(s); {compliance_path.name}"
    return StackResult(stack, EXIT_FAILED if mandatory else EXIT_OK, summary)


def print_policy_report(report) -> None:  # type: ignore[no-untyped-def]
    console.print(f"Policy pack [bold]{report.pack_name}[/] {report.pack_version}: "
                  f"{len(report.policies)} policies")
    if not report.violations:
        console.print("[green]No policy violations.[/]")
        return
    by_policy: dict[str, list] = {}
    for violation in report.violations:
        by_policy.setdefault(violation.policy, []).append(violation)
    for policy, violations in sorted(by_policy.items()):
        level = violations[0].level
        colour = "red" if level == "mandatory" else "yellow"
        console.print(f"[{colour}]{level}[/] [bold]{policy}[/] ({len(violations)})")
        for violation in violations:
            where = violation.urn or "(stack)"
            console.print(f"    {where}", markup=False)
            console.print(f"      {violation.message}", markup=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m offline",
        description="Offline preview: the real program and policy pack under the Pulumi mock engine.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("preview", help="render stacks, write build/<stack>/plan.json, run the policy pack")
    p.add_argument("stacks", nargs="*", help="stack names (dev, staging, prod)")
    p.add_argument("--all", action="store_true", help="every Pulumi.<stack>.yaml in the project")
    p.add_argument("--no-policy", action="store_true", help="skip the policy pack")
    p.add_argument("--no-tree", action="store_true", help="print counts and outputs, not the resource tree")
    p.add_argument("--out", type=Path, default=ROOT / "build", help="where plan files go (default: build/)")
    args = parser.parse_args(argv)

    known = available_stacks()
    stacks = known if args.all else args.stacks
    if not stacks:
        parser.error(f"name a stack ({', '.join(known)}) or pass --all")
    unknown = [s for s in stacks if s not in known]
    if unknown:
        parser.error(f"unknown stack(s): {', '.join(unknown)}; stacks here: {', '.join(known)}")

    results = [preview(s, out_dir=args.out.resolve(), policies=not args.no_policy, tree=not args.no_tree)
               for s in stacks]
    console.rule("[bold]Summary[/]")
    for result in results:
        mark = "[green]ok[/]" if result.exit_code == EXIT_OK else "[red]FAILED[/]"
        console.print(f"{mark}  {result.stack}: {result.summary}")
    return max(r.exit_code for r in results)


if __name__ == "__main__":
    sys.exit(main())
