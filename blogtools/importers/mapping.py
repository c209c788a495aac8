"""The writer's map from another blog's categories and tags to Genre and Tags.

`default_map.toml` (next to this module) is the starting point and documents
the format; `--map FILE` is read on top of it. `TermMap.sort` splits a post's
category and tag names into genres, tags and dropped names; `TermMap.fields`
says which custom fields (post meta) fill which review fields.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ImportFailed

DEFAULT_MAP = Path(__file__).with_name("default_map.toml")
SECTIONS = ("genres", "tags", "drop", "fields")
# Review fields a custom field may fill (the rest are set by the importer itself).
FILLABLE_FIELDS = ("Director", "Cast", "Runtime", "Rating", "IMDb", "TMDB", "Country", "Language",
                   "Poster_Alt", "Watched", "Rewatch", "Summary")


def name_key(name: str) -> str:
    """How names are compared: no case, accents, punctuation or repeated spaces."""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    return " ".join(re.sub(r"[^\w]+", " ", text).split())


@dataclass
class Sorted:
    genres: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)


@dataclass
class TermMap:
    genres: dict[str, str] = field(default_factory=dict)  # name key -> genre ("" = keep as tag)
    tags: dict[str, str] = field(default_factory=dict)  # name key -> tag ("" = drop)
    drop: set[str] = field(default_factory=set)  # name keys
    fields: dict[str, str] = field(default_factory=dict)  # meta key -> review field

    def sort(self, names: list[str]) -> Sorted:
        result = Sorted()
        for name in names:
            name = " ".join(name.split())
            key = name_key(name)
            if not key:
                continue
            if key in self.drop:
                result.dropped.append(name)
            elif self.genres.get(key):
                genre = self.genres[key]
                if genre not in result.genres:
                    result.genres.append(genre)
            elif key in self.tags and not self.tags[key]:
                result.dropped.append(name)
            else:
                tag = self.tags.get(key) or name
                if name_key(tag) not in {name_key(t) for t in result.tags}:
                    result.tags.append(tag)
        return result

    def genre_for(self, name: str) -> str | None:
        return self.genres.get(name_key(name)) or None


def _read(path: Path) -> dict:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ImportFailed(f"{path}: no such file (expected a map file like {DEFAULT_MAP.name})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ImportFailed(f"{path}: is not a valid TOML map file ({exc}); expected the format of "
                           f"{DEFAULT_MAP.name}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportFailed(f"{path}: cannot be read ({exc})") from None
    for section in data:
        if section not in SECTIONS:
            raise ImportFailed(f"{path}: [{section}]: expected only the sections "
                               + ", ".join(f"[{s}]" for s in SECTIONS))
    return data


def _strings(path: Path, section: str, table) -> dict[str, str]:
    if not isinstance(table, dict):
        raise ImportFailed(f"{path}: [{section}]: expected a table of \"name\" = \"value\" lines")
    for key, value in table.items():
        if not isinstance(value, str):
            raise ImportFailed(f"{path}: [{section}] {key!r}: {value!r}: expected a text value in quotes")
    return table


def load_map(path: Path | None = None) -> TermMap:
    """The default map, with `path` (if given) read on top of it."""
    term_map = TermMap()
    for source in (DEFAULT_MAP, *( [Path(path)] if path else [] )):
        data = _read(source)
        for name, genre in _strings(source, "genres", data.get("genres", {})).items():
            term_map.genres[name_key(name)] = " ".join(genre.split())
        for name, tag in _strings(source, "tags", data.get("tags", {})).items():
            term_map.tags[name_key(name)] = " ".join(tag.split())
        drop = data.get("drop", {})
        names = drop.get("names", []) if isinstance(drop, dict) else None
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ImportFailed(f"{source}: [drop] names: expected a list of names in quotes, "
                               "e.g. names = [\"Uncategorized\"]")
        term_map.drop |= {name_key(n) for n in names}
        for meta_key, review_field in _strings(source, "fields", data.get("fields", {})).items():
            if review_field not in FILLABLE_FIELDS:
                raise ImportFailed(f"{source}: [fields] {meta_key!r}: {review_field!r}: expected one of "
                                   + ", ".join(FILLABLE_FIELDS))
            term_map.fields[meta_key] = review_field
    return term_map
