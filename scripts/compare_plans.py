"""Compare offline plans before and after a refactoring: the same resources with the same inputs?

    python scripts/compare_plans.py BEFORE AFTER

BEFORE and AFTER are either two ``plan.json`` files or two directories of ``<stack>/plan.json``
(what ``python -m offline preview --all --out DIR`` writes). A resource is identified by its type
and logical name; everything else it was registered with must be the same, except what follows
from where it sits in the component tree:

- its ``urn`` and ``parent`` are ignored (moving a resource under another component changes both);
- URNs it refers to (``dependencies``, property dependencies, resource references in inputs) and
  its ``provider`` reference (``urn::id``) are compared as the referenced resource's (type, name).

So a re-parented resource is identical; a changed input, name (a removed plus an added resource),
``protect``, ``custom``, provider or dependency target is a difference, and so are added and removed
resources and changed stack outputs. JSON documents held in string inputs (IAM and key policies,
``allowedAccountIds``) are compared as parsed JSON, so a plan that stores them as strings and one
that stores them as nested JSON compare equal when the documents are. ``resourceCount`` and
``counts`` are derived from the resources and not compared separately.

Exit code: 0 every stack identical, 1 a difference (or a stack's plan on one side only), 2 bad usage
or an unreadable plan (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Never

from rich.console import Console

EXIT_SAME, EXIT_DIFFERENT, EXIT_USAGE = 0, 1, 2

#: Resource keys that only say where the resource sits in the tree.
IGNORED_KEYS = frozenset({"urn", "parent"})
#: Resource keys holding URN lists whose order carries no meaning.
DEPENDENCY_KEYS = frozenset({"dependencies"})
#: Keys (either spelling) of an ``input -> [URN]`` mapping.
PROPERTY_DEPENDENCY_KEYS = frozenset({"propertyDependencies", "property_dependencies"})
#: Plan keys derived from ``resources``.
DERIVED_PLAN_KEYS = frozenset({"resourceCount", "counts", "resources", "stack"})

_STACK_ORDER = {"dev": 0, "staging": 1, "prod": 2}
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_SHOW_LIMIT = 160


class PlanError(Exception):
    """A plan file that cannot be read or is not an offline plan (one line)."""


@dataclass(frozen=True, order=True)
class Ref:
    """A reference to a resource by what survives a move: its type and logical name."""

    type: str
    name: str

    def __str__(self) -> str:
        return f"{self.type} {self.name}"


def urn_ref(urn: str) -> Ref | None:
    """``urn:pulumi:<stack>::<project>::<parent$...$type>::<name>`` -> Ref(type, name); None if not a URN."""
    if not urn.startswith("urn:pulumi:"):
        return None
    parts = urn.split("::", 3)
    if len(parts) != 4 or not parts[2] or not parts[3]:
        return None
    return Ref(parts[2].rsplit("$", 1)[-1], parts[3])


def provider_ref(reference: str) -> Ref | str:
    """A provider reference ``<urn>::<id>`` -> the provider's Ref (the id follows from the name offline)."""
    if not reference:
        return ""
    urn = reference.rsplit("::", 1)[0] if reference.count("::") >= 4 else reference
    return urn_ref(urn) or reference


def normalize(value: Any) -> Any:
    """URN strings become Refs; strings holding a JSON object or array are parsed (recursively)."""
    if isinstance(value, dict):
        return {key: normalize(item) for key, item in value.items()}
    if isinstance(value, list):
        return [normalize(item) for item in value]
    if isinstance(value, str):
        ref = urn_ref(value)
        if ref is not None:
            return ref
        stripped = value.strip()
        if stripped[:1] in ("{", "["):
            try:
                parsed = json.loads(stripped)
            except ValueError:
                return value
            if isinstance(parsed, dict | list):
                return normalize(parsed)
    return value


def _sorted_refs(value: Any) -> Any:
    if isinstance(value, list):
        return sorted(set(value), key=lambda item: (str(type(item)), str(item)))
    return value


