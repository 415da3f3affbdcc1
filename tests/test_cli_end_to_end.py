"""The offline CLI end to end, as a user runs it: `python -m offline preview ...` in a subprocess.

Renders are slow (seconds per stack), so every run is started once, all at the same time, as soon as
the session has collected these tests (tests/conftest.py), and runs while the rest of the suite does:

- ``--all`` in the project, plans to a temporary ``--out``, under a different ``PYTHONHASHSEED`` from the
  test process (its dev plan is compared with the in-process render: plans do not depend on hashing);
- ``dev`` in a copy of the project whose ``policies/config/dev.json`` makes ``rds-multi-az`` mandatory;
- ``dev`` in a copy whose pack has a module that raises on import, then ``dev --no-policy`` there.

(A missing pack and stale reports are issue #9's, with the CLI rewrite.)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from offline.stackfile import ROOT
from tests.helpers import rendered_stack

STACKS = ("dev", "staging", "prod")
IGNORED = shutil.ignore_patterns(".venv", "build", ".git", "__pycache__", ".pytest_cache", ".ruff_cache",
                                 ".mypy_cache", "mutants")
#: A hash seed for the subprocess that differs from the test process's (random unless PYTHONHASHSEED is set).
OTHER_SEED = "4242" if os.environ.get("PYTHONHASHSEED") != "4242" else "1717"


def copy_project(target: Path) -> Path:
    shutil.copytree(ROOT, target, ignore=IGNORED)
    (target / ".venv").symlink_to(ROOT / ".venv")  # the pack's PulumiPolicy.yaml names ../.venv
    return target


def offline(project: Path, *args: str, seed: str | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(project)}
    if seed is not None:
        env["PYTHONHASHSEED"] = seed
    return subprocess.Popen([sys.executable, "-m", "offline", *args], cwd=project, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str


@dataclass
class Runs:
    """The CLI runs the tests read; started once (in the background), awaited by the fixture."""

    workdir: Path | None = None
    results: dict[str, Run] = field(default_factory=dict)
    _thread: threading.Thread | None = None
    _error: BaseException | None = None

    def start(self) -> None:
        if self._thread is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="cli-e2e-"))
            self._thread = threading.Thread(target=self._run_all, daemon=True)
            self._thread.start()

    def wait(self) -> dict[str, Run]:
        self.start()
        assert self._thread is not None
        self._thread.join(timeout=600)
        if self._error is not None:
            raise self._error
        assert not self._thread.is_alive(), "the CLI runs did not finish in 10 minutes"
        return self.results

    def cleanup(self) -> None:
        if self.workdir is not None and (self._thread is None or not self._thread.is_alive()):
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _run_all(self) -> None:
        try:
            assert self.workdir is not None
            tight = copy_project(self.workdir / "tight")
            config = json.loads((tight / "policies" / "config" / "dev.json").read_text())
            del config["rds-multi-az"]  # `all` is mandatory: rds-multi-az becomes mandatory in dev
            (tight / "policies" / "config" / "dev.json").write_text(json.dumps(config, indent=2))
            broken = copy_project(self.workdir / "broken")
            (broken / "policies" / "broken_module.py").write_text(
                'raise RuntimeError("this module is broken on purpose")\n')
            main = broken / "policies" / "__main__.py"
            main.write_text(main.read_text().replace(
                "import audit_logging\n", "import audit_logging\nimport broken_module  # noqa: F401\n"))
            started = {
                "all": offline(ROOT, "preview", "--all", "--no-tree", "--out", str(self.workdir / "all"),
                               seed=OTHER_SEED),
                "tight": offline(tight, "preview", "dev", "--no-tree"),
                "broken": offline(broken, "preview", "dev", "--no-tree"),
            }
            for name, process in started.items():
                out, err = process.communicate(timeout=540)
                self.results[name] = Run(process.returncode, out, err)
            process = offline(broken, "preview", "dev", "--no-tree", "--no-policy", "--out",
                              str(broken / "build-no-policy"))
            out, err = process.communicate(timeout=300)
            self.results["no-policy"] = Run(process.returncode, out, err)
            self.results["projects"] = Run(0, str(tight), str(broken))
        except BaseException as exc:  # reported by wait(), in the test that needs the runs
            self._error = exc


RUNS = Runs()


@pytest.fixture(scope="module")
def runs() -> dict[str, Run]:
    return RUNS.wait()


def _show(run: Run) -> str:
    return f"exit {run.returncode}\n--- stdout\n{run.stdout[-3000:]}\n--- stderr\n{run.stderr[-3000:]}"


# --- the default run with the pack, every stack ------------------------------------------------------

def test_all_stacks_pass_the_pack_exit_zero_and_write_plans_and_reports(runs: dict[str, Run]) -> None:
    run = runs["all"]
    assert run.returncode == 0, _show(run)
    assert RUNS.workdir is not None
    for stack in STACKS:
        plan = json.loads((RUNS.workdir / "all" / stack / "plan.json").read_text())
        assert plan["stack"] == stack and plan["resourceCount"] == len(plan["resources"]) > 100
        compliance = (RUNS.workdir / "all" / stack / "compliance.md").read_text()
        assert "| FAIL |" not in compliance
        assert ("**Result: PASS**" in compliance) is (stack != "dev")  # dev has advisory findings
        assert "**Result: PASS**" in (RUNS.workdir / "all" / stack / "deploy.md").read_text()
        cost = (RUNS.workdir / "all" / stack / "cost.md").read_text()
        assert cost.startswith(f"# Monthly cost estimate: stack `{stack}`")
        summary = [line for line in run.stdout.splitlines()
                   if re.fullmatch(rf"ok +{stack}: \d+ resources; policies/: 0 mandatory, \d+ advisory violation\(s\); "
                                   r"policies/deploy/: 0 mandatory, 0 advisory violation\(s\); "
                                   r"estimate USD [\d,]+\.\d\d/month \(NL-FHIR share USD [\d,]+\.\d\d\); "
                                   # the two GuardDuty plans the table has no price for (tests/offline/test_cost.py)
                                   r"2 resource\(s\) UNPRICED \(aws:guardduty/detectorFeature:DetectorFeature\): "
                                   r"the estimate is a lower bound", line)]
        assert len(summary) == 1, run.stdout[-2000:]
    assert "Policy pack care-platform-hipaa" in run.stdout
    assert "Policy pack care-platform-deploy" in run.stdout


def test_plans_do_not_depend_on_the_hash_seed(runs: dict[str, Run]) -> None:
    """The subprocess ran with another PYTHONHASHSEED: its dev plan equals the in-process render, byte for byte."""
    assert RUNS.workdir is not None and runs["all"].returncode == 0
    written = (RUNS.workdir / "all" / "dev" / "plan.json").read_text()
    assert written == rendered_stack("dev").to_json()
    assert "[offline placeholder for secret" not in written


# --- a tightened policy config -------------------------------------------------------------------

def test_a_tightened_config_fails_the_run_and_names_the_violation(runs: dict[str, Run]) -> None:
    run = runs["tight"]
    assert run.returncode == 1, _show(run)
    lines = run.stdout.splitlines()
    assert any(re.match(r"mandatory +aws:rds:Instance care-dev-\S+ +rds-multi-az +", line) for line in lines), \
        run.stdout[-3000:]
    assert any("multiAz" in line for line in lines)
    assert any(re.match(r"FAILED +dev: \d+ resources; policies/: [1-9]\d* mandatory, ", line) for line in lines)
    tight = Path(runs["projects"].stdout)
    assert (tight / "build" / "dev" / "plan.json").is_file()
    assert "rds-multi-az" in (tight / "build" / "dev" / "compliance.md").read_text()


# --- a broken pack, and --no-policy --------------------------------------------------------------

def test_a_pack_that_fails_to_load_fails_the_run(runs: dict[str, Run]) -> None:
    run = runs["broken"]
    assert run.returncode == 1, _show(run)
    assert re.search(r"^error: stack dev: policy pack \S+/policies failed to start: ", run.stderr, re.MULTILINE)
    assert "this module is broken on purpose" in run.stderr
    assert re.search(r"^FAILED +dev: policy pack failed; this is not a pass$", run.stdout, re.MULTILINE), _show(run)
    assert "Traceback" not in run.stdout
    broken = Path(runs["projects"].stderr)
    assert not (broken / "build" / "dev" / "compliance.md").exists()


def test_no_policy_skips_the_pack_and_writes_only_the_plan(runs: dict[str, Run]) -> None:
    run = runs["no-policy"]
    assert run.returncode == 0, _show(run)  # the broken pack is not run at all
    broken = Path(runs["projects"].stderr)
    assert json.loads((broken / "build-no-policy" / "dev" / "plan.json").read_text())["stack"] == "dev"
    assert not (broken / "build-no-policy" / "dev" / "compliance.md").exists()
    assert "policy packs skipped (--no-policy): not checked" in run.stdout


# --- usage errors: exit code 2, nothing rendered ----------------------------------------------------

# (an unknown stack: tests/stacks/test_render.py)
@pytest.mark.parametrize("args", [[], ["preview"], ["preview", "--bogus-flag", "dev"], ["deploy", "dev"]],
                         ids=["no-command", "no-stack", "unknown-flag", "unknown-command"])
def test_usage_errors_exit_2_with_a_usage_line(args: list[str]) -> None:
    process = offline(ROOT, *args)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 2, (out, err)
    assert err.startswith("usage: python -m offline")
    assert "Traceback" not in err
