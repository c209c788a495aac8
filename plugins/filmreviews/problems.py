"""Problems: what the plugin found wrong, as records the build collects.

Every module of the plugin reports through `report(Problem(...))`. The problem
is logged as a warning (so a preview build shows it and carries on) and handed
to every active `collecting()` block, which is how `blogtools.build` learns
about it: as data, not by matching log text.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Problem:
    """One thing wrong: the file (or setting) it is in, the field, the bad value
    and what was expected. `kind` says what it is about: Review, Poster,
    Linkback, Search, Browse setting, Feed setting, Stats setting."""

    source_path: str
    field: str = ""
    value: object = ""  # shown with repr(); "" reads as (missing)
    expected: str = ""
    kind: str = "Review"

    def __str__(self) -> str:
        parts = [self.source_path] if self.source_path else []
        if self.field:
            parts.append(self.field)
            parts.append(f"{self.value!r}" if self.value != "" else "(missing)")
        if self.expected:
            parts.append(f"expected {self.expected}")
        return ": ".join(parts)

    @property
    def message(self) -> str:
        """As `invoke check` lists it: "Review problem: content/reviews/x.md: Year: ..."."""
        return f"{self.kind} problem: {self}"


_collections: list[list[Problem]] = []


def report(problem: Problem) -> None:
    """Log the problem as a warning and hand it to every active collection."""
    logger.warning("%s", problem.message)
    for collection in _collections:
        collection.append(problem)


def report_settings(problems, kind: str) -> None:
    """Report `reelnotes.settings.SettingProblem`s (a bad setting, default used)."""
    for problem in problems:
        report(Problem("", problem.name, problem.value, problem.expected, kind=kind))


def divert_to(collection: list[Problem]) -> None:
    """In a process that renders pages for a build (filmreviews.output), every
    problem from now on goes to `collection` alone, to be sent to the build."""
    _collections[:] = [collection]


@contextmanager
def collecting() -> Iterator[list[Problem]]:
    """The problems reported while the block runs (one build), in order."""
    collection: list[Problem] = []
    _collections.append(collection)
    try:
        yield collection
    finally:
        # By identity: two collections holding the same problems are equal lists.
        for index, active in enumerate(_collections):
            if active is collection:
                del _collections[index]
                break
