"""``build/<stack>/compliance.md``: HIPAA safeguard -> policies -> resources checked -> pass or fail.

Built from a :class:`offline.policy.PolicyReport` (what the pack reported, at the levels configured
for the stack) and the plan (what exists). Deterministic: no timestamps, everything sorted.

Where the facts come from, best source first:

- **Citation** of a policy: the ``framework.reference`` the pack sends in ``GetAnalyzerInfo``; else
  the pack's registry (``policies/common.py: REGISTRY``); else a ``164.3xx(...)`` reference found in
  the policy's description.
- **Resources checked** by a policy: the resource types the pack's registry declares for it; else,
  for a pack that marks other resources ``not_applicable``, every analyzed resource it did not skip;
  else unknown (the report says so rather than guessing).

The registry is read in a separate Python process (the pack's modules import each other by bare
name, e.g. ``from common import ...``, exactly as they do when the engine runs the pack), so
nothing of the pack leaks into this process.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from offline.engine import Plan
from offline.policy import PolicyInfo, PolicyReport, Violation

__all__ = ["HIPAA_SECTIONS", "PolicyResult", "Provenance", "compliance_results", "git_commit",
           "render_compliance_report",
           "write_compliance_report"]

#: HIPAA Security Rule (45 CFR 164 Subpart C) sections, for titles the pack does not supply.
HIPAA_SECTIONS: dict[str, str] = {
    "164.308(a)(1)(ii)(A)": "Security management process: risk analysis",
    "164.308(a)(1)(ii)(B)": "Security management process: risk management",
    "164.308(a)(1)(ii)(D)": "Information system activity review",
    "164.308(a)(3)(i)": "Workforce security",
    "164.308(a)(4)(i)": "Information access management",
    "164.308(a)(5)(ii)(C)": "Security awareness: log-in monitoring",
    "164.308(a)(6)(ii)": "Security incident procedures: response and reporting",
    "164.308(a)(7)(i)": "Contingency plan",
    "164.308(a)(7)(ii)(A)": "Contingency plan: data backup plan",
    "164.308(a)(7)(ii)(B)": "Contingency plan: disaster recovery plan",
    "164.308(a)(7)(ii)(C)": "Contingency plan: emergency mode operation plan",
    "164.310(a)(1)": "Facility access controls",
    "164.310(d)(1)": "Device and media controls",
    "164.310(d)(2)(iii)": "Device and media controls: accountability",
    "164.310(d)(2)(iv)": "Device and media controls: data backup and storage",
    "164.312(a)(1)": "Access control",
    "164.312(a)(2)(i)": "Access control: unique user identification",
    "164.312(a)(2)(iv)": "Access control: encryption and decryption",
    "164.312(b)": "Audit controls",
    "164.312(c)(1)": "Integrity",
    "164.312(c)(2)": "Integrity: mechanism to authenticate ePHI",
    "164.312(d)": "Person or entity authentication",
    "164.312(e)(1)": "Transmission security",
    "164.312(e)(2)(i)": "Transmission security: integrity controls",
    "164.312(e)(2)(ii)": "Transmission security: encryption",
}
_SAFEGUARDS = {"164.308": "Administrative safeguards", "164.310": "Physical safeguards",
               "164.312": "Technical safeguards"}
_CITATION = re.compile(r"164\.3(?:08|10|12)(?:\([a-z0-9]+\))+(?:\([A-Z]\))?")
UNCITED = "uncited"

PASS, FAIL, WARN, NA, DISABLED = "PASS", "FAIL", "WARN", "N/A", "DISABLED"


# --------------------------------------------------------------------------------------------------
# The pack's registry, read in a child process.

_REGISTRY_SCRIPT = r"""
import importlib, json, pathlib, sys
pack = pathlib.Path(sys.argv[1])
sys.path.insert(0, str(pack))
errors = []
for path in sorted(pack.glob("*.py")):
    if path.stem in ("__main__", "setup") or path.stem.startswith("test"):
        continue
    try:
        importlib.import_module(path.stem)
    except Exception as exc:  # reported, not fatal: the report falls back to other sources
        errors.append(f"{path.name}: {type(exc).__name__}: {exc}")
registry, sections = {}, {}
for module in list(sys.modules.values()):
    file = getattr(module, "__file__", None) or ""
    if not file.startswith(str(pack)):
        continue
    for name, info in (getattr(module, "REGISTRY", None) or {}).items():
        registry[name] = {
            "citation": getattr(info, "citation", "") or "",
            "concern": getattr(info, "concern", "") or "",
            "kind": getattr(info, "kind", "") or "",
            "types": sorted(getattr(info, "resource_types", ()) or ()),
        }
    sections.update(getattr(module, "HIPAA_SECTIONS", None) or {})
