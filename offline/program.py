"""Offline preview of the repository's smaller Pulumi programs (``oncall/``: PagerDuty).

``python -m offline.program oncall org`` runs ``oncall/__main__.py`` with ``oncall/Pulumi.org.yaml`` under the
same mock engine as the platform's preview, prints what it would create and its outputs (secrets masked),
and writes ``build/<program>-<stack>/plan.json``. There is no policy pack for these programs: what they
must satisfy is checked by their own config models (one line per problem) and their tests.
Exit codes as ``python -m offline preview``: 0 rendered, 1 the program failed, 2 bad arguments or config.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pulumi

from offline.engine import run_stack
from offline.files import write_atomically
from offline.output import console, counts_table, error, outputs_json, render_tree
from offline.stackfile import ROOT, StackFileError, available_stacks

#: The side programs, each a directory with its own Pulumi.yaml and stack files.
PROGRAMS = {"oncall": "PagerDuty on-call: services, integrations, schedules, escalation, event routing"}

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


def render(program: str, stack: str, *, out: Path, tree: bool = True) -> int:
    root = ROOT / program
    try:
        plan = run_stack(stack, root)
    except StackFileError as exc:
        error(str(exc))
        return EXIT_CONFIG
    except pulumi.RunError as exc:  # the program's own validation: one line per problem
        error(f"{program} stack {stack}: {exc}")
        return EXIT_CONFIG
    except Exception as exc:
        error(f"{program} stack {stack}: the program failed: {type(exc).__name__}: {exc}")
        return EXIT_FAILED
    if tree:
        console.print(render_tree(plan))
    console.print(counts_table(plan))
    console.print(outputs_json(plan))
    target = out / f"{program}-{stack}" / "plan.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(target, plan.to_json())
    console.print(f"ok  {program} {stack}: {len(plan.resources)} resources; wrote {target.relative_to(out.parent)}")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m offline.program", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("program", choices=sorted(PROGRAMS), help="; ".join(f"{k}: {v}" for k, v in PROGRAMS.items()))
    parser.add_argument("stack", nargs="?", help="stack name (default: the program's only stack)")
    parser.add_argument("--no-tree", action="store_true", help="print counts and outputs, not the tree")
    parser.add_argument("--out", type=Path, default=ROOT / "build", help="directory for plan.json (default: build/)")
    args = parser.parse_args(argv)
    stacks = available_stacks(ROOT / args.program)
    stack = args.stack or (stacks[0] if len(stacks) == 1 else None)
    if stack not in stacks:
        parser.error(f"{args.program}: name a stack ({', '.join(stacks)})")
    return render(args.program, stack, out=args.out.resolve(), tree=not args.no_tree)


if __name__ == "__main__":
    sys.exit(main())
