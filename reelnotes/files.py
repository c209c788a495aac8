"""Writing files so that a reader never sees half of one."""

from __future__ import annotations

import os
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