print(json.dumps({"policies": registry, "sections": sections, "errors": errors}, sort_keys=True))
"""


@lru_cache(maxsize=8)
def _registry_cached(pack_dir: str, stamp: tuple[tuple[str, int], ...]) -> dict[str, Any]:
    try:
        done = subprocess.run([sys.executable, "-c", _REGISTRY_SCRIPT, pack_dir], cwd=pack_dir,
                              capture_output=True, text=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"policies": {}, "sections": {}, "errors": [f"could not read the registry: {exc}"]}
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        return {"policies": {}, "sections": {}, "errors": [f"could not read the registry: {tail[0]}"]}
    return json.loads(done.stdout)


def load_registry(pack_dir: Path | None) -> dict[str, Any]:
    """``{"policies": {name: {citation, concern, kind, types}}, "sections": {...}, "errors": [...]}``."""
    if pack_dir is None or not Path(pack_dir).is_dir():
        return {"policies": {}, "sections": {}, "errors": []}
    stamp = tuple(sorted((p.name, p.stat().st_mtime_ns) for p in Path(pack_dir).glob("*.py")))
    return _registry_cached(str(Path(pack_dir).resolve()), stamp)


# --------------------------------------------------------------------------------------------------
# Results per policy.


@dataclass
class PolicyResult:
    policy: PolicyInfo
    citation: str
    citation_source: str  # "pack" (framework reference) | "registry" | "description" | "none"
    concern: str
    checked: list[tuple[str, str, str]] | None  # (type, name, urn) of resources checked; None = unknown
    violations: list[Violation] = field(default_factory=list)
    types: tuple[str, ...] = ()  # the resource types the policy applies to, where the registry says

    @property
    def passing(self) -> int | None:
        """Resources checked with no finding (``None`` when the resources checked are unknown)."""
        if self.checked is None:
            return None
        failed = {v.urn for v in self.violations}
        return sum(1 for _, _, urn in self.checked if urn not in failed)

    @property
    def why_not_applicable(self) -> str:
        if self.policy.level == "disabled":
            return "disabled by the stack's policy config"
        if self.types:
            kinds = sorted({_type_label(t) for t in self.types})
            return f"no {' or '.join(kinds)} in this stack"
        return "no resource of the kind it checks in this stack"

    @property
    def result(self) -> str:
        if self.policy.level == "disabled":
            return DISABLED
        if any(v.level == "mandatory" for v in self.violations):
            return FAIL
        if self.violations:
            return WARN
        if self.checked is not None and not self.checked:
            return NA
        return PASS


def _type_label(type_: str) -> str:
    """``aws:cloudfront/distribution:Distribution`` -> ``CloudFront Distribution`` (module and type)."""
    parts = type_.split(":")
    if len(parts) != 3:
        return type_
    module = parts[1].split("/")[0]
    names = {"cloudfront": "CloudFront", "rds": "RDS", "ec2": "EC2", "eks": "EKS", "s3": "S3", "kms": "KMS",
             "elasticache": "ElastiCache", "msk": "MSK", "wafv2": "WAF", "iam": "IAM", "lb": "load balancer",
             "backup": "AWS Backup", "cloudwatch": "CloudWatch", "cloudtrail": "CloudTrail", "sns": "SNS",
             "secretsmanager": "Secrets Manager", "guardduty": "GuardDuty", "apps/v1": "Kubernetes"}
    prefix = names.get(module, module)
    return f"{prefix} {parts[2]}" if prefix.lower() != parts[2].lower() else parts[2]


def _citation(info: PolicyInfo, registry: dict[str, Any]) -> tuple[str, str]:
    if info.reference and _CITATION.fullmatch(info.reference):
        return info.reference, "pack"
    entry = registry["policies"].get(info.name) or {}
    if entry.get("citation"):
        return entry["citation"], "registry"
    found = _CITATION.search(info.description)
    if found:
        return found.group(0), "description"
    return UNCITED, "none"


def compliance_results(report: PolicyReport, plan: Plan, registry: dict[str, Any] | None = None) -> list[PolicyResult]:
    registry = registry if registry is not None else load_registry(report.pack_dir)
    resources = {r.urn: r for r in plan.resources}
    violations = report.by_policy()
    results = []
    for info in report.policies:
        citation, source = _citation(info, registry)
        entry = registry["policies"].get(info.name) or {}
        checked: list[tuple[str, str, str]] | None
        if info.level == "disabled":
            checked = []
        elif entry.get("types"):
            types = set(entry["types"])
            checked = sorted((r.type, r.name, r.urn) for r in plan.resources if r.type in types)
        elif info.kind == "resource" and info.name in report.not_applicable:
            skipped = set(report.not_applicable[info.name])
            checked = sorted((resources[u].type, resources[u].name, u) for u in report.analyzed
                             if u not in skipped and u in resources)
        else:
            checked = None
        concern = entry.get("concern") or next((t for t in info.tags if t != "hipaa"), "")
        results.append(PolicyResult(info, citation, source, concern, checked, violations.get(info.name, []),
                                    tuple(entry.get("types") or ())))
    return results


# --------------------------------------------------------------------------------------------------
# Markdown.


def _section_key(citation: str) -> tuple[int, list[Any]]:
    if citation == UNCITED:
        return (1, [])
    parts = re.findall(r"\d+|[a-zA-Z]+", citation)
    return (0, [(0, int(p)) if p.isdigit() else (1, p) for p in parts])


def _overall(results: list[PolicyResult]) -> str:
    outcomes = {r.result for r in results}
    for outcome in (FAIL, WARN, PASS):
        if outcome in outcomes:
            return outcome
    return NA if NA in outcomes else DISABLED


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _outcome(violation: Violation) -> str:
    return FAIL if violation.level == "mandatory" else WARN


def _types_summary(checked: list[tuple[str, str, str]]) -> str:
    counts = Counter(t.split(":")[-1] for t, _, _ in checked)
    return ", ".join(f"{name} ×{n}" for name, n in sorted(counts.items()))


@dataclass(frozen=True)
class Provenance:
    """What a report is evidence of: the code (commit), when, and exactly which plan (its sha256)."""

    commit: str
    time: str
    plan_sha256: str
    pack_dir: str = "policies"


def git_commit(root: Path) -> str:
    """``git rev-parse HEAD`` of ``root``, marked when the work tree has changes; said honestly otherwise."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10,
                              check=False)
        if head.returncode != 0:
            return "unknown (not a git checkout, or no commit yet)"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown (git is not available)"
    commit = head.stdout.strip()
    if dirty.returncode != 0:
        return f"{commit} (uncommitted changes unknown)"
    return f"{commit} plus uncommitted changes" if dirty.stdout.strip() else commit


