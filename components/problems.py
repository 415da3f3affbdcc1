"""A config validator's way to report several problems at once, each with its own key path.

Pydantic wraps a ``ValueError`` raised in a validator and keeps the exception in the error's
context; ``config.py`` finds a :class:`ConfigProblems` there and prints one line per problem,
with the path made absolute (``network`` + ``azCount`` -> ``network.azCount``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    path: tuple[str | int, ...]
    value: Any
    allowed: str


class ConfigProblems(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{'.'.join(map(str, p.path))}: {p.allowed}" for p in problems))


class ProblemCollector:
    """Collects problems in a model validator; ``raise_if_any()`` at the end."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, path: str | tuple[str | int, ...], value: Any, allowed: str) -> None:
        key = tuple(path.split(".")) if isinstance(path, str) else path
        self.problems.append(Problem(key, value, allowed))

    def raise_if_any(self) -> None:
        if self.problems:
            raise ConfigProblems(self.problems)
