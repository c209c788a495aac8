"""`invoke import.letterboxd EXPORT.zip|DIR`: a Letterboxd diary's reviews as review files.

Letterboxd's export (Settings → Data → Export) is a zip of CSV files:
`reviews.csv` (Date, Name, Year, Letterboxd URI, Rating, Rewatch, Review,
Tags, Watched Date), `diary.csv` (the same without Review), `ratings.csv` and
`watched.csv` (Date, Name, Year, Letterboxd URI[, Rating]).

Every row of reviews.csv becomes a review (a second review of a film becomes
`<slug>-rewatch`); diary entries are not posts, but fill in a review's
Watched date and tell a rewatch; ratings.csv fills a missing Rating. The URI
in diary and reviews points at the diary entry and in ratings and watched at
the film, so rows are matched by film -- Name and Year -- never by URI. The
export has no posters (each review gets a drawn placeholder) and no
director, so reviews stay drafts until the writer adds one.

The same staging, manifest and report as the WordPress import (writer.py,
report.py): a re-run updates its own files and leaves edited ones alone.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .errors import ImportFailed
from .images import placeholder_poster
from .mapping import load_map
from .report import Report, plural
from .site import load_site, parse_review
from .titles import guess_director
from .wp_content import user_markdown
from .writer import KEPT_DELETED, KEPT_EDITED, KEPT_FOREIGN, NEW, UNCHANGED, UPDATED, Manifest, Staging

SOURCE = "letterboxd"
COLUMNS = {
    "reviews.csv": ("Date", "Name", "Year", "Letterboxd URI", "Rating", "Rewatch", "Review", "Tags", "Watched Date"),
    "diary.csv": ("Date", "Name", "Year", "Letterboxd URI", "Rating", "Rewatch", "Tags", "Watched Date"),
    "ratings.csv": ("Date", "Name", "Year", "Letterboxd URI", "Rating"),
    "watched.csv": ("Date", "Name", "Year", "Letterboxd URI"),
}
REQUIRED = "reviews.csv"
MAX_CSV_BYTES = 200 * 1024 * 1024
WHERE_FROM = "Letterboxd's export (.zip from Settings → Data → Export, or the folder it unzips to)"


# --- reading the export ----------------------------------------------------------------------


class LetterboxdExport:
    """The CSV files of an export, from a zip or a folder."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.zip: zipfile.ZipFile | None = None
        self.members: dict[str, object] = {}
        if self.path.is_dir():
            for name in COLUMNS:
                found = sorted(self.path.glob(name)) or sorted(self.path.glob(f"*/{name}"))
                if found:
                    self.members[name] = found[0]
        elif self.path.is_file():
            try:
                self.zip = zipfile.ZipFile(self.path)
            except (zipfile.BadZipFile, OSError) as exc:
                raise ImportFailed(f"{self.path}: is not a zip file ({exc}); expected {WHERE_FROM}") from None
            for info in self.zip.infolist():
                parts = PurePosixPath(info.filename).parts
                if info.is_dir() or len(parts) > 2 or parts[0] == "__MACOSX":
                    continue
                if parts[-1] in COLUMNS and (parts[-1] not in self.members or len(parts) == 1):
                    self.members[parts[-1]] = info
        else:
            raise ImportFailed(f"{self.path}: no such file or folder (expected {WHERE_FROM})")
        if REQUIRED not in self.members:
            found = ", ".join(sorted(self._listing())[:8]) or "nothing"
            raise ImportFailed(f"{self.path}: is not a Letterboxd export: {REQUIRED} is missing (found: {found}); "
                               f"expected {WHERE_FROM}")

    def _listing(self) -> list[str]:
        if self.zip is not None:
            return [info.filename for info in self.zip.infolist() if not info.is_dir()]
        return [p.relative_to(self.path).as_posix() for p in self.path.rglob("*") if p.is_file()][:50]

    def shown(self, name: str) -> str:
        member = self.members[name]
        inner = member.filename if isinstance(member, zipfile.ZipInfo) else Path(member).relative_to(self.path).as_posix()
        return f"{self.path.name}/{inner}" if self.zip is None else f"{self.path.name}: {inner}"

    def _text(self, name: str) -> str:
        member = self.members[name]
        try:
            if isinstance(member, zipfile.ZipInfo):
                if member.file_size > MAX_CSV_BYTES:
                    raise ImportFailed(f"{self.shown(name)}: is {member.file_size} bytes once unzipped, more than "
                                       f"{MAX_CSV_BYTES // 1024 // 1024} MB; expected a Letterboxd CSV file")
                with self.zip.open(member) as handle:
                    data = handle.read(MAX_CSV_BYTES + 1)
            else:
                data = Path(member).read_bytes()
            if len(data) > MAX_CSV_BYTES:
                raise ImportFailed(f"{self.shown(name)}: is larger than {MAX_CSV_BYTES // 1024 // 1024} MB; "
                                   "expected a Letterboxd CSV file")
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ImportFailed(f"{self.shown(name)}: is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at "
                               f"{exc.start}); expected the CSV file as Letterboxd wrote it") from None
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise ImportFailed(f"{self.shown(name)}: cannot be read ({exc}); expected {WHERE_FROM}") from None

    def rows(self, name: str) -> list[tuple[int, dict]]:
        """(line number, row) for every row; [] when the file is not in the export."""
        if name not in self.members:
            return []
        reader = csv.reader(io.StringIO(self._text(name), newline=""))
        try:
            header = next(reader, None)
            if header is None:
                return []
            header = [column.strip() for column in header]
            missing = [column for column in COLUMNS[name] if column not in header]
            if missing:
                raise ImportFailed(f"{self.shown(name)}: line 1: the column {missing[0]!r} is missing "
                                   f"(found: {', '.join(header) or 'no columns'}); expected Letterboxd's columns "
                                   + ", ".join(COLUMNS[name]))
            rows = []
            for row in reader:
                if any(cell.strip() for cell in row):
                    rows.append((reader.line_num, {column: (row[i].strip() if i < len(row) else "")
                                                   for i, column in enumerate(header)}))
            return rows
        except csv.Error as exc:
            raise ImportFailed(f"{self.shown(name)}: line {reader.line_num}: is not valid CSV ({exc}); "
                               "expected the file as Letterboxd wrote it") from None