def render_compliance_report(report: PolicyReport, plan: Plan, registry: dict[str, Any] | None = None, *,
                             provenance: Provenance | None = None) -> str:
    registry = registry if registry is not None else load_registry(report.pack_dir)
    results = compliance_results(report, plan, registry)
    titles = {**HIPAA_SECTIONS, **registry.get("sections", {})}
    by_section: dict[str, list[PolicyResult]] = {}
    for result in results:
        by_section.setdefault(result.citation, []).append(result)
    sections = sorted(by_section, key=_section_key)

    mandatory, advisory = len(report.mandatory), len(report.advisory)
    pack_dir = provenance.pack_dir if provenance else "policies"
    cited = any(r.citation != UNCITED for r in results)  # a pack of other rules (e.g. deploy-stage) is no HIPAA report
    lines = [
        f"# {'HIPAA Security Rule compliance' if cited else 'Policy report'}: stack `{plan.stack}`",
        "",
        f"Policy pack `{report.pack_name}` {report.pack_version} ({len(report.policies)} policies) over the "
        f"{len(plan.resources)} resources of `{plan.project}` stack `{plan.stack}`, as rendered by the offline "
        "preview (`python -m offline preview " + plan.stack + "`). Levels are those of "
        f"`{pack_dir}/config/{plan.stack}.json`.",
        "",
    ]
    if provenance is not None:
        lines += [
            "| Evidence of | |",
            "|---|---|",
            f"| Commit | `{provenance.commit}` |",
            f"| Time (UTC) | {provenance.time} |",
            f"| Plan | `plan.json` sha256 `{provenance.plan_sha256}` |",
            f"| Policy pack | `{report.pack_name}` version {report.pack_version}, {len(report.policies)} policies "
            f"(`{pack_dir}/`) |",
            "",
        ]
    lines += [
        f"**Result: {_overall(results)}**: {mandatory} mandatory and {advisory} advisory violation(s).",
        "",
        "Results: PASS (every resource checked complies), FAIL (a mandatory violation), WARN (an advisory "
        "violation), N/A (no resource of the kind the policy checks exists in this stack: the reason is given), "
        "DISABLED (the stack's policy config disables it). Passing counts resources checked with no finding; "
        "failing and advisory count findings.",
        "",
        "## Summary",
        "",
        "| Safeguard | Section | Policies | Resources checked | Passing | Failing | Advisory | Result |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for citation in sections:
        group = by_section[citation]
        checked = {c[2] for r in group for c in (r.checked or [])}
        failing = sum(1 for r in group for v in r.violations if v.level == "mandatory")
        warned = sum(1 for r in group for v in r.violations if v.level != "mandatory")
        passing = sum(r.passing or 0 for r in group)
        unknown = "+" if any(r.checked is None for r in group) else ""
        label = _cell(f"{citation} {titles.get(citation, '')}".strip())
        outcome = _overall(group)
        if outcome == NA:
            outcome = f"N/A: {'; '.join(sorted({r.why_not_applicable for r in group}))}"
        lines.append(
            f"| {_SAFEGUARDS.get(citation[:7], 'Uncited')} | {label} | {len(group)} | {len(checked)}{unknown} | "
            f"{passing}{unknown} | {failing} | {warned} | {_cell(outcome)} |")

    notes = []
    if registry.get("errors"):
        notes += [f"registry: {e}" for e in registry["errors"]]
    by_source = Counter(r.citation_source for r in results)
    if by_source.get("description"):
        notes.append(f"{by_source['description']} citation(s) taken from policy descriptions (the pack sends no "
                     "framework reference for them).")
    if by_source.get("none"):
        uncited = ", ".join(sorted(r.policy.name for r in results if r.citation_source == "none"))
        notes.append(f"uncited policies: {uncited}")
    if any(r.checked is None for r in results):
        notes.append("`+`: some policies do not declare which resource types they check; their resources "
                     "checked are not counted.")
    if notes:
        lines += ["", "Notes:", ""] + [f"- {n}" for n in notes]

    current_safeguard = None
    for citation in sections:
        safeguard = _SAFEGUARDS.get(citation[:7], "Uncited policies")
        if safeguard != current_safeguard:
            current_safeguard = safeguard
            lines += ["", f"## {safeguard}" + (f" ({citation[:7]})" if citation != UNCITED else "")]
        group = sorted(by_section[citation], key=lambda r: r.policy.name)
        lines += ["", f"### {citation}: {titles.get(citation, '')}".rstrip(": "), "",
                  "| Policy | Level | What it checks | Resources checked | Result |", "|---|---|---|---|---|"]
        for r in group:
            if r.checked is None:
                checked_text = "not declared"
            elif not r.checked:
                checked_text = "0"
            else:
                checked_text = f"{len(r.checked)} ({_types_summary(r.checked)})"
            outcome = f"N/A: {r.why_not_applicable}" if r.result == NA else r.result
            lines.append(f"| `{r.policy.name}` | {r.policy.level} | {_cell(r.policy.description)} | "
                         f"{checked_text} | {_cell(outcome)} |")
        for r in group:
            if not r.checked and not r.violations:
                continue
            count = "resources checked not declared" if r.checked is None else f"{len(r.checked)} resource(s) checked"
            lines += ["", f"<details><summary><code>{r.policy.name}</code>: {r.result}, {count}</summary>", ""]
            by_urn: dict[str, list[Violation]] = {}
            for v in r.violations:
                by_urn.setdefault(v.urn, []).append(v)
            checked_urns = set()
            for type_, name, urn in r.checked or []:
                checked_urns.add(urn)
                if urn not in by_urn:
                    lines.append(f"- PASS `{name}` ({type_})")
                for v in by_urn.get(urn, []):
                    lines.append(f"- {_outcome(v)} `{name}` ({type_}): {_cell(v.detail)}")
            for v in r.violations:
                if v.urn not in checked_urns:
                    where = f"`{v.resource_name}` ({v.resource_type})" if v.resource_name else (v.urn or "the stack")
                    lines.append(f"- {_outcome(v)} {where}: {_cell(v.detail)}")
            lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


def write_compliance_report(report: PolicyReport, plan: Plan, path: Path, *,
                            provenance: Provenance | None = None) -> Path:
    """Write ``render_compliance_report`` to ``path`` (normally ``build/<stack>/compliance.md``), atomically."""
    from offline.files import write_atomically

    path = Path(path)
    text = render_compliance_report(report, plan, provenance=provenance)
    write_atomically(path, text.replace("Pulumi.<stack>.yaml", f"Pulumi.{plan.stack}.yaml"))
    return path
