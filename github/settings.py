"""The repository settings, validated before anything is sent to GitHub (one line per problem).

Read from ``care-github:settings``. GitHub constraints encoded here (GitHub REST API, "Create or update
an environment": at most 6 reviewers, ``wait_timer`` 0..43200 minutes, ``deployment_branch_policy`` is
either protected branches or custom branch policies, not both; pulumi-github ``RepositoryEnvironment``,
``RepositoryEnvironmentDeploymentPolicy`` and ``BranchProtection``):
- every stack of the platform (dev, staging, prod) has an environment, and prod has at least one reviewer
  (the deploy workflow's prod job waits for one of them) and deploys from named branches only;
- branch protection requires at least one approving review and at least the four gate checks.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

STACKS = ("dev", "staging", "prod")
GATE_CHECKS = ("lint", "typecheck", "test", "offline preview")


class Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


class Environment(Model):
    #: ``protected``: any protected branch; a list: exactly those branch name patterns.
    branches: Literal["protected"] | tuple[str, ...] = "protected"
    reviewer_team_ids: tuple[int, ...] = ()
    reviewer_user_ids: tuple[int, ...] = ()
    prevent_self_review: bool = False
    wait_timer: int = Field(default=0, ge=0, le=43200)

    @model_validator(mode="after")
    def _reviewers(self) -> Environment:
        if len(self.reviewer_team_ids) + len(self.reviewer_user_ids) > 6:
            raise ValueError("at most 6 reviewers (teams and users together) per environment")
        if isinstance(self.branches, tuple) and not self.branches:
            raise ValueError("branches: name at least one branch pattern, or say protected")
        return self


class Settings(Model):
    repository: str = Field(pattern=r"^[A-Za-z0-9._-]{1,100}$")
    branch: str = "main"
    required_checks: tuple[str, ...]
    required_approvals: int = Field(default=1, ge=1, le=6)
    environments: dict[str, Environment]

    @model_validator(mode="after")
    def _complete(self) -> Settings:
        problems = []
        missing = [s for s in STACKS if s not in self.environments]
        if missing:
            problems.append(f"environments: missing {', '.join(missing)} (one per stack)")
        prod = self.environments.get("prod")
        if prod is not None and not (prod.reviewer_team_ids or prod.reviewer_user_ids):
            problems.append("environments.prod: needs reviewerTeamIds or reviewerUserIds (prod deploys wait "
                            "for an approval)")
        if prod is not None and prod.branches == "protected":
            problems.append(f"environments.prod.branches: name the branches that may deploy ([{self.branch}])")
        absent = [c for c in GATE_CHECKS if c not in self.required_checks]
        if absent:
            problems.append(f"requiredChecks: missing {', '.join(absent)}")
        if problems:
            raise ValueError("\n".join(problems))
        return self


class SettingsError(Exception):
    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def load(raw: str | None) -> Settings:
    if raw is None:
        raise SettingsError(["care-github:settings is not set (see github/Pulumi.repo.yaml for the shape)"])
    try:
        return Settings.model_validate_json(raw)
    except ValidationError as exc:
        lines: list[str] = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"])
            for line in str(error["msg"]).removeprefix("Value error, ").splitlines():
                lines.append(f"care-github:settings{'.' + where if where else ''}: {line}")
        raise SettingsError(lines) from None
