"""``python -m offline preview <stack>... | --all``: the offline preview; ``python -m offline cost ...``: the estimate.

For each stack: removes the previous ``build/<stack>/plan.json`` and reports, loads the stack file,
starts and configures every policy pack of ``offline.packs.PACKS`` (a bad policy config stops here,
before the render), runs the real ``__main__.py`` under the Pulumi SDK's mock engine, prints the
resource tree, counts per type and the outputs, runs each pack over the plan, prints each pack's
violations in its own section, and writes ``plan.json``, each pack's report and ``cost.md`` (the monthly estimate
from ``offline/pricing.yaml``, see ``offline/cost.py``) atomically at the end. ``cost`` renders without the packs and
writes ``cost.md`` only. Both refuse a stack whose AWS Budget is below its estimate (exit 2).

Exit codes (the highest of all stacks): 0 every stack rendered and no mandatory violation; 1 a
mandatory violation, the program failed, a pack is missing, incomplete or failed, or a file could not
be written; 2 bad configuration (stack file, config values, policy config, the pricing table, a budget below
the estimate) or bad usage; 130
interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python <project>/offline preview ...` from any directory
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import datetime
import importlib.metadata
import os
import traceback
from dataclasses import dataclass, field

from rich.text import Text

import offline.packs
from offline.cost import Estimate, budget_below_estimate, estimate
from offline.cost_report import render_cost_markdown, summary_line
from offline.engine import DuplicateUrnError, Plan, run, run_stack
from offline.files import remove, write_atomically
from offline.output import (
    console,
    counts_table,
    err_console,
    error,
    note,
    outputs_json,
    print_policy_report,
    render_tree,
)
from offline.packs import PACKS, PackMissingError, PackSpec, started_packs
from offline.policy import PolicyConfigError, PolicyPackError, PolicyPackSession, PolicyReport
from offline.pricing import PricingError, PricingTable, load_pricing
from offline.stackfile import ROOT, StackFileError, available_stacks, load_stack_file

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_INTERRUPTED = 0, 1, 2, 130
COST_REPORT = "cost.md"

EPILOG = f"""\
exit codes:
  0    every stack rendered and no policy pack found a mandatory violation
  1    a mandatory violation; the program failed; a policy pack is missing, registers fewer
       policies than it declares, or failed to run (never a pass); a report could not be written
  2    bad configuration (Pulumi.yaml, Pulumi.<stack>.yaml, a pack's config/<stack>.json,
       offline/pricing.yaml, budget.monthlyLimitUsd below the stack's estimate) or usage
  130  interrupted (Ctrl-C); no report of the interrupted stack is left behind

files read (from the project directory {ROOT}, wherever you run this from):
  Pulumi.yaml, Pulumi.<stack>.yaml, __main__.py, config.py, tiers/, components/
  {", ".join(f"{p.directory}/ (PulumiPolicy.yaml, config/<stack>.json)" for p in PACKS)}, offline/pricing.yaml

files written (each removed at the start of a run, written atomically at its end):
  <out>/<stack>/plan.json  {"  ".join(f"<out>/<stack>/{p.report}" for p in PACKS)}  <out>/<stack>/cost.md
  (`cost` writes <out>/<stack>/cost.md only)

from another directory: python {ROOT}/offline preview <stack>   (or: make -C {ROOT} preview)
"""


@dataclass
class StackResult:
    stack: str
    exit_code: int
    summary: str
    files: list[str] = field(default_factory=list)


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _program_frames(exc: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if str(ROOT) in (f.filename or "") and "/.venv/" not in f.filename and "/offline/" not in f.filename]
    return "".join(traceback.format_list(frames[-4:]))


def _version() -> str:
    def of(dist: str) -> str:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    return (f"offline preview of care-platform-infra {of('care-platform-infra')} (pulumi {of('pulumi')}, "
            f"pulumi-policy {of('pulumi-policy')}, pulumi-aws {of('pulumi-aws')})")


class _Failed(Exception):
    """A stack's run stopped: ``lines`` say why (the first is the ``error:`` line), ``code`` is the exit code."""

    def __init__(self, code: int, summary: str, *lines: str) -> None:
        super().__init__(lines[0] if lines else summary)
        self.code, self.summary, self.lines = code, summary, list(lines)


class StackRun:
    """One stack: clear stale files, start packs, render, analyze, write."""

    def __init__(self, stack: str, *, out_dir: Path, policies: bool, tree: bool,
                 packs: tuple[PackSpec, ...] | None = None, cost_only: bool = False) -> None:
        self.stack, self.out_dir, self.policies, self.tree = stack, out_dir, policies, tree
        self.packs = packs if packs is not None else offline.packs.PACKS
        self.cost_only = cost_only
        self.stack_dir = out_dir / stack
        self.plan_path = self.stack_dir / "plan.json"
        self.cost_path = self.stack_dir / COST_REPORT

    def _clear_stale(self) -> None:
        """Remove every file this run may write, so a failed run leaves nothing from an earlier one."""
        try:
            self.stack_dir.mkdir(parents=True, exist_ok=True)
            stale = [self.cost_path] if self.cost_only else [self.plan_path, self.cost_path,
                                                             *(self.stack_dir / s.report for s in self.packs)]
            removed = [p for p in stale if remove(p)]
            probe = self.stack_dir / ".write-test"
            probe.write_text("")
            probe.unlink()
        except OSError as exc:
            where = exc.filename or self.stack_dir
            raise _Failed(EXIT_FAILED, "cannot write reports",
                          f"stack {self.stack}: cannot write to {_shown(Path(where))}: {exc.strerror}") from None
        if self.cost_only:
            return
        if removed and not self.policies:
            note(f"--no-policy: no policy pack runs, so no compliance report is written (removed the previous "
                 f"{', '.join(_shown(p) for p in removed if p != self.plan_path) or 'plan'})")
        elif not self.policies:
            note("--no-policy: no policy pack runs, so no compliance report is written")

    def run(self) -> StackResult:
        what = "Estimating the monthly cost of" if self.cost_only else "Previewing"
        console.rule(Text(f"{what} stack {self.stack} (offline: the Pulumi SDK's mock engine, no cloud)",
                          style="bold"))
        try:
            self._clear_stale()
            try:
                stack_file = load_stack_file(self.stack)
            except StackFileError as exc:
                raise _Failed(EXIT_CONFIG, "unreadable stack file", str(exc)) from None
            self._check_config(stack_file.project, stack_file.values, stack_file.secret_keys)
            pricing = self._pricing()
            if self.cost_only:
                plan = self._render()
                est = self._cost(plan, pricing)
                return StackResult(self.stack, EXIT_OK, summary_line(est), self._write_cost(est))
            if not self.policies:
                plan = self._render()
                est = self._cost(plan, pricing)
                written = self._write(plan, [], est)
                return StackResult(self.stack, EXIT_OK, self._summary(plan, [], est, skipped=True), written)
            with started_packs(self.stack, project=stack_file.project, config_values=stack_file.values,
                               secret_keys=stack_file.secret_keys, packs=self.packs) as sessions:
                plan = self._render()
                reports = [(spec, self._analyze(spec, session, plan)) for spec, session in sessions]
            est = self._cost(plan, pricing)
            written = self._write(plan, reports, est)
            code = EXIT_FAILED if any(r.mandatory for _, r in reports) else EXIT_OK
            return StackResult(self.stack, code, self._summary(plan, reports, est), written)
        except _Failed as failed:
            for index, line in enumerate(failed.lines):
                if index == 0:
                    error(line)
                else:
                    err_console.print(line)
            return StackResult(self.stack, failed.code, failed.summary)
        except PolicyConfigError as exc:
            first, *rest = str(exc).splitlines()
            error(f"stack {self.stack}: bad policy config: {first}")
            for line in rest:
                err_console.print(line)
            return StackResult(self.stack, EXIT_CONFIG, "bad policy config; nothing was planned")
        except PackMissingError as exc:
            error(f"stack {self.stack}: {exc}")
            return StackResult(self.stack, EXIT_FAILED, "policy pack missing; nothing was checked")
        except PolicyPackError as exc:
            first, *rest = str(exc).splitlines()
            error(f"stack {self.stack}: {first}")
            for line in rest:
                err_console.print(line, style="dim")
            return StackResult(self.stack, EXIT_FAILED, "policy pack failed; this is not a pass")

    def _check_config(self, project: str, values: dict[str, str], secret_keys: list[str]) -> None:
        """Validate the stack's configuration (``config.load`` under the mock engine, no resources) before
        starting packs or rendering: the cheapest check first, and a bad value is exit 2 whatever else fails."""
        from config import ConfigError, load

        try:
            run(load, stack=self.stack, values=values, secret_keys=secret_keys, project=project)
        except ConfigError as exc:
            raise self._config_failure(exc) from None

    def _pricing(self) -> PricingTable:
        try:
            return load_pricing()
        except PricingError as exc:
            raise _Failed(EXIT_CONFIG, "unreadable pricing table", f"stack {self.stack}: {exc}") from None

    def _cost(self, plan: Plan, pricing: PricingTable) -> Estimate:
        """The estimate, printed; a budget below it stops the run (exit 2) before anything is written."""
        est = estimate(plan, pricing)
        console.print(Text.assemble(("Cost: ", "bold"), summary_line(est)))
        problem = budget_below_estimate(plan, est)
        if problem:
            raise _Failed(EXIT_CONFIG, "budget below the estimate", f"stack {self.stack}: {problem}")
        return est

    def _write_cost(self, est: Estimate) -> list[str]:
        try:
            write_atomically(self.cost_path, render_cost_markdown(est))
        except OSError as exc:
            raise _Failed(EXIT_FAILED, "cannot write reports",
                          f"stack {self.stack}: cannot write {_shown(self.cost_path)}: {exc.strerror}") from None
        return [_shown(self.cost_path)]

    def _config_failure(self, exc: Any) -> _Failed:
        return _Failed(EXIT_CONFIG, "invalid configuration",
                       f"stack {self.stack}: the configuration is invalid; nothing was planned:",
                       *(f"  {line}" for line in exc.lines))

    def _render(self) -> Plan:
        from config import ConfigError

        try:
            with console.status(f"rendering stack {self.stack} under the mock engine..."):
                plan = run_stack(self.stack)
        except ConfigError as exc:
            raise self._config_failure(exc) from None
        except StackFileError as exc:
            raise _Failed(EXIT_CONFIG, "unreadable stack file", str(exc)) from None
        except DuplicateUrnError as exc:
            raise _Failed(EXIT_FAILED, "duplicate URNs", f"stack {self.stack}: {exc}") from None
        except Exception as exc:  # the program itself failed: say where, in the program's own files
            frames = _program_frames(exc).rstrip()
            raise _Failed(EXIT_FAILED, "program failed",
                          f"stack {self.stack}: the program failed: {type(exc).__name__}: {exc}",
                          *([frames] if frames else [])) from None
        for message in plan.notes:
            note(message)
        if self.cost_only:
            return plan
        if self.tree:
            console.print(render_tree(plan))
        console.print(counts_table(plan))
        console.print(Text("Outputs (JSON, secrets masked):", style="bold"))
        console.print(outputs_json(plan))
        return plan

    def _analyze(self, spec: PackSpec, session: PolicyPackSession, plan: Plan) -> PolicyReport:
        console.rule(Text(f"Policy pack {spec.directory}/ ({_shown(spec.config_path(self.stack))})", style="bold"))
        with console.status(f"running policy pack {spec.directory}/ over {len(plan.resources)} resources..."):
            report = session.analyze(plan)
        print_policy_report(report, self.stack)
        return report

    def _write(self, plan: Plan, reports: list[tuple[PackSpec, PolicyReport]], est: Estimate) -> list[str]:
        from offline.compliance import Provenance, git_commit, write_compliance_report

        written = []
        path = self.plan_path
        try:
            text = plan.to_json()
            write_atomically(path, text)
            written.append(_shown(path))
            provenance = dict(commit=git_commit(ROOT), plan_sha256=plan.digest(),
                              time=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S"))
            for spec, report in reports:
                path = self.stack_dir / spec.report
                write_compliance_report(report, plan, path, provenance=Provenance(pack_dir=spec.directory,
                                                                                  **provenance))
                written.append(_shown(path))
        except OSError as exc:
            raise _Failed(EXIT_FAILED, "cannot write reports",
                          f"stack {self.stack}: cannot write {_shown(path)}: {exc.strerror}") from None
        return written + self._write_cost(est)

    def _summary(self, plan: Plan, reports: list[tuple[PackSpec, PolicyReport]], est: Estimate, *,
                 skipped: bool = False) -> str:
        parts = [f"{len(plan.resources)} resources"]
        if skipped:
            parts.append("policy packs skipped (--no-policy): not checked")
        for spec, report in reports:
            parts.append(f"{spec.directory}/: {len(report.mandatory)} mandatory, {len(report.advisory)} advisory "
                         "violation(s)")
        parts.append(summary_line(est))
        return "; ".join(parts)


def _parser() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser, argparse.ArgumentParser]:
    parser = argparse.ArgumentParser(
        prog="python -m offline",
        description="Offline preview: the real program and policy packs under the Pulumi mock engine, no cloud.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("preview", help="render stacks, run the policy packs, write build/<stack>/ reports",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("stacks", nargs="*", help="stack names (dev, staging, prod)")
    p.add_argument("--all", action="store_true", help="every Pulumi.<stack>.yaml in the project")
    p.add_argument("--no-policy", action="store_true",
                   help="skip the policy packs (no compliance report is written)")
    p.add_argument("--no-tree", action="store_true", help="print counts, outputs and policies, not the tree")
    p.add_argument("--out", type=Path, default=ROOT / "build",
                   help="directory for <stack>/plan.json and the reports (default: build/)")
    d = sub.add_parser("diff", help="Markdown of what HEAD changes against BASE, per stack (for a pull request)")
    d.add_argument("base", type=Path, help="a plan.json, or a directory of <stack>/plan.json (the base branch)")
    d.add_argument("head", type=Path, help="the same, for the change")
    m = sub.add_parser("promote", help="copy the image digest one stack runs into another stack's file")
    m.add_argument("app", help="the app's key under care-platform:apps (nlfhir, prmApi, prmWorker)")
    m.add_argument("--from", dest="source", required=True, help="the stack whose image is promoted (staging)")
    m.add_argument("--to", dest="target", required=True, help="the stack that gets it (prod)")
    c = sub.add_parser("cost", help="render stacks (no policy packs) and write build/<stack>/cost.md, the monthly "
                                    "estimate from offline/pricing.yaml", epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("stacks", nargs="*", help="stack names (dev, staging, prod)")
    c.add_argument("--all", action="store_true", help="every Pulumi.<stack>.yaml in the project")
    c.add_argument("--out", type=Path, default=ROOT / "build", help="directory for <stack>/cost.md (default: build/)")
    return parser, p, c


def _diff(base: Path, head: Path) -> int:
    from offline.diff import PlanError, render

    try:
        text = render(base, head)
    except PlanError as exc:
        error(str(exc))
        return EXIT_CONFIG
    sys.stdout.write(text)
    return EXIT_OK


def _promote(app: str, source: str, target: str) -> int:
    from offline.promote import PromotionError, promote

    try:
        result = promote(ROOT, app, source=source, target=target)
    except PromotionError as exc:
        error(str(exc))
        return EXIT_CONFIG
    console.print(result.summary(), markup=False, highlight=False)
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser, preview_parser, cost_parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "diff":
        return _diff(args.base, args.head)
    if args.command == "promote":
        return _promote(args.app, args.source, args.target)
    preview = cost_parser if args.command == "cost" else preview_parser
    known = available_stacks()
    stacks = known if args.all else args.stacks
    if not (ROOT / "Pulumi.yaml").is_file():
        error(f"no Pulumi.yaml in {ROOT}: the offline preview runs the project it belongs to")
        return EXIT_CONFIG
    if not stacks:
        preview.error(f"name a stack ({', '.join(known)}) or pass --all")
    unknown = [s for s in stacks if s not in known]
    if unknown:
        preview.error(f"unknown stack(s): {', '.join(unknown)}; stacks here: {', '.join(known)}")
    out = args.out.resolve()
    if out.exists() and not out.is_dir():
        preview.error(f"--out {args.out}: is a file, not a directory")

    results: list[StackResult] = []
    try:
        for stack in stacks:
            if args.command == "cost":
                results.append(StackRun(stack, out_dir=out, policies=False, tree=False, cost_only=True).run())
            else:
                results.append(StackRun(stack, out_dir=out, policies=not args.no_policy,
                                        tree=not args.no_tree).run())
    except KeyboardInterrupt:
        console.print()
        error(f"interrupted (Ctrl-C) during stack {stacks[len(results)]}: its plan and reports were removed, "
              "none written; exit 130")
        return EXIT_INTERRUPTED

    console.rule(Text("Summary", style="bold"))
    for result in results:
        mark = Text("ok    ", style="green") if result.exit_code == EXIT_OK else Text("FAILED", style="red")
        console.print(Text.assemble(mark, f"  {result.stack}: {result.summary}"))
        if result.files:
            console.print(f"        wrote {', '.join(result.files)}")
    return max(r.exit_code for r in results)


if __name__ == "__main__":
    code = main()
    if code == EXIT_INTERRUPTED:
        # The SDK's RPC threads may still be mid-call: exit now with the documented code instead of joining
        # them (the interpreter would otherwise die of the pending interrupt with -SIGINT).
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
