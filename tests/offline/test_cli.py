"""Issue #9: the offline preview's CLI fails closed, never leaves a stale report, and prints values literally.

Most cases call ``offline.__main__.main([...])`` in-process (capsys) with the render replaced by a tiny
plan or made to fail, so no case renders the real program (several seconds each); the cases that need a
real process (exit codes of a missing pack, Ctrl-C, another working directory) run a subprocess.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pulumi
import pytest

import offline.__main__ as cli
import offline.packs
from offline.engine import Plan
from offline.packs import PackSpec
from offline.stackfile import ROOT
from tests.helpers import render

SECRET_ARN = "arn:aws:secretsmanager:us-east-2:111111111111:secret:care-dev-db-AbCdEf"


def _tiny_plan() -> Plan:
    def build() -> None:
        pulumi.export("dbSecretArn", SECRET_ARN)
        pulumi.export("kubeconfig", pulumi.Output.secret("apiVersion: v1"))
        pulumi.export("markup", "[red]error:[/] :smile: [bold]x[/bold]")

    plan = render(build, stack="dev")
    plan.project = "care-platform"
    return plan


@pytest.fixture()
def tiny_render(monkeypatch: pytest.MonkeyPatch) -> Plan:
    plan = _tiny_plan()
    monkeypatch.setattr(cli, "run_stack", lambda stack: plan)
    return plan


@pytest.fixture()
def no_render(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(stack: str) -> Plan:
        raise AssertionError("the program was rendered")

    monkeypatch.setattr(cli, "run_stack", fail)


@pytest.fixture(scope="module")
def pack_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the real pack that runs with this interpreter (its virtualenv option dropped)."""
    target = tmp_path_factory.mktemp("pack") / "policies"
    shutil.copytree(ROOT / "policies", target, ignore=shutil.ignore_patterns("__pycache__"))
    (target / "PulumiPolicy.yaml").write_text("runtime: python\nversion: 1.0.0\n")
    return target


def _use_pack(monkeypatch: pytest.MonkeyPatch, pack: Path) -> None:
    monkeypatch.setattr(offline.packs, "PACKS", (PackSpec(str(pack), "compliance.md"),))


def _stale(out: Path, stack: str = "dev") -> tuple[Path, Path]:
    (out / stack).mkdir(parents=True, exist_ok=True)
    plan, report = out / stack / "plan.json", out / stack / "compliance.md"
    plan.write_text("{}")
    report.write_text("**Result: PASS**\n")
    return plan, report


# -- values are printed literally ---------------------------------------------------------------------------


