"""Issue #9: bad stack inputs are rejected with one line naming the key (stack file loader and config.load)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import config
from offline.engine import run
from offline.stackfile import ROOT, StackFileError, load_stack_file


def _project(tmp_path: Path, *, project_yaml: str | None = None, prod_yaml: str | None = None) -> Path:
    if project_yaml is None:
        shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    elif project_yaml:
        (tmp_path / "Pulumi.yaml").write_text(project_yaml)
    (tmp_path / "Pulumi.prod.yaml").write_text(prod_yaml if prod_yaml is not None
                                               else (ROOT / "Pulumi.prod.yaml").read_text())
    return tmp_path


def _load_error(root: Path) -> str:
    with pytest.raises(StackFileError) as caught:
        load_stack_file("prod", root)
    return str(caught.value)


def test_a_duplicated_yaml_key_is_an_error_naming_both_lines(tmp_path: Path) -> None:
    text = (ROOT / "Pulumi.prod.yaml").read_text().replace(
        "    shards: 3\n", "    shards: 3\n    shards: 1\n")
    root = _project(tmp_path, prod_yaml=text)
    line = text.splitlines().index("    shards: 1") + 1
    assert _load_error(root) == (f"Pulumi.prod.yaml: line {line}: key 'shards' is given twice (first on line "
                                 f"{line - 1}); YAML would silently keep the last one")


def test_a_project_file_without_a_name_is_one_line(tmp_path: Path) -> None:
    root = _project(tmp_path, project_yaml="runtime: python\n")
    assert _load_error(root) == "Pulumi.yaml: `name` is missing: the project needs a name (name: care-platform)"


def test_no_project_file_is_one_line(tmp_path: Path) -> None:
    root = _project(tmp_path, project_yaml="")
    assert _load_error(root) == (f"no Pulumi.yaml in {tmp_path}: run from the project directory, or pass the "
                                 "project's files there")


def test_a_plain_text_declared_secret_stays_plain_so_config_rejects_it(tmp_path: Path) -> None:
    text = (ROOT / "Pulumi.prod.yaml").read_text() + "  care-platform:pagerdutyIntegrationKey: R0123\n"
    stack_file = load_stack_file("prod", _project(tmp_path, prod_yaml=text))
    assert "care-platform:pagerdutyIntegrationKey" not in stack_file.secret_keys
    assert _load_lines(stack_file.values, stack_file.secret_keys) == [
        "prod: pagerdutyIntegrationKey: given in plain text: it must be a secret; run "
        "`pulumi config set --secret pagerdutyIntegrationKey <value> --stack prod`"]


def _load_lines(values: dict[str, str], secret_keys: list[str]) -> list[str]:
    with pytest.raises(config.ConfigError) as caught:
        run(config.load, stack="prod", values=values, secret_keys=secret_keys)
    return caught.value.lines


def _prod(**changes: str | None) -> list[str]:
    stack_file = load_stack_file("prod")
    values = dict(stack_file.values)
    for key, value in changes.items():
        if value is None:
            values.pop(key)
        else:
            values[key] = value
    return _load_lines(values, stack_file.secret_keys)


def test_an_undeclared_key_is_rejected_not_ignored() -> None:
    assert _prod(**{"care-platform:dbPassword": "hunter2"}) == [
        "prod: care-platform:dbPassword: not a setting of this project (it would be ignored); the settings are: "
        "alerting, apps, audit, backup, budget, cache, chromadb, ciAccess, database, edge, eks, encryption, "
        "environment, network, observability, pagerdutyCloudwatchUrl, pagerdutyIntegrationKey, protection, regions, "
        "storage, streaming"]


def test_a_misspelt_section_is_named_with_the_right_spelling() -> None:
    values = load_stack_file("prod").values
    assert _prod(**{"care-platform:netwrok": values["care-platform:network"], "care-platform:network": None}) == [
        "prod: care-platform:netwrok: not a setting of this project; did you mean care-platform:network?"]


def test_aws_region_must_equal_the_primary_region() -> None:
    assert _prod(**{"aws:region": "us-west-2"}) == [
        "prod: aws:region: 'us-west-2': must equal regions.primary (us-east-2); set both to the region the "
        "stack's workloads run in"]


def test_a_yaml_syntax_error_names_the_line_not_a_unicode_string(tmp_path: Path) -> None:
    text = (ROOT / "Pulumi.prod.yaml").read_text().replace("    shards: 3\n", "    shards: [3\n")
    root = _project(tmp_path, prod_yaml=text)
    line = text.splitlines().index("    shards: [3") + 2
    message = _load_error(root)
    assert message.startswith(f"Pulumi.prod.yaml: line {line}, column ")
    assert ": not valid YAML: while parsing a flow sequence; expected ',' or ']', but got " in message
    assert "<unicode string>" not in message
