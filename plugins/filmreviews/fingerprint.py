"""Fingerprints: what a cached result depends on besides its own input, as one hash.

A cache entry is only reused when its fingerprint matches, so a fingerprint
must name everything that can change the result: settings, the code that
produced it, and the versions of the libraries that did the work. The caches
(content_cache, posters/cache) each say which of these they depend on.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import platform
import types
from pathlib import Path


def digest(*parts) -> str:
    """A hex SHA-256 of the parts, each made stable with `stable`."""
    return hashlib.sha256(json.dumps([stable(p) for p in parts], sort_keys=True,
                                     ensure_ascii=False).encode("utf-8")).hexdigest()


def stable(value):
    """`value` as plain JSON data that is the same in every process.

    Dicts and sequences are walked; functions and classes are named by where
    they are defined and hashed by their code; anything else by its type and
    repr, minus the memory addresses a default repr carries.
    """
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return {"dict": sorted(([stable(k), stable(v)] for k, v in value.items()), key=json.dumps)}
    if isinstance(value, (list, tuple)):
        return [stable(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return {"set": sorted((stable(v) for v in value), key=json.dumps)}
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (types.FunctionType, types.MethodType, type)):
        code = getattr(value, "__code__", None)
        return {"code": f"{value.__module__}.{value.__qualname__}",
                "bytes": hashlib.sha256(code.co_code).hexdigest() if code else ""}
    text = repr(value)
    if " at 0x" in text:  # <object at 0x7f...>: the address differs in every process
        text = text.split(" at 0x")[0]
    return {"object": f"{type(value).__module__}.{type(value).__qualname__}", "repr": text}


def files_digest(folders, pattern: str = "*.py") -> str:
    """A hash of every file matching `pattern` under `folders` (names and bytes)."""
    hashed = hashlib.sha256()
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob(pattern)):
            if "__pycache__" in path.parts or not path.is_file():
                continue
            hashed.update(f"{path.relative_to(folder).as_posix()}\0".encode())
            hashed.update(path.read_bytes())
    return hashed.hexdigest()


@functools.cache
def versions(*distributions: str) -> dict[str, str]:
    """Installed versions of these distributions ("" when one is not installed),
    and of Python itself."""
    found = {"python": platform.python_version()}
    for name in distributions:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = ""
    return found


def distributions_of(modules) -> list[str]:
    """The installed distributions providing these top-level modules, e.g. a
    Markdown extension named in the settings, or a namespace plugin."""
    provided = importlib.metadata.packages_distributions()
    names = set()
    for module in modules:
        top = str(module).split(".")[0]
        names.update(provided.get(top, ()))
        if top == "pelican" and str(module).startswith("pelican.plugins."):
            plugin = str(module).split(".")[2]
            names.update(d for d in provided.get("pelican", ()) if plugin.replace("_", "-") in d.lower())
    return sorted(names)
