"""Read a stack's configuration the way the Pulumi CLI hands it to the program.

The CLI merges ``Pulumi.yaml`` (project-level defaults) with ``Pulumi.<stack>.yaml`` and passes
every value as a string (objects and arrays JSON-encoded) keyed ``namespace:key``, plus the list of
keys that are secrets. Offline there is no secrets provider to decrypt ``secure:`` values, so each
becomes a clearly labelled placeholder that is still a secret; so does a secret the project
declares but the stack file does not set (a real run reports it as missing instead).
"""

from __future__ import annotations

import json
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent


class StackFileError(Exception):
    """The stack file is missing or is not the YAML Pulumi expects."""


@dataclass
class StackFileConfig:
    project: str
    stack: str
    values: dict[str, str]
    secret_keys: list[str]
    notes: list[str] = field(default_factory=list)


def placeholder(key: str) -> str:
    return f"[offline placeholder for secret {key}]"


def _encode(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, separators=(",", ":"), default=str)  # YAML dates and times as the text written


class _UniqueKeys:
    """A key given twice in one mapping is an error (YAML would keep the last)."""

    name: str

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)  # type: ignore[attr-defined]
            line = key_node.start_mark.line + 1
            if key in seen:
                raise StackFileError(f"{Path(self.name).name}: line {line}: key {key!r} is given twice "
                                     f"(first on line {seen[key]}); YAML would silently keep the last one")
            seen[key] = line
        return super().construct_mapping(node, deep=deep)  # type: ignore[misc,no-any-return]


class _UniqueKeyLoader(_UniqueKeys, yaml.SafeLoader):
    """YAML's safe loader in pure Python: its error messages are the ones we report."""


#: libyaml's parser (about ten times faster on the prod stack file) with the same safe constructor, when
#: PyYAML was built with it; a file it rejects is parsed again by the pure-Python loader for the message.
_FastUniqueKeyLoader: type[_UniqueKeys] | None = (
    type("_FastUniqueKeyLoader", (_UniqueKeys, yaml.CSafeLoader), {}) if yaml.__with_libyaml__ else None
)


def _parse(loader_class: type[_UniqueKeys], text: str, path: Path) -> Any:
    loader = loader_class(text)  # type: ignore[call-arg]
    loader.name = str(path)
    try:
        return loader.get_single_data()  # type: ignore[attr-defined]
    finally:
        loader.dispose()  # type: ignore[attr-defined]


def _load_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise StackFileError(f"no {path.name} in {path.parent}: run from the project directory, "
                             "or pass the project's files there") from None
    except OSError as exc:
        raise StackFileError(f"{path.name}: cannot read it: {exc.strerror}") from None
    data: Any = None
    parsed = False
    if _FastUniqueKeyLoader is not None:
        with suppress(yaml.YAMLError):
            data, parsed = _parse(_FastUniqueKeyLoader, text, path), True
    try:
        if not parsed:
            data = _parse(_UniqueKeyLoader, text, path)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        what = "; ".join(p for p in (exc.context, exc.problem) if p)
        raise StackFileError(f"{path.name}: {where}not valid YAML: {what}") from None
    except yaml.YAMLError as exc:
        raise StackFileError(f"{path.name}: not valid YAML: {' '.join(str(exc).split())}") from None
    data = data or {}
    if not isinstance(data, dict):
        raise StackFileError(f"{path.name}: must be a YAML mapping")
    return data


def available_stacks(root: Path = ROOT) -> list[str]:
    order = {"dev": 0, "staging": 1, "prod": 2}
    names = [p.name[len("Pulumi."):-len(".yaml")] for p in root.glob("Pulumi.*.yaml")]
    return sorted(names, key=lambda n: (order.get(n, 9), n))


def load_stack_file(stack: str, root: Path = ROOT) -> StackFileConfig:
    project_file = _load_yaml(root / "Pulumi.yaml")
    project = project_file.get("name")
    if not isinstance(project, str) or not project:
        raise StackFileError("Pulumi.yaml: `name` is missing: the project needs a name (name: care-platform)")
    path = root / f"Pulumi.{stack}.yaml"
    if not path.exists():
        raise StackFileError(
            f"no stack file Pulumi.{stack}.yaml (stacks here: {', '.join(available_stacks(root)) or 'none'})"
        )
    stack_config = _load_yaml(path).get("config") or {}
    if not isinstance(stack_config, dict):
        raise StackFileError(f"{path.name}: 'config' must be a mapping of key: value")

    values: dict[str, str] = {}
    secret_keys: list[str] = []
    notes: list[str] = []

    declared = project_file.get("config") or {}
    if not isinstance(declared, dict):
        raise StackFileError("Pulumi.yaml: 'config' must be a mapping of key: declaration")
    for key, spec in declared.items():
        full_key = key if ":" in key else f"{project}:{key}"
        if isinstance(spec, dict) and "default" in spec:
            values[full_key] = _encode(spec["default"])
        # A secret only when the stack file does not set it: a plain-text value stays plain text, so
        # that config.py rejects it (as `pulumi config set` without --secret would have stored it).
        unset = full_key not in stack_config and key not in stack_config
        if isinstance(spec, dict) and spec.get("secret") and unset:
            secret_keys.append(full_key)
            values[full_key] = placeholder(full_key)
            notes.append(f"{full_key}: secret not set in {path.name}; using an offline placeholder "
                         f"(set it with `pulumi config set --secret {key} <value> -s {stack}`)")

    for key, value in stack_config.items():
        full_key = key if ":" in key else f"{project}:{key}"
        if isinstance(value, dict) and set(value) == {"secure"}:
            values[full_key] = placeholder(full_key)
            if full_key not in secret_keys:
                secret_keys.append(full_key)
            notes.append(f"{full_key}: secure value cannot be decrypted offline; using a placeholder")
        else:
            values[full_key] = _encode(value)
    return StackFileConfig(project=project, stack=stack, values=values, secret_keys=sorted(secret_keys),
                           notes=notes)
