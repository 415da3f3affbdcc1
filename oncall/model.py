"""The on-call roster: who is on call for what, validated before anything is sent to PagerDuty.

Read from the stack file's ``care-oncall:roster`` mapping. Every rule PagerDuty would enforce only at
`pulumi up` (a rotation naming someone who is not on the team, a shift shorter than PagerDuty accepts,
an unknown time zone) is checked here and reported one line per problem.

PagerDuty constraints encoded here (PagerDuty REST API v2 reference, "Create an Escalation Policy" and
"Create a Schedule"; the pagerduty Terraform/Pulumi provider docs for escalation_policy and schedule):
- an escalation rule's ``escalation_delay_in_minutes`` is at least 1; ``num_loops`` is 0..9;
- a schedule layer's ``rotation_turn_length_seconds`` is at least 3600 (one hour);
- user roles are PagerDuty's: admin, limited_user, observer, owner, read_only_user, read_only_limited_user,
  restricted_access, user (``owner`` is the account owner and cannot be created).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

#: The platform's services in PagerDuty, keyed as the platform's alerts label them (``service`` label).
SERVICE_KEYS = ("nlfhir", "prm", "platform")

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")


class Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


class Person(Model):
    name: str = Field(min_length=1)
    email: str
    #: PagerDuty user role (the account owner is not managed here).
    role: Literal["admin", "limited_user", "observer", "read_only_user", "read_only_limited_user",
                  "restricted_access", "user"] = "user"

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not _EMAIL.fullmatch(value):
            raise ValueError(f"{value!r} is not an e-mail address")
        return value.lower()


class Team(Model):
    name: str = Field(min_length=1)
    #: The on-call rotation, in order: who is primary first, second, ... (e-mails of people).
    rotation: tuple[str, ...] = Field(min_length=2)
    #: The last escalation level: paged when neither primary nor secondary acknowledges.
    managers: tuple[str, ...] = Field(min_length=1)

    @field_validator("rotation", "managers")
    @classmethod
    def _lower(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        lowered = tuple(v.lower() for v in value)
        if len(set(lowered)) != len(lowered):
            raise ValueError("names someone twice")
        return lowered


class Service(Model):
    name: str = Field(min_length=1)
    description: str = Field(min_length=1)
    team: str


class Escalation(Model):
    #: Minutes before an unacknowledged incident goes from primary to secondary, and from secondary to the
    #: managers. With MTTD < 15 min (EPIC-024), the defaults bring in a second person within 10 minutes.
    primary_minutes: int = Field(default=10, ge=1)
    secondary_minutes: int = Field(default=10, ge=1)
    #: How many times the whole policy repeats (PagerDuty accepts 0..9).
    loops: int = Field(default=2, ge=0, le=9)


class Rotation(Model):
    time_zone: str = "America/New_York"
    #: When the first shift starts (ISO 8601 with offset); the rotation is anchored there.
    start: datetime
    #: Shift length in hours (PagerDuty's minimum is one hour); a week by default.
    shift_hours: int = Field(default=168, ge=1)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. America/New_York)") from None
        return value

    @field_validator("start")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("needs a UTC offset, e.g. 2027-01-04T09:00:00-05:00")
        return value


class Roster(Model):
    people: tuple[Person, ...] = Field(min_length=2)
    teams: dict[str, Team]
    services: dict[str, Service]
    rotation: Rotation
    escalation: Escalation = Escalation()

    @model_validator(mode="after")
    def _consistent(self) -> Roster:
        problems: list[str] = []
        emails = [p.email for p in self.people]
        for email in sorted({e for e in emails if emails.count(e) > 1}):
            problems.append(f"people: {email} is listed twice")
        locals_ = [e.split("@")[0] for e in set(emails)]
        for local in sorted({x for x in locals_ if locals_.count(x) > 1}):
            problems.append(f"people: two addresses share the name {local!r} before the @ (it names their "
                            "PagerDuty resources)")
        known = set(emails)
        for key, team in self.teams.items():
            for field in ("rotation", "managers"):
                for email in getattr(team, field):
                    if email not in known:
                        problems.append(f"teams.{key}.{field}: {email} is not in people")
        missing = [k for k in SERVICE_KEYS if k not in self.services]
        if missing:
            problems.append(f"services: missing {', '.join(missing)} (the platform's alerts are labelled "
                            f"service={'|'.join(SERVICE_KEYS)})")
        for key in sorted(set(self.services) - set(SERVICE_KEYS)):
            problems.append(f"services.{key}: unknown service (known: {', '.join(SERVICE_KEYS)})")
        for key, service in self.services.items():
            if service.team not in self.teams:
                problems.append(f"services.{key}.team: {service.team!r} is not a team (teams: {', '.join(self.teams)})")
        if "platform" not in self.teams:
            problems.append("teams: a 'platform' team is required (it owns the AWS-managed services' alarms)")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def person(self, email: str) -> Person:
        return next(p for p in self.people if p.email == email)


class RosterError(Exception):
    """The roster is missing or invalid; ``lines`` are one problem each."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def load(raw: str | None) -> Roster:
    """The roster from the stack's ``care-oncall:roster`` JSON, or RosterError with one line per problem."""
    if raw is None:
        raise RosterError(["care-oncall:roster is not set (see oncall/Pulumi.org.yaml for the shape)"])
    try:
        return Roster.model_validate_json(raw)
    except ValidationError as exc:
        lines: list[str] = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"])
            message = str(error["msg"]).removeprefix("Value error, ")
            for line in message.splitlines():
                lines.append(f"care-oncall:roster{'.' + where if where else ''}: {line}")
        raise RosterError(lines) from None
