"""The repository-settings program (github/), rendered offline through its real program and stack file."""

from __future__ import annotations

import json

import pytest
import yaml

from github.settings import SettingsError, load
from offline.engine import Plan, run_stack
from offline.stackfile import ROOT

GITHUB = ROOT / "github"


@pytest.fixture(scope="module")
def plan() -> Plan:
    return run_stack("repo", GITHUB)


def _settings() -> dict:
    return yaml.safe_load((GITHUB / "Pulumi.repo.yaml").read_text())["config"]["care-github:settings"]


def _workflow_checks() -> list[str]:
    """The check names the pull-request workflow reports: each job's name, matrix jobs once per entry."""
    workflow = yaml.safe_load((ROOT / ".github/workflows/pull-request.yml").read_text())
    names = []
    for job_id, job in workflow["jobs"].items():
        name = job.get("name", job_id)
        include = job.get("strategy", {}).get("matrix", {}).get("include")
        if include:
            names += [name.replace("${{ matrix.stack }}", entry["stack"]) for entry in include]
        else:
            names.append(name)
    return names


def test_branch_protection_requires_exactly_the_pull_request_workflows_checks(plan: Plan) -> None:
    protection = plan.named("protect-main").inputs
    assert protection["requiredStatusChecks"] == [{"contexts": _workflow_checks(), "strict": True}]
    assert _workflow_checks() == ["lint", "typecheck", "test", "offline preview", "pulumi preview (dev)",
                                  "pulumi preview (staging)", "pulumi preview (prod)"]
    assert (protection["pattern"], protection["repositoryId"], protection["enforceAdmins"],
            protection["allowsForcePushes"], protection["allowsDeletions"]) == (
        "main", "care-platform", True, False, False)
    assert protection["requiredPullRequestReviews"] == [{
        "dismissStaleReviews": True, "requireLastPushApproval": True, "requiredApprovingReviewCount": 1}]


def test_one_environment_per_stack_and_prod_needs_a_reviewer_and_main(plan: Plan) -> None:
    envs = {r.inputs["environment"]: r.inputs for r in plan.of_type(
        "github:index/repositoryEnvironment:RepositoryEnvironment")}
    assert sorted(envs) == sorted(p.name[len("Pulumi."):-len(".yaml")] for p in ROOT.glob("Pulumi.*.yaml"))
    assert envs["prod"]["reviewers"] == [{"teams": [4242001], "users": []}]
    assert envs["prod"]["preventSelfReview"] is True
    assert envs["prod"]["deploymentBranchPolicy"] == {"customBranchPolicies": True, "protectedBranches": False}
    assert envs["dev"]["deploymentBranchPolicy"] == {"customBranchPolicies": False, "protectedBranches": True}
    assert "reviewers" not in envs["dev"]
    assert all(e["canAdminsBypass"] is False for e in envs.values())
    (policy,) = plan.of_type("github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy")
    assert (policy.inputs["environment"], policy.inputs["branchPattern"]) == ("prod", "main")


@pytest.mark.parametrize(("change", "lines"), [
    (lambda s: s["environments"]["prod"].pop("reviewerTeamIds"),
     ["care-github:settings: environments.prod: needs reviewerTeamIds or reviewerUserIds (prod deploys wait for an "
      "approval)"]),
    (lambda s: s["environments"].pop("staging"),
     ["care-github:settings: environments: missing staging (one per stack)"]),
    (lambda s: s["environments"]["prod"].update(branches="protected"),
     ["care-github:settings: environments.prod.branches: name the branches that may deploy ([main])"]),
    (lambda s: s.update(requiredChecks=["lint"]),
     ["care-github:settings: requiredChecks: missing typecheck, test, offline preview"]),
    (lambda s: s["environments"]["dev"].update(waitTimer=50000),
     ["care-github:settings.environments.dev.waitTimer: Input should be less than or equal to 43200"]),
])
def test_bad_settings_are_one_line_each(change, lines: list[str]) -> None:
    settings = _settings()
    change(settings)
    with pytest.raises(SettingsError) as caught:
        load(json.dumps(settings))
    assert caught.value.lines == lines