def test_secret_arns_and_masks_round_trip_unchanged(tiny_render: Plan, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["preview", "dev", "--no-policy", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    outputs = json.loads(out.split("Outputs (JSON, secrets masked):\n", 1)[1].split("\n}\n", 1)[0] + "\n}")
    assert outputs == {"dbSecretArn": SECRET_ARN, "kubeconfig": "[secret]",
                       "markup": "[red]error:[/] :smile: [bold]x[/bold]"}
    assert f'"dbSecretArn": "{SECRET_ARN}"' in out  # `:secret:` is not an emoji, the ARN not cut
    assert '"kubeconfig": "[secret]"' in out


def test_error_lines_print_markup_literally(capsys: pytest.CaptureFixture[str]) -> None:
    cli.error("value [red]x[/] and :secret: stay")
    assert capsys.readouterr().err == "error: value [red]x[/] and :secret: stay\n"


# -- stale reports ------------------------------------------------------------------------------------------


def test_no_policy_removes_the_old_report_and_says_so(tiny_render: Plan, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    plan_path, report = _stale(tmp_path)
    assert cli.main(["preview", "dev", "--no-policy", "--no-tree", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert not report.exists()
    assert json.loads(plan_path.read_text())["stack"] == "dev"
    assert (f"note: --no-policy: no policy pack runs, so no compliance report is written (removed the previous "
            f"{report})") in out
    assert "ok      dev: 0 resources; policy packs skipped (--no-policy): not checked" in out
    assert f"        wrote {plan_path}" in out


def test_a_failed_render_leaves_no_plan_and_no_report(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from config import ConfigError

    def bad(stack: str) -> Plan:
        raise ConfigError(stack, ["dev: eks.version: 1.3: write the version as a string, \"1.30\""])

    monkeypatch.setattr(cli, "run_stack", bad)
    plan_path, report = _stale(tmp_path)
    assert cli.main(["preview", "dev", "--no-policy", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == ["error: stack dev: the configuration is invalid; nothing was planned:",
                   '  dev: eks.version: 1.3: write the version as a string, "1.30"']
    assert not plan_path.exists() and not report.exists()


def test_ctrl_c_in_process_exits_130_with_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    def interrupted(stack: str) -> Plan:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "run_stack", interrupted)
    plan_path, report = _stale(tmp_path)
    assert cli.main(["preview", "dev", "--no-policy", "--out", str(tmp_path)]) == 130
    assert capsys.readouterr().err == ("error: interrupted (Ctrl-C) during stack dev: its plan and reports were "
                                       "removed, none written; exit 130\n")
    assert not plan_path.exists() and not report.exists()


# -- file-system errors and usage ---------------------------------------------------------------------------


def test_out_pointing_at_a_file_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "a-file"
    target.write_text("")
    with pytest.raises(SystemExit) as caught:
        cli.main(["preview", "dev", "--out", str(target)])
    assert caught.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"python -m offline preview: error: --out {target}: is a file, not a directory")


def test_an_unwritable_stack_directory_is_one_line_before_the_render(no_render: None, tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "dev").write_text("not a directory")
    assert cli.main(["preview", "dev", "--out", str(tmp_path)]) == 1
    assert capsys.readouterr().err == f"error: stack dev: cannot write to {tmp_path / 'dev'}: File exists\n"


def test_a_read_only_file_system_at_the_end_is_one_line(tiny_render: Plan, monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def read_only(path: Path, text: str) -> None:
        raise OSError(30, "Read-only file system", str(path))

    monkeypatch.setattr(cli, "write_atomically", read_only)
    assert cli.main(["preview", "dev", "--no-policy", "--out", str(tmp_path)]) == 1
    assert capsys.readouterr().err == (f"error: stack dev: cannot write {tmp_path / 'dev' / 'plan.json'}: "
                                       "Read-only file system\n")


def test_help_lists_exit_codes_and_files(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main(["preview", "--help"])
    assert caught.value.code == 0
    out = capsys.readouterr().out
    assert "  130  interrupted (Ctrl-C); no report of the interrupted stack is left behind" in out
    assert "  Pulumi.yaml, Pulumi.<stack>.yaml, __main__.py, config.py, tiers/, components/" in out
    assert "  policies/ (PulumiPolicy.yaml, config/<stack>.json)" in out
    assert "  <out>/<stack>/plan.json  <out>/<stack>/compliance.md" in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main(["--version"])
    assert caught.value.code == 0
    assert capsys.readouterr().out.startswith("offline preview of care-platform-infra 0.1.0 (pulumi 3.")


# -- policy packs fail closed, checked before the render ----------------------------------------------------


def test_a_misspelt_policy_in_the_config_is_exit_2_before_the_render(
        no_render: None, pack_copy: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    config = json.loads((pack_copy / "config" / "dev.json").read_text())
    config["rds-multi-azz"] = "advisory"
    (pack_copy / "config" / "dev.json").write_text(json.dumps(config))
    _use_pack(monkeypatch, pack_copy)
    try:
        assert cli.main(["preview", "dev", "--out", str(tmp_path)]) == 2
    finally:
        shutil.copy(ROOT / "policies" / "config" / "dev.json", pack_copy / "config" / "dev.json")
    assert capsys.readouterr().err == (f"error: stack dev: bad policy config: {pack_copy}/config/dev.json: "
                                       "rds-multi-azz: not a policy of this pack; did you mean rds-multi-az?\n")


def test_a_pack_that_lost_a_module_is_exit_1_naming_what_is_missing(
        no_render: None, pack_copy: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    main = (pack_copy / "__main__.py").read_text()
    (pack_copy / "__main__.py").write_text(main.replace("        *tags.POLICIES,\n", ""))
    _use_pack(monkeypatch, pack_copy)
    try:
        assert cli.main(["preview", "dev", "--out", str(tmp_path)]) == 1
    finally:
        (pack_copy / "__main__.py").write_text(main)
    assert capsys.readouterr().err.splitlines()[0] == (
        f"error: stack dev: policy pack care-platform-hipaa ({pack_copy}/) registers 75 policies but declares 76 "
        f"(its registry (76) and {pack_copy}/README.md's table (76)): standard-tags not registered; check that "
        f"{pack_copy}/__main__.py loads every module. This is not a pass")


def _offline(project: Path, *args: str, cwd: Path | None = None, **kwargs: object) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(project)}
    return subprocess.Popen([sys.executable, "-m", "offline", "preview", *args], cwd=cwd or project, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def project_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("project") / "project"
    shutil.copytree(ROOT, target, ignore=shutil.ignore_patterns(".venv", "build", ".git", "__pycache__", "tests",
                                                                "docs", ".pytest_cache", ".ruff_cache", ".mypy_cache"))
    return target


def test_a_missing_pack_directory_fails_before_the_render(no_render: None, monkeypatch: pytest.MonkeyPatch,
                                                           tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(offline.packs, "PACKS", (PackSpec("policies-gone", "compliance.md"),))
    stale = _stale(tmp_path)
    assert cli.main(["preview", "dev", "--out", str(tmp_path)]) == 1
    assert capsys.readouterr().err == ("error: stack dev: policy pack policies-gone/ is missing: the stack cannot be "
                                       "checked; this is not a pass\n")
    assert not any(path.exists() for path in stale)


def test_a_missing_pack_fails_every_stack_and_leaves_no_stale_report(project_copy: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(project_copy, project)
    (project / "policies" / "PulumiPolicy.yaml").unlink()
    first_line = ("error: stack dev: policy pack policies/ has no PulumiPolicy.yaml: the stack cannot be checked; "
                  "this is not a pass")
    stale = [_stale(project / "build", stack) for stack in ("dev", "prod")]
    process = _offline(project, "dev", "prod")
    out, err = process.communicate(timeout=120)
    assert process.returncode == 1, err
    assert err.splitlines() == [first_line, first_line.replace("stack dev", "stack prod")]
    assert "FAILED  dev: policy pack missing; nothing was checked" in out
    assert "FAILED  prod: policy pack missing; nothing was checked" in out
    assert not any(path.exists() for pair in stale for path in pair)


def test_ctrl_c_during_the_render_exits_130(project_copy: Path, tmp_path: Path) -> None:
    # A copy whose program blocks first thing: the interrupt lands in the render whatever the machine's speed
    # (a render of dev takes about a second, so a fixed delay before the signal raced the render's end).
    project = tmp_path / "project"
    shutil.copytree(project_copy, project)
    program = project / "__main__.py"
    program.write_text("import time\n\ntime.sleep(120)  # interrupted by the test\n" + program.read_text())
    out_dir = tmp_path / "build"
    stale = _stale(out_dir)
    process = _offline(project, "dev", "--no-policy", "--no-tree", "--out", str(out_dir))
    assert process.stdout is not None
    line = process.stdout.readline()  # the rule printed once the stale files are gone and the render starts
    assert "Previewing stack dev" in line
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert err.splitlines() == ["error: interrupted (Ctrl-C) during stack dev: its plan and reports were removed, "
                                "none written; exit 130"]
    assert not any(path.exists() for path in stale)


def test_runs_from_another_directory(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "offline"), "preview", "qa"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, env={k: v for k, v in os.environ.items()
                                                                            if k != "PYTHONPATH"})
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == ("python -m offline preview: error: unknown stack(s): qa; stacks here: "
                                            "dev, staging, prod")


def test_the_readme_error_examples_are_what_the_code_prints(tmp_path: Path) -> None:
    from components.instance_classes import problem
    from offline.packs import PackMissingError, check_present
    from offline.policy import PolicyConfigError, reconcile_policy_config

    readme = (ROOT / "README.md").read_text()
    (tmp_path / "policies").mkdir()
    with pytest.raises(PackMissingError) as missing:
        check_present(PackSpec("policies", "compliance.md"), tmp_path)
    assert f"error: stack prod: {missing.value}\n" in readme

    class Info:  # the two fields reconcile_policy_config reads from the pack's PolicyInfo
        def __init__(self, name: str) -> None:
            self.name, self.enforcementLevel = name, 0

    with pytest.raises(PolicyConfigError) as misspelt:
        reconcile_policy_config([Info("rds-multi-az"), Info("rds-encrypted")], {},  # type: ignore[list-item]
                                {"rds-multi-azz": {"enforcementLevel": "advisory"}},
                                source="policies/config/prod.json")
    assert f"error: stack prod: bad policy config: {misspelt.value}\n" in readme
    message = problem("rds", "db.x99.huge")
    assert " ".join(f"`database.prm.instanceClass: 'db.x99.huge': {message}`".split()) in " ".join(readme.split())


def test_every_pack_of_the_list_runs_in_its_own_section_and_counts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """A second pack is one more PackSpec: started, reported in its own section and file, counted in the exit."""
    from tests.test_offline_policy import build, write_pack

    plan = render(build, stack="dev")
    plan.project = "care-platform"
    monkeypatch.setattr(cli, "run_stack", lambda stack: plan)
    strict, _ = write_pack(tmp_path / "strict")
    relaxed, _ = write_pack(tmp_path / "relaxed", config={"all": "advisory"})
    for pack in (strict, relaxed):
        (pack / "config" / "test.json").rename(pack / "config" / "dev.json")
    monkeypatch.setattr(offline.packs, "PACKS", (PackSpec(str(strict), "compliance.md"),
                                                 PackSpec(str(relaxed), "relaxed.md")))
    out_dir = tmp_path / "out"
    assert cli.main(["preview", "dev", "--no-tree", "--out", str(out_dir)]) == 1  # the strict pack's mandatory
    out = capsys.readouterr().out
    assert f"Policy pack {strict}/ ({strict}/config/dev.json)" in out
    assert f"Policy pack {relaxed}/ ({relaxed}/config/dev.json)" in out
    assert (f"FAILED  dev: {len(plan.resources)} resources; {strict}/: 1 mandatory, 2 advisory violation(s); "
            f"{relaxed}/: 0 mandatory, 3 advisory violation(s)") in out
    assert (out_dir / "dev" / "compliance.md").is_file() and (out_dir / "dev" / "relaxed.md").is_file()


def _with(**changes: object) -> object:
    """Pulumi.dev.yaml's config as the loader gives it, with ``section.key`` paths or full keys changed."""
    from offline.stackfile import load_stack_file

    stack_file = load_stack_file("dev")
    for key, value in changes.items():
        if "." in key:
            section, _, path = key.partition(".")
            full = f"care-platform:{section}"
            document = json.loads(stack_file.values[full])
            node = document
            *parents, last = path.split(".")
            for part in parents:
                node = node[part]
            node[last] = value
            stack_file.values[full] = json.dumps(document)
        elif value is None:
            stack_file.values.pop(key)
        else:
            stack_file.values[key] = str(value)
    return stack_file


BAD_INPUTS = [
    ("undeclared-key", {"care-platform:dbPassword": "hunter2"},
     "dev: care-platform:dbPassword: not a setting of this project (it would be ignored); the settings are: apps, "
     "backup, cache, chromadb, database, edge, eks, encryption, environment, network, observability, "
     "pagerdutyIntegrationKey, protection, regions, storage, streaming"),
    ("plain-text-secret", {"care-platform:pagerdutyIntegrationKey": "R0123"},
     "dev: pagerdutyIntegrationKey: given in plain text: it must be a secret; run `pulumi config set --secret "
     "pagerdutyIntegrationKey <value> --stack dev`"),
    ("aws-region", {"aws:region": "eu-west-1"},
     "dev: aws:region: 'eu-west-1': must equal regions.primary (us-east-2); set both to the region the stack's "
     "workloads run in"),
    ("rds-class", {"database.prm.instanceClass": "db.x99.huge"},
     "dev: database.prm.instanceClass: 'db.x99.huge': not an RDS PostgreSQL instance class AWS offers; did you "
     "mean db.x2g.large?"),
    ("ec2-type", {"eks.nodePools.app.instanceTypes": ["m5.gigantic"]},
     "dev: eks.nodePools.app.instanceTypes.0: 'm5.gigantic': not an EC2 instance type AWS offers"),
    ("digest", {"apps.nlfhir.image": "nl-fhir@sha256:nothex"},
     "dev: apps.nlfhir.image: 'nl-fhir@sha256:nothex': the digest after @sha256: must be 64 lowercase hexadecimal "
     "characters (it has 6 characters: 'nothex')"),
    ("yaml-number", {"eks.version": 1.3}, 'dev: eks.version: 1.3: write the version as a string, "1.30"'),
]


@pytest.mark.parametrize("changes, line", [c[1:] for c in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS])
def test_each_bad_input_is_exit_2_with_one_line_before_packs_or_render(
        changes: dict, line: str, no_render: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    stack_file = _with(**changes)
    if "care-platform:pagerdutyIntegrationKey" in changes:
        stack_file.secret_keys.remove("care-platform:pagerdutyIntegrationKey")  # type: ignore[attr-defined]
    monkeypatch.setattr(cli, "load_stack_file", lambda stack: stack_file)
    monkeypatch.setattr(offline.packs, "PACKS", (PackSpec("policies-never-started", "compliance.md"),))
    assert cli.main(["preview", "dev", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: stack dev: the configuration is invalid; nothing was planned:", f"  {line}"]


def test_a_duplicated_yaml_key_is_exit_2_with_one_line(no_render: None, monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from offline.stackfile import load_stack_file

    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    text = (ROOT / "Pulumi.dev.yaml").read_text().replace("  aws:region: us-east-2\n",
                                                          "  aws:region: us-east-2\n  aws:region: us-west-2\n")
    (tmp_path / "Pulumi.dev.yaml").write_text(text)
    monkeypatch.setattr(cli, "load_stack_file", lambda stack: load_stack_file(stack, tmp_path))
    assert cli.main(["preview", "dev", "--out", str(tmp_path / "out")]) == 2
    line = text.splitlines().index("  aws:region: us-west-2") + 1
    assert capsys.readouterr().err == (f"error: Pulumi.dev.yaml: line {line}: key 'aws:region' is given twice "
                                       f"(first on line {line - 1}); YAML would silently keep the last one\n")
