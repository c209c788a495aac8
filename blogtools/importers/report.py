"""The import report: what came over, what was guessed, what was left out, and why.

One `Report` per run. The importers count things (`count`) and add one line
per guess, dropped item or file left alone (`note`); `render` lays it out as
plain text: the totals first, then each section with its lines. The task
prints it, and a real run also saves it next to the manifest
(content/imports/<source>-report.txt).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

# Sections in the order they are shown.
SECTIONS = (
    "Repaired in the export",
    "Guesses",
    "Left empty",
    "Kept as drafts",
    "Posters",
    "Images",
    "Content",
    "Responses",
    "Redirects",
    "Dropped",
    "Left alone",
)


@dataclass
class Report:
    source: str  # "WordPress" or "Letterboxd"
    export: str
    dry_run: bool = False
    counts: Counter = field(default_factory=Counter)
    summary: list[str] = field(default_factory=list)
    lines: dict[str, list[str]] = field(default_factory=lambda: {s: [] for s in SECTIONS})

    def count(self, key: str, number: int = 1) -> None:
        self.counts[key] += number

    def note(self, section: str, line: str) -> None:
        self.lines.setdefault(section, []).append(line)

    def render(self) -> str:
        head = f"{self.source} import of {self.export}"
        if self.dry_run:
            head += " (dry run: nothing was written)"
        out = [head, ""]
        out += self.summary
        for section in self.lines:
            entries = self.lines[section]
            if entries:
                out += ["", f"{section} ({len(entries)}):"]
                out += [f"  - {entry}" for entry in entries]
        return "\n".join(out) + "\n"


def plural(number: int, noun: str, nouns: str | None = None) -> str:
    return f"{number} {noun if number == 1 else (nouns or noun + 's')}"
