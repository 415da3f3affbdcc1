"""The feature-flag definitions of an app (``flags/<app>.json``), validated against AWS AppConfig's
``AWS.AppConfig.FeatureFlags`` type reference before they are uploaded.

The models follow the published JSON schema
(https://docs.aws.amazon.com/appconfig/latest/userguide/appconfig-type-reference-feature-flags.html):
``version`` "1"; flag and attribute keys ``^[a-z][a-zA-Z\\d_-]{0,63}$``; a flag's name (at most 64
characters, one line), description (at most 1024), ``_deprecation`` (``status: planned``) and at most
25 attributes with their constraints; every value has ``enabled`` and only attributes its flag
defines. Beyond the schema: every value names a defined flag and every flag has a value (AppConfig's
own validation refuses a value without a flag, and a flag without a value is never served).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints, ValidationError, model_validator

#: The repository root: ``apps.<app>.featureFlags.file`` is relative to it.
ROOT = Path(__file__).resolve().parents[2]

Key = Annotated[str, StringConstraints(pattern=r"^[a-z][a-zA-Z\d_-]{0,63}$")]
AttributeValue = str | int | float | bool | list[str] | list[int | float]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Deprecation(_Strict):
    status: Literal["planned"]
    date: dt.date | None = None


class AttributeConstraints(_Strict):
    type: Literal["string", "number", "boolean", "array"]
    required: bool = False
    pattern: str | None = None
    enum: list[str | int | float] | None = None
    minimum: float | None = None
    maximum: float | None = None
    elements: dict[str, Any] | None = None


class AttributeDefinition(_Strict):
    description: str | None = Field(default=None, max_length=1024)
    constraints: AttributeConstraints | None = None


class FlagDefinition(_Strict):
    name: str | None = Field(default=None, max_length=64, pattern=r"^[^\n]{1,64}$")
    description: str | None = Field(default=None, max_length=1024)
    created_at: str | None = Field(default=None, alias="_createdAt")
    updated_at: str | None = Field(default=None, alias="_updatedAt")
    deprecation: Deprecation | None = Field(default=None, alias="_deprecation")
    attributes: dict[Key, AttributeDefinition] = Field(default_factory=dict, max_length=25)


class FlagValue(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    enabled: StrictBool
    created_at: str | None = Field(default=None, alias="_createdAt")
    updated_at: str | None = Field(default=None, alias="_updatedAt")


class FeatureFlagsDocument(_Strict):
    version: Literal["1"]
    flags: dict[Key, FlagDefinition] = Field(default_factory=dict)
    values: dict[Key, FlagValue] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _values_match_flags(self) -> FeatureFlagsDocument:
        problems = [f"values.{k}: no flag of that name is defined" for k in sorted(set(self.values) - set(self.flags))]
        problems += [f"flags.{k}: has no value (add values.{k} with enabled)"
                     for k in sorted(set(self.flags) - set(self.values))]
        for key, value in sorted(self.values.items()):
            defined = self.flags[key].attributes if key in self.flags else {}
            for attribute in sorted(set(value.model_extra or {}) - set(defined)):
                problems.append(f"values.{key}.{attribute}: not an attribute of flag {key}")
            for attribute, definition in sorted(defined.items()):
                required = definition.constraints is not None and definition.constraints.required
                if required and attribute not in (value.model_extra or {}):
                    problems.append(f"values.{key}.{attribute}: the attribute is required")
        if problems:
            raise ValueError("; ".join(problems))
        return self


def load_flags(relative: str) -> str:
    """The flag definitions in ``relative`` as compact JSON (what AppConfig stores), after validation.

    Raises ``ValueError`` with one line naming the file and each problem.
    """
    path = ROOT / relative
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{relative}: no such file (the feature-flag definitions live in the repository)") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{relative}: not JSON ({error.msg} at line {error.lineno})") from None
    try:
        FeatureFlagsDocument.model_validate(document)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg'].removeprefix('Value error, ')}"
                             for e in error.errors())
        raise ValueError(f"{relative}: not a valid AWS.AppConfig.FeatureFlags document: {problems}") from None
    return json.dumps(document, sort_keys=True, separators=(",", ":"))