def normalize_resource(raw: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for key, value in raw.items():
        if key in IGNORED_KEYS:
            continue
        if key == "provider" and isinstance(value, str):
            body[key] = provider_ref(value)
        elif key in DEPENDENCY_KEYS:
            body[key] = _sorted_refs(normalize(value))
        elif key in PROPERTY_DEPENDENCY_KEYS and isinstance(value, dict):
            body[key] = {name: _sorted_refs(normalize(urns)) for name, urns in value.items()}
        else:
            body[key] = normalize(value)
    return body


@dataclass
class LoadedPlan:
    label: str
    document: dict[str, Any]
    #: (type, name) -> normalized resources with that identity (more than one is allowed, and compared as a set)
    resources: dict[Ref, list[dict[str, Any]]]

    @property
    def count(self) -> int:
        return sum(len(group) for group in self.resources.values())


def load_plan(path: Path) -> LoadedPlan:
    try:
        document = json.loads(path.read_text())
    except OSError as exc:
        raise PlanError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise PlanError(f"{path}: not JSON: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("resources"), list):
        raise PlanError(f"{path}: not an offline plan (no \"resources\" list)")
    resources: dict[Ref, list[dict[str, Any]]] = {}
    for index, raw in enumerate(document["resources"]):
        if not isinstance(raw, dict) or not isinstance(raw.get("type"), str) or not isinstance(raw.get("name"), str):
            raise PlanError(f"{path}: resources[{index}] has no string \"type\" and \"name\"")
        resources.setdefault(Ref(raw["type"], raw["name"]), []).append(normalize_resource(raw))
    label = str(document.get("stack") or path.parent.name)
    return LoadedPlan(label=label, document=document, resources=resources)


def _show(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str, separators=(", ", ": "))
    return text if len(text) <= _SHOW_LIMIT else text[:_SHOW_LIMIT - 1] + "…"


def _join(path: str, key: str) -> str:
    part = f".{key}" if _PLAIN_KEY.match(key) else f"[{json.dumps(key)}]"
    return (path + part).lstrip(".") if path else part.lstrip(".")


def diff_values(path: str, before: Any, after: Any) -> list[str]:
    """One line per differing leaf: ``path: before -> after`` (lists of equal length element by element)."""
    if before == after:
        return []
    if isinstance(before, dict) and isinstance(after, dict):
        lines: list[str] = []
        for key in sorted(set(before) | set(after)):
            where = _join(path, key)
            if key not in before:
                lines.append(f"{where}: added {_show(after[key])}")
            elif key not in after:
                lines.append(f"{where}: removed (was {_show(before[key])})")
            else:
                lines.extend(diff_values(where, before[key], after[key]))
        return lines
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        lines = []
        for index, (old, new) in enumerate(zip(before, after, strict=True)):
            lines.extend(diff_values(f"{path}[{index}]", old, new))
        return lines
    return [f"{path}: {_show(before)} -> {_show(after)}"]


def _diff_refs(path: str, before: Any, after: Any) -> list[str]:
    if not (isinstance(before, list) and isinstance(after, list)):
        return diff_values(path, before, after)
    old, new = set(map(str, before)), set(map(str, after))
    return [f"{path}: - {item}" for item in sorted(old - new)] + [f"{path}: + {item}" for item in sorted(new - old)]


def diff_resource(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for key in sorted(set(before) | set(after)):
        if key in DEPENDENCY_KEYS:
            lines.extend(_diff_refs(key, before.get(key, []), after.get(key, [])))
        elif key in PROPERTY_DEPENDENCY_KEYS:
            old, new = before.get(key) or {}, after.get(key) or {}
            for name in sorted(set(old) | set(new)):
                lines.extend(_diff_refs(_join(key, name), old.get(name, []), new.get(name, [])))
        elif key not in before:
            lines.append(f"{key}: added {_show(after[key])}")
        elif key not in after:
            lines.append(f"{key}: removed (was {_show(before[key])})")
        else:
            lines.extend(diff_values(key, before[key], after[key]))
    return lines


@dataclass
class Difference:
    headline: str
    details: list[str]


def _canonical(body: dict[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, default=str)


def compare(before: LoadedPlan, after: LoadedPlan) -> list[Difference]:
    """Every difference between two plans, resources in (type, name) order, then the other plan keys."""
    differences: list[Difference] = []
    for ref in sorted(set(before.resources) | set(after.resources)):
        old, new = before.resources.get(ref, []), after.resources.get(ref, [])
        if not new:
            differences.append(Difference(f"removed  {ref}", []))
        elif not old:
            differences.append(Difference(f"added    {ref}", []))
        elif len(old) == 1 and len(new) == 1:
            details = diff_resource(old[0], new[0])
            if details:
                differences.append(Difference(f"changed  {ref}", details))
        elif sorted(map(_canonical, old)) != sorted(map(_canonical, new)):
            differences.append(Difference(
                f"changed  {ref}",
                [f"{len(old)} resource(s) before and {len(new)} after share this type and name; they differ"]))
    for key in sorted((set(before.document) | set(after.document)) - DERIVED_PLAN_KEYS):
        if key not in after.document:
            differences.append(Difference(f"removed  {key}", []))
        elif key not in before.document:
            differences.append(Difference(f"added    {key}", []))
        else:
            details = diff_values(key, normalize(before.document[key]), normalize(after.document[key]))
            if details:
                differences.append(Difference(f"changed  {key}", details))
    return differences


def _plans_under(directory: Path) -> dict[str, Path]:
    return {path.parent.name: path for path in directory.glob("*/plan.json")}


def pairs(before: Path, after: Path) -> list[tuple[str, Path | None, Path | None]]:
    """(label, before plan, after plan) to compare; a side is None when that stack's plan is missing."""
    for path in (before, after):
        if not path.exists():
            raise PlanError(f"{path}: no such file or directory")
    if before.is_file() and after.is_file():
        return [("", before, after)]
    if before.is_dir() and after.is_dir():
        if (before / "plan.json").is_file() and (after / "plan.json").is_file():
            return [("", before / "plan.json", after / "plan.json")]
        old, new = _plans_under(before), _plans_under(after)
        if not old and not new:
            raise PlanError(f"no <stack>/plan.json under {before} or {after}")
        stacks = sorted(set(old) | set(new), key=lambda s: (_STACK_ORDER.get(s, 9), s))
        return [(stack, old.get(stack), new.get(stack)) for stack in stacks]
    raise PlanError(f"{before} and {after}: give two plan.json files or two directories of <stack>/plan.json")


def run(before: Path, after: Path, console: Console) -> int:
    """Print the comparison of every stack; return the exit code."""
    exit_code = EXIT_SAME
    for label, old_path, new_path in pairs(before, after):
        if old_path is None or new_path is None:
            missing = after if new_path is None else before
            console.print(f"[bold]{label}[/]: [red]no plan in {missing}[/]", markup=True)
            exit_code = EXIT_DIFFERENT
            continue
        old, new = load_plan(old_path), load_plan(new_path)
        name = label or (old.label if old.label == new.label else f"{old.label} -> {new.label}")
        differences = compare(old, new)
        if not differences:
            console.print(f"[bold]{name}[/]: [green]identical[/] ({old.count} resources)")
            continue
        exit_code = EXIT_DIFFERENT
        console.print(f"[bold]{name}[/]: [red]{len(differences)} difference(s)[/] "
                      f"({old.count} resources before, {new.count} after)")
        for difference in differences:
            console.print(f"  {difference.headline}", markup=False)
            for line in difference.details:
                console.print(f"      {line}", markup=False)
    return exit_code


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Never:  # one line, not the usage block
        Console(stderr=True, highlight=False, soft_wrap=True).print(f"error: {message}", markup=False)
        sys.exit(EXIT_USAGE)


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(
        prog="python scripts/compare_plans.py",
        description="Compare offline plans: the same resources with the same inputs, ignoring URNs and parents.",
    )
    parser.add_argument("before", type=Path, help="a plan.json, or a directory of <stack>/plan.json")
    parser.add_argument("after", type=Path, help="the same, after the change")
    args = parser.parse_args(argv)
    console = Console(highlight=False, soft_wrap=True)
    try:
        return run(args.before, args.after, console)
    except PlanError as exc:
        Console(stderr=True, highlight=False, soft_wrap=True).print(f"error: {exc}", markup=False)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
