"""``python -m offline promote <app> --from staging --to prod``: move an image between environments by digest.

Images reach an environment only by promotion: this copies the exact image (its ``@sha256:`` digest) that
the source stack runs (``care-platform:apps.<app>.image`` in ``Pulumi.<from>.yaml``) into
``Pulumi.<to>.yaml`` and appends the promotion to ``docs/promotions.md`` (date, app, from, to, digest). Both
files are then committed in a pull request: the promotion is reviewed, and its history is git's.

The target keeps its own registry and repository (each account pulls from its own ECR; ECR replication or
a copy puts the same digest there, which is the same image byte for byte); only the tag and digest are
taken from the source. The edit is minimal: ruamel.yaml finds where the ``image:`` value sits, and only
that value is rewritten in the file's text, so comments, order and formatting stay as they were.

Refused, with one line: a source image pinned by tag only (a tag can move; a digest cannot), an unknown
app or stack, the same stack on both sides, or a target repository with a different name.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

_DIGEST = re.compile(r"^(?P<repo>[^@]+?)(?::(?P<tag>[^:/@]+))?@(?P<digest>sha256:[0-9a-f]{64})$")
_TAGGED = re.compile(r"^(?P<repo>[^@]+?)(?::(?P<tag>[^:/@]+))?$")
PROMOTIONS = Path("docs/promotions.md")
PROMOTIONS_HEADER = (
    "# Promotions\n\n"
    "Every image that moved between environments, appended by `python -m offline promote <app> --from <stack> "
    "--to <stack>` (see docs/delivery.md). Newest last.\n\n"
    "| Date (UTC) | App | From | To | Digest |\n"
    "|---|---|---|---|---|\n"
)


class PromotionError(Exception):
    """A promotion that cannot be made (one line)."""


@dataclass(frozen=True)
class Promotion:
    app: str
    source: str
    target: str
    digest: str
    old_image: str
    new_image: str
    stack_file: Path

    def summary(self) -> str:
        if self.old_image == self.new_image:
            return f"{self.app}: {self.target} already runs {self.digest}; recorded in {PROMOTIONS}"
        return (f"promoted {self.app} from {self.source} to {self.target}: {self.old_image} -> {self.new_image} "
                f"({self.stack_file.name}, {PROMOTIONS})")


def _project(root: Path) -> str:
    try:
        document = yaml.safe_load((root / "Pulumi.yaml").read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise PromotionError(f"cannot read {root / 'Pulumi.yaml'}: {exc}") from None
    return str(document["name"])


def _load(root: Path, stack: str) -> tuple[Path, str, Any]:
    path = root / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        known = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in root.glob("Pulumi.*.yaml"))
        raise PromotionError(f"no stack {stack!r} (no {path.name}); stacks here: {', '.join(known)}")
    text = path.read_text()
    try:
        return path, text, YAML().load(text)
    except YAMLError as exc:
        raise PromotionError(f"{path.name}: not valid YAML: {str(exc).splitlines()[0]}") from None


def _apps(document: Any, key: str, stack_file: str) -> Any:
    apps = (document or {}).get("config", {}).get(key)
    if not isinstance(apps, dict):
        raise PromotionError(f"{stack_file}: no {key} section")
    return apps


def _image(apps: Any, app: str, key: str, stack_file: str) -> str:
    if app not in apps:
        raise PromotionError(f"{stack_file}: no app {app!r} under {key} (apps: {', '.join(apps)})")
    image = apps[app].get("image") if isinstance(apps[app], dict) else None
    if not isinstance(image, str):
        raise PromotionError(f"{stack_file}: {key}.{app}.image is not set")
    return image


def promote(root: Path, app: str, *, source: str, target: str, today: datetime.date | None = None) -> Promotion:
    """Copy ``app``'s image digest from stack ``source`` into ``Pulumi.<target>.yaml``; record it."""
    if source == target:
        raise PromotionError(f"--from and --to are both {source!r}: promote between two stacks")
    key = f"{_project(root)}:apps"
    source_file, _, source_doc = _load(root, source)
    target_file, target_text, target_doc = _load(root, target)
    image = _image(_apps(source_doc, key, source_file.name), app, key, source_file.name)
    pinned = _DIGEST.match(image)
    if not pinned:
        raise PromotionError(f"{source_file.name}: {key}.{app}.image is {image}, a tag without a digest: pin "
                             f"{source} to the image it runs (repository@sha256:<digest>) before promoting it")
    target_apps = _apps(target_doc, key, target_file.name)
    old_image = _image(target_apps, app, key, target_file.name)
    current = _DIGEST.match(old_image) or _TAGGED.match(old_image)
    if current is None:
        raise PromotionError(f"{target_file.name}: {key}.{app}.image {old_image!r} is not an image reference")
    if current["repo"].rsplit("/", 1)[-1] != pinned["repo"].rsplit("/", 1)[-1]:
        raise PromotionError(f"{key}.{app}.image: {source} runs repository {pinned['repo']} but {target} uses "
                             f"{current['repo']}: not the same image repository")
    new_image = current["repo"] + (f":{pinned['tag']}" if pinned["tag"] else "") + f"@{pinned['digest']}"

    if new_image != old_image:
        line, column = target_apps[app].lc.value("image")
        lines = target_text.splitlines(keepends=True)
        text = lines[line]
        quote = text[column] if text[column] in "'\"" else ""
        written = f"{quote}{old_image}{quote}"
        if text[column:column + len(written)] != written:
            raise PromotionError(f"{target_file.name}: line {line + 1}: cannot find the image value to replace")
        lines[line] = text[:column] + f"{quote}{new_image}{quote}" + text[column + len(written):]
        new_text = "".join(lines)
        check = yaml.safe_load(new_text)
        if check["config"][key][app]["image"] != new_image:  # the edit must change exactly that value
            raise PromotionError(f"{target_file.name}: the edit did not set {key}.{app}.image")
        target_file.write_text(new_text)

    date = (today or datetime.datetime.now(datetime.UTC).date()).isoformat()
    log = root / PROMOTIONS
    existing = log.read_text() if log.is_file() else PROMOTIONS_HEADER
    if not existing.endswith("\n"):
        existing += "\n"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(existing + f"| {date} | {app} | {source} | {target} | `{pinned['digest']}` |\n")
    return Promotion(app, source, target, pinned["digest"], old_image, new_image, target_file)
