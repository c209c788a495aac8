"""Writing the output folder: files whose bytes did not change are left alone.

Pelican opens every page and feed for writing on every build, so a rebuild
that changes nothing still gives every file a new modification time (and a
moment when it is empty). `KeepUnchangedWriter` renders into memory and
writes a file only when its bytes differ from what is there: an unchanged
site rebuilds without touching a file, rsync and a browser's cache check see
nothing new, and a changed file is replaced in one step
(`reelnotes.files.write_if_changed`).

Pelican's rules about writing one path twice still hold: a second write of a
path is an error unless it is marked as an override, and once a path was
overridden, later plain writes to it are skipped.
"""

from __future__ import annotations

import fnmatch
import io
import logging
import shutil
from pathlib import Path

from pelican.writers import FileOverwriteFailedError, Writer

from reelnotes.files import files_equal, place, write_if_changed

logger = logging.getLogger(__name__)


class _Pending(io.StringIO):
    """A file being written: its text goes to disk when it is closed, if it changed."""

    def __init__(self, path: str | None, encoding: str):
        super().__init__()
        self.path, self.target_encoding = path, encoding

    def close(self) -> None:
        if not self.closed and self.path is not None:
            write_if_changed(self.path, self.getvalue(), encoding=self.target_encoding)
        super().close()


class KeepUnchangedWriter(Writer):
    def _open_w(self, filename, encoding, override=False):
        if filename in self._overridden_files:
            if override:
                raise FileOverwriteFailedError(f'Failed to overwrite "{filename}" a second time '
                                               "(it was overwritten before)")
            logger.info('Skipping "%s", not overwriting', filename)
            return _Pending(None, encoding)  # the overriding version stays
        if filename in self._written_files:
            if not override:
                raise FileOverwriteFailedError(f'Failed to overwrite "{filename}": this build already '
                                               "wrote it (set override=True if intended)")
            logger.info('Overwriting "%s"', filename)
        if override:
            self._overridden_files.add(filename)
        self._written_files.add(filename)
        return _Pending(filename, encoding)


def keep_unchanged_static(generator) -> None:
    """static_generator_finalized: copy static and theme files only when their bytes differ.

    Pelican copies every static file (the source posters) and the theme's
    static folder on every build, or, with STATIC_CHECK_IF_MODIFIED, trusts
    modification times, which miss a file replaced by an older one. Here the
    bytes decide: an unchanged file is left as it is.
    """
    output = Path(generator.output_path)

    def update_required(static) -> bool:
        return not files_equal(Path(generator.path) / static.source_path, output / static.save_as)

    def copy_paths(paths, source, destination, output_path, final_path=None):
        ignored = generator.settings.get("IGNORE_FILES") or ()
        for path in paths:
            origin = Path(source) / path
            target = Path(output_path) / destination / (final_path or path)
            if origin.is_file():
                target = target / origin.name if final_path else target
                _copy_if_changed(origin, target)
                continue
            for file in sorted(origin.rglob("*")):
                relative = file.relative_to(origin)
                if file.is_file() and not any(fnmatch.fnmatch(part, pattern)
                                              for part in relative.parts for pattern in ignored):
                    _copy_if_changed(file, target / relative)

    def link_or_copy(static) -> None:
        place(Path(generator.path) / static.source_path, output / static.save_as)

    # Pelican's StaticGenerator asks these for every file it might copy. A
    # static file is hard-linked where possible (no bytes copied), else copied;
    # never a symbolic link, which a deploy could copy as a link.
    generator._file_update_required = update_required
    generator._link_or_copy_staticfile = link_or_copy
    generator._copy_paths = copy_paths


def _copy_if_changed(source: Path, target: Path) -> None:
    if not files_equal(source, target):
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
