"""Writing an import: staged, then moved into content/ in one go; safe to repeat.

Every file an import produces is first written into a private staging folder
next to content/. Only when the whole export has been read and converted are
the staged files moved into place (a rename each), followed by the manifest.
An import that stops half-way -- a broken export, a full disk, Ctrl-C --
leaves content/ exactly as it was. A dry run stages in a temporary folder
elsewhere and throws it away.

The manifest (`content/imports/<source>.json`) remembers what the importer
wrote: each file's SHA-256, which file each imported item became, each
response record and redirect row. On the next run that is how it knows,
without guessing, that

* a file whose content still matches the manifest is its own, unchanged by
  the writer: it may be updated;
* a file whose content differs was edited by the writer: it is left alone
  and listed in the report;
* a file the manifest lists but that is gone was deleted by the writer: it is
  not written again;
* a file the manifest does not list belongs to the writer: never touched
  (identical content is simply adopted).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ImportFailed

MANIFEST_FORMAT = 1
MANIFEST_DIR = "imports"

NEW, UPDATED, UNCHANGED = "new", "updated", "unchanged"
KEPT_EDITED, KEPT_DELETED, KEPT_FOREIGN = "kept-edited", "kept-deleted", "kept-foreign"
WRITTEN = (NEW, UPDATED)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def record_hash(record: dict) -> str:
    return sha256(json.dumps(record, sort_keys=True, ensure_ascii=False).encode("utf-8"))


@dataclass
class Manifest:
    """What the last import from one source wrote into content/."""

    path: Path
    source: str
    items: dict[str, dict] = field(default_factory=dict)  # origin id -> {"file": ..., "slug": ..., ...}
    files: dict[str, str] = field(default_factory=dict)  # path under content/ -> sha256
    records: dict[str, dict] = field(default_factory=dict)  # record id -> {"review": slug, "sha256": ...}
    redirects: dict[str, str] = field(default_factory=dict)  # old -> new, as written
    pending: dict[str, int | None] = field(default_factory=dict)  # record id -> moderation store row

    @classmethod
    def load(cls, content: Path, source: str) -> "Manifest":
        path = Path(content) / MANIFEST_DIR / f"{source}.json"
        manifest = cls(path, source)
        if not path.exists():
            return manifest
        shown = f"{Path(content).name}/{MANIFEST_DIR}/{path.name}"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ImportFailed(f"{shown}: cannot be read as the manifest of the last import ({exc}); "
                               "expected the JSON file the importer wrote (restore it from version "
                               "control, or delete it to import as if for the first time)") from None
        if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
            raise ImportFailed(f"{shown}: format: {data.get('format') if isinstance(data, dict) else data!r}: "
                               f"expected {MANIFEST_FORMAT} (a manifest written by this importer)")
        for name in ("items", "files", "records", "redirects", "pending"):
            value = data.get(name, {})
            if not isinstance(value, dict):
                raise ImportFailed(f"{shown}: {name}: expected an object")
            setattr(manifest, name, value)
        return manifest

    def dumps(self) -> bytes:
        data = {
            "format": MANIFEST_FORMAT,
            "source": self.source,
            "note": "Written by the importer: what it wrote, so the next import updates only that. "
                    "Delete an item's entries to import it again from scratch.",
            "items": dict(sorted(self.items.items())),
            "files": dict(sorted(self.files.items())),
            "records": dict(sorted(self.records.items())),
            "redirects": dict(sorted(self.redirects.items())),
            "pending": dict(sorted(self.pending.items())),
        }
        return (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


class Staging:
    """Files waiting to be moved into content/ (see the module docstring)."""

    def __init__(self, root: Path, content: Path, manifest: Manifest, dry_run: bool = False):
        self.root = Path(root)
        self.content = Path(content)
        self.manifest = manifest
        self.dry_run = dry_run
        try:
            self.folder = Path(tempfile.mkdtemp(prefix=".reelnotes-import-",
                                                dir=None if dry_run else self.root))
        except OSError as exc:
            raise ImportFailed(f"{self.root}: cannot create a staging folder there ({exc.strerror}); "
                               "expected a site folder the importer can write to") from None
        self.staged: dict[str, Path] = {}  # path under content/ -> staged copy
        self.outcomes: dict[str, str] = {}
        self.files = dict(manifest.files)  # the next manifest's file hashes

    # -- deciding --

    def outcome_for(self, rel: str, data: bytes) -> str:
        """What writing `data` to content/`rel` would do (see the module docstring)."""
        target = self.content / rel
        recorded = self.manifest.files.get(rel)
        if rel in self.staged:
            return UPDATED
        if not target.exists():
            return KEPT_DELETED if recorded else NEW
        try:
            current = sha256(target.read_bytes())
        except OSError as exc:
            raise ImportFailed(f"{target}: cannot be read ({exc.strerror})") from None
        if recorded is None:
            return UNCHANGED if current == sha256(data) else KEPT_FOREIGN
        if current != recorded:
            return KEPT_EDITED
        return UNCHANGED if current == sha256(data) else UPDATED

    def write(self, rel: str, data: bytes | str) -> str:
        """Stage `data` for content/`rel` if the rules allow; returns the outcome."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        outcome = self.outcome_for(rel, data)
        self.outcomes[rel] = outcome
        if outcome in (NEW, UPDATED):
            self._stage(rel, data)
            self.files[rel] = sha256(data)
        elif outcome == UNCHANGED:
            self.files[rel] = sha256(data)
        return outcome

    def write_shared(self, rel: str, data: bytes | str) -> str:
        """Stage a file the importer shares with the writer (the redirect table,
        response files), whose merge has already kept the writer's parts: it
        is written whenever it changes, and not tracked by hash."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        target = self.content / rel
        if target.exists() and target.read_bytes() == data:
            self.outcomes[rel] = UNCHANGED
            return UNCHANGED
        outcome = UPDATED if target.exists() else NEW
        self.outcomes[rel] = outcome
        self._stage(rel, data)
        return outcome

    def existing(self, rel: str) -> bytes | None:
        """The bytes content/`rel` will have after the commit (staged, or as it is now)."""
        if rel in self.staged:
            return self.staged[rel].read_bytes()
        target = self.content / rel
        return target.read_bytes() if target.is_file() else None

    def _stage(self, rel: str, data: bytes) -> None:
        path = self.folder / "content" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.staged[rel] = path

    # -- finishing --

    def count(self, outcome: str) -> int:
        return sum(1 for value in self.outcomes.values() if value == outcome)

    def commit(self, report_rel: str | None = None, report_text: str = "") -> None:
        """Move every staged file into content/, then the manifest and the report."""
        if self.dry_run:
            raise RuntimeError("a dry run never commits")
        self.manifest.files = self.files
        self._stage(self.manifest.path.relative_to(self.content).as_posix(), self.manifest.dumps())
        if report_rel:
            self._stage(report_rel, report_text.encode("utf-8"))
        try:
            for rel, staged in self.staged.items():
                target = self.content / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                os.chmod(staged, 0o644)
                try:
                    os.replace(staged, target)
                except OSError:
                    shutil.move(staged, target)  # content/ on another file system
        except OSError as exc:
            raise ImportFailed(f"{exc.filename or self.content}: cannot be written ({exc.strerror}); "
                               "some files of this import may be in place: run it again once the "
                               "folder is writable") from None
        finally:
            self.discard()

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
