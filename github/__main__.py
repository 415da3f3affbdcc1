"""care-github: the repository's delivery settings as code (docs/delivery.md).

- One GitHub Environment per stack (dev, staging, prod), named as the stacks: the deploy workflow's jobs
  run in them, the OIDC subject ``repo:<org>/<repo>:environment:<stack>`` is what the stack's CI deploy
  role trusts (components/ci_access.py), and prod waits for its required reviewers and admits only main.
- Branch protection on main: pull requests with approving reviews and the pull-request workflow's checks
  (lint, typecheck, test, offline preview, pulumi preview per stack), up to date with main, for admins too.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pulumi
import pulumi_github as github

# The Pulumi CLI runs this file with github/ as the working directory; import the model from the repository.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from github.settings import STACKS, Settings, SettingsError, load  # noqa: E402

try:
    settings: Settings = load(pulumi.Config("care-github").get("settings"))
except SettingsError as error:
    raise pulumi.RunError("invalid repository settings:\n  " + "\n  ".join(error.lines)) from None

environments = {}
for name in STACKS:
    env = settings.environments[name]
    custom = env.branches != "protected"
    reviewers = ([github.RepositoryEnvironmentReviewerArgs(teams=list(env.reviewer_team_ids),
                                                           users=list(env.reviewer_user_ids))]
                 if env.reviewer_team_ids or env.reviewer_user_ids else None)
    environments[name] = github.RepositoryEnvironment(
        f"environment-{name}", repository=settings.repository, environment=name,
        reviewers=reviewers, prevent_self_review=env.prevent_self_review, wait_timer=env.wait_timer,
        can_admins_bypass=False,
        deployment_branch_policy=github.RepositoryEnvironmentDeploymentBranchPolicyArgs(
            protected_branches=not custom, custom_branch_policies=custom))
    if custom:
        for pattern in env.branches:
            github.RepositoryEnvironmentDeploymentPolicy(
                f"environment-{name}-branch-{pattern}", repository=settings.repository, environment=name,
                branch_pattern=pattern, opts=pulumi.ResourceOptions(depends_on=[environments[name]]))

github.BranchProtection(
    f"protect-{settings.branch}", repository_id=settings.repository, pattern=settings.branch,
    enforce_admins=True, allows_deletions=False, allows_force_pushes=False, required_linear_history=True,
    require_conversation_resolution=True,
    required_status_checks=[github.BranchProtectionRequiredStatusCheckArgs(
        strict=True, contexts=list(settings.required_checks))],
    required_pull_request_reviews=[github.BranchProtectionRequiredPullRequestReviewArgs(
        required_approving_review_count=settings.required_approvals, dismiss_stale_reviews=True,
        require_last_push_approval=True)])

pulumi.export("environments", list(STACKS))
pulumi.export("requiredChecks", list(settings.required_checks))