# --- rows to reviews ------------------------------------------------------------------------------


def film_key(row: dict) -> tuple[str, str]:
    return (" ".join(row.get("Name", "").split()).casefold(), row.get("Year", "").strip())


def _date(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        return None


@dataclass
class Entry:
    line: int
    row: dict
    identity: str
    slug: str = ""
    file: str = ""

    @property
    def label(self) -> str:
        year = f" ({self.row['Year']})" if self.row.get("Year") else ""
        return f"reviews.csv line {self.line}: {self.row.get('Name') or '(no name)'}{year}"


def _front_matter(fields) -> str:
    return "".join(f"{name}: {' '.join(str(value).split())}\n" for name, value in fields if value not in (None, ""))


def import_letterboxd(export: Path, *, root: Path, map_file: Path | None = None, dry_run: bool = False,
                      today: dt.date | None = None) -> Report:
    """Import a Letterboxd export into the site at `root`; returns the report.
    Raises ImportFailed (content/ unchanged) for an export it cannot use."""
    data = LetterboxdExport(Path(export))
    term_map = load_map(Path(map_file) if map_file else None)
    site = load_site(root)
    today = today or dt.datetime.now(site.timezone).date()
    report = Report("Letterboxd", Path(export).name, dry_run)
    manifest = Manifest.load(site.content, SOURCE)

    reviews = data.rows("reviews.csv")
    diary = data.rows("diary.csv")
    ratings = data.rows("ratings.csv")
    watched = data.rows("watched.csv")
    watches = defaultdict(list)  # film -> [(watched date, rewatch flag)]
    for _, row in diary:
        when = _date(row.get("Watched Date", "")) or _date(row.get("Date", ""))
        if when:
            watches[film_key(row)].append((when, row.get("Rewatch", "").lower() == "yes"))
    film_ratings = {film_key(row): row.get("Rating", "") for _, row in ratings if row.get("Rating")}

    # Slugs: stable from the manifest; otherwise <film>-<year>, then -rewatch, -rewatch-2 in watch order.
    ours = {item.get("file", "") for item in manifest.items.values()}
    taken = site.existing_slugs(site.reviews_dir, ours)
    entries = []
    for line, row in reviews:
        identity = row.get("Letterboxd URI") or f"{row.get('Name')}|{row.get('Year')}|{row.get('Date')}"
        entries.append(Entry(line, row, identity))
    by_film = defaultdict(list)
    for entry in entries:
        by_film[film_key(entry.row)].append(entry)
    for entry in entries:
        previous = manifest.items.get(entry.identity)
        if previous:
            entry.slug, entry.file = previous["slug"], previous["file"]
            taken.add(entry.slug)
    for film, group in by_film.items():
        group.sort(key=lambda e: (_date(e.row.get("Watched Date", "")) or _date(e.row.get("Date", "")) or dt.date.max,
                                  e.line))
        for position, entry in enumerate(group):
            if entry.slug:
                continue
            name = site.slugify(entry.row.get("Name", "")) or "film"
            base = f"{name}-{entry.row['Year']}" if entry.row.get("Year", "").isdigit() else name
            if position:
                base += "-rewatch"
            slug, number = base, 2
            while slug in taken:
                slug, number = f"{base}-{number}", number + 1
            entry.slug, entry.file = slug, f"{site.reviews_dir}/{slug}.md"
            taken.add(slug)

    staging = Staging(site.root, site.content, manifest, dry_run)
    try:
        for entry in entries:
            _convert(entry, by_film, watches, film_ratings, term_map, site, today, staging, manifest, report)
        reviewed = set(by_film)
        unreviewed = {film_key(row) for _, row in (*diary, *watched, *ratings)} - reviewed
        if unreviewed:
            report.note("Dropped", f"{plural(len(unreviewed), 'film')} in diary.csv, watched.csv or ratings.csv "
                                   "without a written review: not posts (they only fill in Watched, Rewatch "
                                   "and Rating of reviewed films)")
        report.summary = [
            f"Reviews: {len(entries)} ({report.counts['reviews published']} published, "
            f"{report.counts['reviews as drafts']} kept as drafts)",
            f"Diary entries read: {len(diary)}; ratings: {len(ratings)}; watched films: {len(watched)}",
            f"Posters: {report.counts['placeholders']} placeholder(s) (Letterboxd exports have no posters)",
            "Responses: none (Letterboxd exports hold none); Redirects: none (the old pages stay on letterboxd.com)",
            f"Files: {staging.count(NEW)} new, {staging.count(UPDATED)} updated, {staging.count(UNCHANGED)} unchanged, "
            f"{staging.count(KEPT_EDITED) + staging.count(KEPT_DELETED) + staging.count(KEPT_FOREIGN)} left alone",
        ]
        if dry_run:
            return report
        report.summary.append(f"Report saved as content/imports/{SOURCE}-report.txt")
        staging.commit(f"imports/{SOURCE}-report.txt", report.render())
    finally:
        staging.discard()
    return report


def _convert(entry, by_film, watches, film_ratings, term_map, site, today, staging, manifest, report) -> None:
    row = entry.row
    name = " ".join(row.get("Name", "").split())
    year = row.get("Year", "").strip()
    film = film_key(row)
    watched_on = _date(row.get("Watched Date", ""))
    logged_on = _date(row.get("Date", ""))
    if row.get("Watched Date") and watched_on is None:
        report.note("Dropped", f"{entry.label}: Watched Date {row['Watched Date']!r} is not a date like 2024-02-28")
    if watched_on is None:
        same_day = [when for when, _ in watches.get(film, []) if logged_on and when <= logged_on]
        if same_day:
            watched_on = max(same_day)
            report.note("Guesses", f"{entry.label}: Watched {watched_on} from diary.csv")
    rewatch = row.get("Rewatch", "").strip().lower() == "yes"
    if not rewatch and watched_on:
        earlier = [when for when, _ in watches.get(film, []) if when < watched_on]
        earlier += [d for other in by_film[film] if other is not entry
                    for d in [_date(other.row.get("Watched Date", ""))] if d and d < watched_on]
        if earlier:
            rewatch = True
            report.note("Guesses", f"{entry.label}: Rewatch yes (seen before, on {min(earlier)})")
    rating = row.get("Rating", "").strip() or film_ratings.get(film, "")
    if rating and not row.get("Rating", "").strip():
        report.note("Guesses", f"{entry.label}: Rating {rating} from ratings.csv")
    sorted_terms = term_map.sort([t for t in row.get("Tags", "").split(",") if t.strip()])
    if sorted_terms.dropped:
        report.note("Dropped", f"{entry.label}: tags {', '.join(sorted_terms.dropped)} (in the map's [drop] list)")
    body = user_markdown(row.get("Review", ""), blockquotes=True, strict=False)
    director = guess_director(body)
    if director:
        report.note("Guesses", f"{entry.label}: Director {director!r} from \"directed by\" in the text")
    poster = f"images/posters/{entry.slug}.jpg"
    date = logged_on or watched_on
    if date is None:
        report.note("Guesses", f"{entry.label}: no readable Date: dated today")
        date = today
    fields = [("Title", f"{name} {year}, online movie review" if year else f"{name}, online movie review"),
              ("Date", f"{date.isoformat()} 12:00"), ("Slug", entry.slug), ("Status", "draft"),
              ("Movie", name), ("Year", year), ("Director", director),
              ("Genre", ", ".join(g.replace(",", " ") for g in sorted_terms.genres)),
              ("Rating", rating), ("Poster", poster), ("Watched", watched_on.isoformat() if watched_on else ""),
              ("Rewatch", "yes" if rewatch else "no"),
              ("Tags", ", ".join(t.replace(",", " ") for t in sorted_terms.tags))]
    metadata = {key.lower(): value for key, value in fields if value not in (None, "")}
    metadata["date"] = dt.datetime.combine(date, dt.time(12, 0), site.timezone)
    metadata["tags"] = sorted_terms.tags
    review = parse_review(metadata, f"content/{entry.file}", today=today)
    if not director:
        report.note("Left empty", f"{entry.label}: Director (Letterboxd exports do not have it)")
    if review.problems:
        report.note("Kept as drafts", f"{entry.label}: the site would reject it ("
                    + "; ".join(f"{p.field}: {p.expected}" for p in review.problems) + ")")
        report.count("reviews as drafts")
    else:
        fields = [(k, v) for k, v in fields if k != "Status"]
        report.count("reviews published")
    if not body:
        report.note("Content", f"{entry.label}: the review text is empty")
    outcome = staging.write(entry.file, _front_matter(fields) + "\n" + body + "\n")
    if outcome == KEPT_EDITED:
        report.note("Left alone", f"content/{entry.file}: edited since the last import: kept as you left it")
    elif outcome == KEPT_DELETED:
        report.note("Left alone", f"content/{entry.file}: deleted since the last import: not written again")
    elif outcome == KEPT_FOREIGN:
        report.note("Left alone", f"content/{entry.file}: a file not from an import is there: kept")
    poster_outcome = staging.write(poster, placeholder_poster(name, year, director, entry.slug))
    if poster_outcome in (NEW, UPDATED, UNCHANGED):
        report.count("placeholders")
    manifest.items[entry.identity] = {"file": entry.file, "slug": entry.slug, "poster": poster,
                                      "published": not review.problems}
