"""Writing files so that a reader never sees half of one."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def atomic_write(path: str | Path, data: bytes | str, *, encoding: str = "utf-8", durable: bool = True) -> None:
    """Replace `path` with `data` in one step: a reader sees the old file or the
    new one, never a mix, and a crash leaves no temporary file behind.

    The temporary file sits beside the target (same file system, so
    `os.replace` is atomic) and is flushed to disk before the rename, so a
    power cut cannot leave an empty file under the real name. `durable=False`
    skips that flush, for files that are rebuilt anyway (the live preview)."""
    path = Path(path)
    payload = data.encode(encoding) if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, staging = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(staging, 0o644)
        os.replace(staging, path)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise


def same_content(path: str | Path, payload: bytes) -> bool:
    """Whether `path` already holds exactly `payload` (a missing file does not)."""
    try:
        if os.stat(path).st_size != len(payload):
            return False
        with open(path, "rb") as handle:
            return handle.read() == payload
    except OSError:
        return False


def write_if_changed(path: str | Path, data: bytes | str, *, encoding: str = "utf-8") -> bool:
    """Write `data` to `path` unless the file already holds it; True when written.

    An unchanged file keeps its modification time, so a rebuild that changes
    nothing shows nothing changed to rsync, to a browser's cache check or to
    anyone looking. A changed file is replaced atomically (`atomic_write`,
    without the fsync: build output can always be built again); a new one is
    written in place, since no reader can be looking at it yet.
    """
    payload = data.encode(encoding) if isinstance(data, str) else data
    try:
        # "x": only when there is no file yet, which no reader can be looking at.
        with open(path, "xb") as handle:
            handle.write(payload)
        return True
    except FileNotFoundError:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with open(path, "xb") as handle:
            handle.write(payload)
        return True
    except FileExistsError:
        pass
    path = Path(path)
    if same_content(path, payload):
        return False
    fd, staging = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
        os.chmod(staging, 0o644)
        os.replace(staging, path)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
    return True


def files_equal(first: str | Path, second: str | Path) -> bool:
    """Whether two files hold the same bytes (the same file, linked, certainly does)."""
    try:
        a, b = os.stat(first), os.stat(second)
    except OSError:
        return False
    if (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino):
        return True
    if a.st_size != b.st_size:
        return False
    with open(first, "rb") as one, open(second, "rb") as other:
        while True:
            chunk = one.read(1 << 20)
            if chunk != other.read(1 << 20):
                return False
            if not chunk:
                return True


def place(source: str | Path, target: str | Path) -> bool:
    """Put a copy of `source` (a cache file) at `target`, unless it is there already.

    A hard link where possible (no bytes copied), a copy otherwise. The target
    is replaced in one step, so a server reading it never sees half a file.
    True when the target was written.
    """
    try:
        os.link(source, target)  # no file there yet: the link appears whole
        return True
    except FileExistsError:
        pass
    except FileNotFoundError:
        if not os.path.exists(source):
            raise
        Path(target).parent.mkdir(parents=True, exist_ok=True)  # then linked or copied below
    except OSError:
        pass  # links not possible here: copied below
    target = Path(target)
    if files_equal(source, target):
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    staging.unlink(missing_ok=True)
    try:
        try:
            os.link(source, staging)
        except OSError:  # another file system, or links not allowed
            shutil.copyfile(source, staging)
        os.replace(staging, target)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise
    return True


def sync_folder(source: str | Path, target: str | Path) -> int:
    """Make `target` hold exactly the files of `source`; unchanged files are left alone.

    Returns how many files were written or removed.
    """
    source, target = Path(source), Path(target)
    changed = 0
    wanted = set()
    for path in sorted(source.rglob("*")):
        if path.is_file():
            relative = path.relative_to(source)
            wanted.add(relative)
            changed += place(path, target / relative)
    if target.is_dir():
        for path in sorted(target.rglob("*"), reverse=True):
            relative = path.relative_to(target)
            if path.is_file() and relative not in wanted:
                path.unlink()
                changed += 1
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()
    return changed
