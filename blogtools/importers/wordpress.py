"""`invoke import.wordpress EXPORT.xml`: a WordPress blog brought over whole.

Two streaming passes over the export (see wxr.py):

1. the index: attachments (which file each is, its caption and alt text),
   and every post and page (id, address, slug, status) -- so a post can link
   to a later one, and a featured image can come after its post;
2. the conversion, one item at a time: published posts become reviews, other
   statuses drafts, pages become pages; the body becomes Markdown
   (wp_content.py); the featured image -- or else the first image -- becomes
   the poster; comments become response records (responses.py); every old
   address becomes a row of the redirect table.

Front matter is filled from what the post says (titles.py guesses the film
and year, mapping.py turns categories and tags into Genre and Tags), and the
review model (`filmreviews.review.parse_review`) decides: a post it would
reject stays `Status: draft`, so `invoke check` is green after an import.
Everything is staged and moved into content/ at the end (writer.py), and the
manifest makes the next run update only what it wrote.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, unquote, urljoin, urlsplit

from . import responses as responses_module
from .errors import ImportFailed
from .images import NotAnImage, Uploads, check_image, download_fetcher, placeholder_poster, poster_bytes
from .mapping import TermMap, load_map
from .phpdata import PhpDataError, unserialize
from .report import Report, plural
from .site import Site, Store, dump_table, load_site, parse_review, parse_table, read_front_matter
from .titles import clean_title, guess_director, guess_film
from .wp_content import convert_post
from .writer import KEPT_DELETED, KEPT_EDITED, KEPT_FOREIGN, NEW, UNCHANGED, UPDATED, Manifest, Staging
from .wxr import Item, WxrReader

SOURCE = "wordpress"
IMPORTED_TYPES = ("post", "page")
PUBLISHED = "publish"
DRAFT_STATUSES = ("draft", "pending", "private", "future")
SKIPPED_STATUSES = ("trash", "auto-draft", "inherit")
# Top-level names the site's own pages use, which an old address must not take.
SITE_FOLDERS = {"theme", "pagefind", "images", "feeds", "genres", "directors", "years", "decades"}


# --- pass 1: the index ----------------------------------------------------------------


@dataclass
class Attachment:
    id: str
    url: str
    file: str  # path under uploads (_wp_attached_file)
    parent: str
    title: str
    caption: str
    alt: str
    link: str
    order: int


@dataclass
class Entry:
    """A post or page as the first pass saw it."""

    id: str
    type: str
    status: str
    title: str
    post_name: str
    link: str
    guid: str
    thumbnail: str
    slug: str = ""
    file: str = ""  # under content/
    url: str = ""  # its new address, e.g. /reviews/her-2013/


@dataclass
class Index:
    attachments: dict[str, Attachment] = field(default_factory=dict)
    by_url: dict[str, Attachment] = field(default_factory=dict)
    by_parent: dict[str, list[Attachment]] = field(default_factory=dict)
    by_page_path: dict[str, Attachment] = field(default_factory=dict)  # attachment pages
    entries: dict[str, Entry] = field(default_factory=dict)
    other_types: Counter = field(default_factory=Counter)
    hosts: set[str] = field(default_factory=set)


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower().removeprefix("www.")


def _path_key(url: str) -> str:
    """A link's path without host, trailing slash or case differences in escapes."""
    return unquote(urlsplit(url).path).rstrip("/").lower()


def build_index(reader: WxrReader, report: Report) -> Index:
    index = Index()
    for order, item in enumerate(reader.items(with_content=False)):
        if item.post_type == "attachment":
            meta_file = item.meta.get("_wp_attached_file", "").strip()
            raw = item.meta.get("_wp_attachment_metadata", "")
            if raw.strip():
                try:
                    data = unserialize(raw)
                    if isinstance(data, dict) and not meta_file and isinstance(data.get("file"), str):
                        meta_file = data["file"]
                except PhpDataError as exc:
                    report.note("Images", f"{item.label}: _wp_attachment_metadata is not valid PHP-serialized "
                                          f"data ({exc}): ignored, the file is found by its address instead")
            attachment = Attachment(item.post_id, item.attachment_url or item.guid, meta_file, item.post_parent,
                                    clean_title(item.title), clean_title(item.excerpt),
                                    clean_title(item.meta.get("_wp_attachment_image_alt", "")), item.link, order)
            index.attachments[item.post_id] = attachment
            index.by_parent.setdefault(attachment.parent, []).append(attachment)
            if attachment.link and not urlsplit(attachment.link).query:
                index.by_page_path[_path_key(attachment.link)] = attachment
            for url in (attachment.url, item.guid):
                if url:
                    index.by_url[url] = attachment
            continue
        if item.post_type not in IMPORTED_TYPES:
            index.other_types[item.post_type or "(no type)"] += 1
            continue
        index.entries[item.post_id] = Entry(item.post_id, item.post_type, item.status, item.title,
                                            item.post_name, item.link, item.guid,
                                            item.meta.get("_thumbnail_id", "").strip())
        for url in (item.link, item.guid):
            if url.startswith(("http://", "https://")):
                index.hosts.add(_host(url))
    channel = reader.channel
    for url in (channel.link, channel.base_site_url, channel.base_blog_url):
        if url:
            index.hosts.add(_host(url))
    return index


# --- planning: slugs, files and addresses ---------------------------------------------------


def _reserved(site: Site) -> set[str]:
    names = set(SITE_FOLDERS)
    for key, value in site.settings.items():
        # What the build writes: every non-empty *_SAVE_AS under a folder of its own.
        if key.endswith("_SAVE_AS") and isinstance(value, str) and "/" in value:
            first = value.lstrip("/").split("/", 1)[0]
            if first and "{" not in first:
                names.add(first)
    for value in (site.settings.get("FILMREVIEWS_BROWSE") or {}).values():
        if isinstance(value, str) and value and "{" not in value.split("/", 1)[0]:
            names.add(value.lstrip("/").split("/", 1)[0])
    return names


def plan(index: Index, site: Site, manifest: Manifest, report: Report) -> set[str]:
    """Give every post and page its slug, file and new address (stable across runs);
    returns the slugs of the site's own pages."""
    ours = {item.get("file", "") for item in manifest.items.values()}
    taken = {"post": site.existing_slugs(site.reviews_dir, ours),
             "page": site.existing_slugs(site.pages_dir, ours) | _reserved(site)}
    for entry in index.entries.values():
        if entry.status in SKIPPED_STATUSES:
            continue
        previous = manifest.items.get(f"{entry.type}-{entry.id}")
        if previous and previous.get("slug"):
            entry.slug, entry.file = previous["slug"], previous["file"]
        else:
            base = site.slugify(unquote(entry.post_name)) or site.slugify(clean_title(entry.title)) \
                or f"{entry.type}-{entry.id}"
            slug, number = base, 2
            while slug in taken[entry.type]:
                slug, number = f"{base}-{number}", number + 1
            if slug != base:
                report.note("Guesses", f"{entry.type} {entry.id}: the slug {base!r} is taken on this site: "
                                       f"imported as {slug!r}")
            entry.slug = slug
            folder = site.reviews_dir if entry.type == "post" else site.pages_dir
            entry.file = f"{folder}/{slug}.md"
        taken[entry.type].add(entry.slug)
        if entry.type == "post":
            entry.url = site.url("ARTICLE_URL", entry.slug, "{slug}.html")
        else:
            entry.url = site.url("PAGE_URL", entry.slug, "pages/{slug}.html")
    return site.existing_slugs(site.pages_dir, ours)


class Links:
    """Where an address of the old blog now lives."""

    def __init__(self, index: Index):
        self.index = index
        self.by_path: dict[str, Entry] = {}
        self.by_id = {e.id: e for e in index.entries.values() if e.file}
        for entry in self.by_id.values():
            for url in (entry.link, entry.guid):
                if url and not urlsplit(url).query:
                    self.by_path.setdefault(_path_key(url), entry)

    def on_old_site(self, url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme and parts.scheme not in ("http", "https"):
            return False
        return not parts.netloc or _host(url) in self.index.hosts

    def entry_for(self, url: str) -> Entry | None:
        if not url or not self.on_old_site(url):
            return None
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        for key in ("p", "page_id"):
            if key in query:
                return self.by_id.get(query[key][0])
        if "attachment_id" in query:
            attachment = self.index.attachments.get(query["attachment_id"][0])
            return self.by_id.get(attachment.parent) if attachment else None
        if parts.path in ("", "/"):
            return None
        entry = self.by_path.get(_path_key(url))
        if entry is None:  # an attachment page: …/post-name/attachment-name/
            attachment = self.index.by_page_path.get(_path_key(url))
            return self.by_id.get(attachment.parent) if attachment else None
        return entry


# --- pass 2: one post ------------------------------------------------------------------------


class PostContext:
    """wp_content.PostContext for one post: copies images, resolves links."""

    def __init__(self, importer: "WordPressImport", entry: Entry):
        self.importer = importer
        self.entry = entry
        self.notes: list[str] = []

    def image_src(self, url: str) -> str | None:
        return self.importer.inline_image(url, self.entry, self.notes)

    def link_href(self, url: str) -> str | None:
        target = self.importer.links.entry_for(url)
        if target is None:
            return None
        self.importer.cross_links.append((self.entry.type, self.entry.id, target.type, target.id))
        fragment = urlsplit(url).fragment
        return "{filename}/" + target.file + (f"#{fragment}" if fragment else "")

    def gallery(self, ids: list[str] | None) -> list[tuple[str, str, str]]:
        attachments = self.importer.index.attachments
        if ids:
            chosen = [attachments[i] for i in ids if i in attachments]
        else:
            chosen = sorted(self.importer.index.by_parent.get(self.entry.id, []), key=lambda a: a.order)
        return [(a.url, a.alt or a.title, a.caption) for a in chosen if a.url]


def _local_date(item: Item, zone) -> tuple[dt.datetime | None, str]:
    """The post's time in the site's time zone, and how it was found."""
    gmt = item.post_date_gmt.strip()
    if gmt and not gmt.startswith("0000"):
        try:
            return dt.datetime.fromisoformat(gmt.replace(" ", "T")).replace(tzinfo=dt.timezone.utc).astimezone(zone), ""
        except ValueError:
            pass
    local = item.post_date.strip()
    if local and not local.startswith("0000"):
        try:
            return (dt.datetime.fromisoformat(local.replace(" ", "T")).replace(tzinfo=zone),
                    "wp:post_date_gmt is empty: the local wp:post_date was read in the site's time zone")
        except ValueError:
            pass
    return None, "no readable wp:post_date_gmt or wp:post_date"


def _one_line(value) -> str:
    return " ".join(str(value).split())


def _list_value(names: list[str]) -> str:
    # A comma inside a name would split it in two: Genre, Cast and Tags are comma-separated.
    return ", ".join(_one_line(name).replace(",", " ") for name in names)


def front_matter(fields: list[tuple[str, object]]) -> str:
    return "".join(f"{name}: {_one_line(value)}\n" for name, value in fields if value not in (None, "", []))


class WordPressImport:
    def __init__(self, export: Path, *, root: Path, uploads: Path | None, map_file: Path | None,
                 download: bool, dry_run: bool, fetcher=None, today: dt.date | None = None,
                 settings_file: str = "pelicanconf.py"):
        self.export = Path(export)
        if uploads is not None and not Path(uploads).is_dir():
            raise ImportFailed(f"--uploads {uploads}: no such folder (expected a copy of the old site's "
                               "wp-content/uploads)")
        self.term_map: TermMap = load_map(Path(map_file) if map_file else None)
        self.site = load_site(root, settings_file)
        self.today = today or dt.datetime.now(self.site.timezone).date()
        self.dry_run = dry_run
        self.report = Report("WordPress", self.export.name, dry_run)
        self.manifest = Manifest.load(self.site.content, SOURCE)
        self.uploads = Uploads(uploads, (fetcher or download_fetcher()) if download else None)
        self.responses = responses_module.Responses()
        self.redirects: list[tuple[str, str]] = []
        self.poster_counts: Counter = Counter()
        self.published_genres: set[str] = set()
        self.published_tags: set[str] = set()
        self.inline_cache: dict[str, str | None] = {}
        self.cross_links: list[tuple[str, str, str, str]] = []  # (type, id) links to (type, id)
        self.written_records: dict = {}
        self.response_slugs: set[str] = set()

    # -- images --

    def _copy(self, rel_under_content: str, data: bytes) -> str:
        outcome = self.staging.write(rel_under_content, data)
        if outcome == KEPT_FOREIGN:
            self.report.note("Left alone", f"content/{rel_under_content}: already there with other content "
                                           "(not from an import): kept, and linked as it is")
        return outcome

    def absolute(self, url: str) -> str:
        """An image address as the old site served it (relative ones joined to its address)."""
        base = self.reader.channel.base_site_url or self.reader.channel.link
        return urljoin(base.rstrip("/") + "/", url) if base and not urlsplit(url).scheme else url

    def inline_image(self, url: str, entry: Entry, notes: list[str]) -> str | None:
        if url in self.inline_cache:
            return self.inline_cache[url]
        key = url
        attachment = self.index.by_url.get(url)
        url = self.absolute(url)
        found, why = self.uploads.find(url, attachment.file if attachment and attachment.file else None)
        result = None
        if found is None:
            if why != "is not in the old blog's uploads":
                self.report.note("Images", f"{entry.type} {entry.id}: image {url} {why}: "
                                           "left pointing at the old address")
        else:
            try:
                check_image(found.data)
            except NotAnImage as exc:
                self.report.note("Images", f"{entry.type} {entry.id}: {found.rel} {exc}: left pointing at the "
                                           "old address")
            else:
                rel = f"images/{found.rel}"
                self._copy(rel, found.data)
                self.report.count(f"images {found.origin}")
                result = "{static}/" + rel
        self.inline_cache[key] = result
        return result

    def poster(self, item: Item, entry: Entry, image_urls: list[str], movie: str, year, director: str) -> tuple[str, str]:
        """(poster path under content/, alt text), drawing a placeholder if need be."""
        candidates = []
        attachment = self.index.attachments.get(entry.thumbnail) if entry.thumbnail else None
        if entry.thumbnail and attachment is None:
            self.report.note("Posters", f"{item.label}: _thumbnail_id {entry.thumbnail} is not an attachment "
                                        "in the export")
        if attachment:
            candidates.append(("featured image", attachment.url, attachment.file or None, attachment.alt))
        for url in image_urls:
            known = self.index.by_url.get(url)
            candidates.append(("first image in the post", url, known.file if known and known.file else None,
                               known.alt if known else ""))
            break
        for what, url, rel, alt in candidates:
            found, why = self.uploads.find(self.absolute(url), rel)
            if found is None:
                self.report.note("Posters", f"{item.label}: the {what} {url} {why}")
                self.poster_counts["missing"] += 1
                continue
            try:
                data, extension = poster_bytes(found.data)
            except NotAnImage as exc:
                self.report.note("Posters", f"{item.label}: the {what} {found.rel} {exc}")
                self.poster_counts["not an image"] += 1
                continue
            path = f"images/posters/{entry.slug}.{extension}"
            self._copy(path, data)
            self.poster_counts[f"from the {what}"] += 1
            return path, alt
        path = f"images/posters/{entry.slug}.jpg"
        self._copy(path, placeholder_poster(movie, year, director, entry.slug))
        self.poster_counts["placeholder"] += 1
        self.report.note("Posters", f"{item.label}: no usable poster: a placeholder was drawn at content/{path}")
        return path, ""

    # -- posts and pages --

    def convert(self, item: Item, entry: Entry) -> None:
        zone = self.site.timezone
        context = PostContext(self, entry)
        converted = convert_post(item.content, context)
        for note in converted.notes + context.notes:
            self.report.note("Content", f"{item.label}: {note}")
        date, how = _local_date(item, zone)
        if how:
            self.report.note("Guesses", f"{item.label}: {how}")
        if date is None:
            date = dt.datetime.combine(self.today, dt.time(12, 0), zone)
        title = clean_title(item.title) or entry.slug
        published = item.status == PUBLISHED and not item.password
        if item.password:
            self.report.note("Kept as drafts", f"{item.label}: password-protected on WordPress")
        elif not published:
            self.report.note("Kept as drafts", f"{item.label}: WordPress status {item.status!r}")
        excerpt = clean_title(item.excerpt)
        summary = excerpt or (converted.teaser if 0 < len(converted.teaser) <= 300 else "")
        body = converted.markdown
        if entry.type == "page":
            fields = [("Title", title), ("Date", date.strftime("%Y-%m-%d %H:%M")), ("Slug", entry.slug),
                      ("Status", "" if published else "draft"), ("Summary", summary)]
            self.write_entry(item, entry, front_matter(fields) + "\n" + body + "\n", published, {})
            self.report.count("pages published" if published else "pages as drafts")
            if item.comments:
                self.report.note("Dropped", f"{item.label}: {plural(len(item.comments), 'comment')} "
                                            "(pages here take no responses)")
            return
        guess = guess_film(item.title, self.today.year + 1)
        self.report.note("Guesses", f"{item.label}: {guess.describe(clean_title(item.title))}")
        names = [t.name for t in item.terms if t.domain in ("category", "post_tag") and t.name]
        sorted_terms = self.term_map.sort(names)
        if sorted_terms.dropped:
            self.report.note("Dropped", f"{item.label}: categories/tags {', '.join(sorted_terms.dropped)} "
                                        "(in the map's [drop] list)")
        extra: dict[str, str] = {}
        for meta_key, review_field in self.term_map.fields.items():
            value = _one_line(item.meta.get(meta_key, ""))
            if value and review_field not in extra:
                extra[review_field] = value
                self.report.note("Guesses", f"{item.label}: {review_field} {value!r} from the custom field {meta_key!r}")
        director = extra.pop("Director", "")
        if not director:
            director = guess_director(converted.markdown)
            if director:
                self.report.note("Guesses", f"{item.label}: Director {director!r} from \"directed by\" in the text")
        poster, alt = self.poster(item, entry, converted.image_urls, guess.movie, guess.year, director)
        fields = [("Title", title), ("Date", date.strftime("%Y-%m-%d %H:%M")), ("Slug", entry.slug),
                  ("Status", "draft"), ("Movie", guess.movie), ("Year", guess.year or ""),
                  ("Director", director)]
        fields += [(name, extra.pop(name)) for name in ("Cast", "Runtime", "Country", "Language", "Rating")
                   if name in extra]
        fields += [("Genre", _list_value(sorted_terms.genres)), ("Poster", poster),
                   ("Poster_Alt", extra.pop("Poster_Alt", "") or alt)]
        fields += list(extra.items())
        fields += [("Tags", _list_value(sorted_terms.tags)), ("Summary", summary)]
        metadata = {name.lower(): value for name, value in fields if value not in (None, "")}
        metadata["date"] = date
        metadata["tags"] = sorted_terms.tags
        review = parse_review(metadata, f"content/{entry.file}", today=self.today)
        missing = [f"{p.field}: {p.expected}" for p in review.problems]
        for name in ("Director", "Year", "Genre"):
            if not metadata.get(name.lower()):
                self.report.note("Left empty", f"{item.label}: {name}")
        if published and missing:
            self.report.note("Kept as drafts", f"{item.label}: the site would reject it ("
                             + "; ".join(missing) + ")")
        publish = published and not missing
        if publish:
            fields = [(name, value) for name, value in fields if name != "Status"]
            self.published_genres |= {self.site.slugify(g) for g in sorted_terms.genres}
            self.published_tags |= {self.site.slugify(t) for t in sorted_terms.tags}
        text = front_matter(fields) + "\n" + body + "\n"
        self.write_entry(item, entry, text, publish, {"poster": poster})
        self.report.count("reviews published" if publish else "reviews as drafts")
        author = self.reader.channel.authors.get(item.creator)
        responses_module.collect(
            self.responses, source=SOURCE, comments=item.comments, review_slug=entry.slug, post_label=item.label,
            author_id=author.id if author else "", author_email=author.email if author else "",
            zone=zone, target_url=f"{self.site.production_url}{entry.url}")
        # Written now and let go: memory holds one post's responses, not the whole blog's.
        self.write_review_responses(entry.slug)

    def write_entry(self, item: Item, entry: Entry, text: str, published: bool, extra: dict) -> None:
        outcome = self.staging.write(entry.file, text)
        if outcome == KEPT_EDITED:
            self.report.note("Left alone", f"content/{entry.file}: edited since the last import: kept as you left it")
        elif outcome == KEPT_DELETED:
            self.report.note("Left alone", f"content/{entry.file}: deleted since the last import: not written again "
                                           f"(remove {entry.type}-{entry.id} from content/imports/{SOURCE}.json "
                                           "to import it again)")
        elif outcome == KEPT_FOREIGN:
            self.report.note("Left alone", f"content/{entry.file}: a file not from an import is there: kept")
        self.manifest.items[f"{entry.type}-{entry.id}"] = {"file": entry.file, "slug": entry.slug,
                                                           "published": published, **extra}
        self.add_redirects(item, entry)

    def note_links_to_drafts(self) -> None:
        items = self.manifest.items
        for kind, ident, target_kind, target_id in dict.fromkeys(self.cross_links):
            source, target = items.get(f"{kind}-{ident}", {}), items.get(f"{target_kind}-{target_id}", {})
            if source.get("published") and target and not target.get("published"):
                self.report.note("Content", f"{kind} {ident} links to content/{target['file']}, a draft: "
                                            "the link works once that one is published")

    # -- old addresses --

    def _old(self, url: str) -> str | None:
        """An address of the old blog as a redirect-table path ("/2013/12/05/her/", "/?p=12")."""
        if not url or not self.links.on_old_site(url):
            return None
        parts = urlsplit(url)
        path = parts.path or "/"
        return path + (f"?{parts.query}" if parts.query else "")

    def add_redirects(self, item: Item, entry: Entry) -> None:
        olds = [self._old(item.link), self._old(item.guid),
                f"/?{'p' if entry.type == 'post' else 'page_id'}={entry.id}"]
        link = self._old(item.link)
        if link and "?" not in link and entry.type == "post":
            olds.append(link.rstrip("/") + "/feed/")
        for attachment in self.index.by_parent.get(entry.id, []):
            olds += [self._old(attachment.link), f"/?attachment_id={attachment.id}"]
        for old in olds:
            if old:
                self.redirects.append((old, entry.url))

    def archive_redirects(self) -> None:
        settings = self.site.settings
        browse = {"genre_url": "genres/{slug}/", **(settings.get("FILMREVIEWS_BROWSE") or {})}
        tag_url = settings.get("TAG_URL") or "tag/{slug}.html"
        genre_url = browse.get("genre_url") or ""
        self.published_genres |= _existing_facets(self.site, "genre")
        self.published_tags |= _existing_facets(self.site, "tags")
        channel = self.reader.channel

        def category_path(term, depth=0):
            parent = channel.categories.get(term.parent) if term.parent else None
            return (category_path(parent, depth + 1) if parent and depth < 10 else "") + term.slug + "/"

        terms = [(f"/category/{category_path(t)}", t) for t in channel.categories.values()]
        terms += [(f"/tag/{t.slug}/", t) for t in channel.tags.values()]
        for old, term in terms:
            genre = self.term_map.genre_for(term.name)
            if genre and genre_url and self.site.slugify(genre) in self.published_genres:
                new = "/" + genre_url.format(slug=self.site.slugify(genre)).lstrip("/")
            elif not genre and self.site.slugify(term.name) in self.published_tags:
                new = "/" + tag_url.format(slug=self.site.slugify(term.name)).lstrip("/")
            else:
                if not self.term_map.sort([term.name]).dropped:
                    self.report.note("Redirects", f"{old}: no published review has "
                                                  f"{'genre' if genre else 'tag'} {genre or term.name!r} yet: "
                                                  "no redirect (import again once one is published)")
                continue
            self.redirects.append((old, new))
        feed = settings.get("FEED_ALL_ATOM")
        if feed:
            self.redirects.append(("/feed/", "/" + feed.lstrip("/")))

    def write_redirect_table(self) -> None:
        site = self.site
        rel = site.redirect_table
        reserved = _reserved(site) | self.site_pages | \
            {e.slug for e in self.index.entries.values() if e.type == "page" and e.slug}
        existing_bytes = self.staging.existing(rel)
        existing, problems = parse_table(existing_bytes.decode("utf-8-sig", "replace"), f"content/{rel}") \
            if existing_bytes else ([], [])
        if problems:
            raise ImportFailed(f"{problems[0]} -- fix content/{rel} before importing")
        ours: dict[str, str] = {}
        for old, new in self.redirects:
            first = unquote(old.split("?", 1)[0]).strip("/").split("/", 1)[0]
            if old.split("#", 1)[0] == new or old in ours:
                continue
            if first in reserved:
                self.report.note("Redirects", f"{old}: this site uses that address itself: no redirect to {new}")
                continue
            _, row_problems = parse_table(dump_table([(old, new)]), "redirect")
            if row_problems:
                self.report.note("Redirects", f"{old}: cannot be redirected ({row_problems[0].expected})")
                continue
            ours[old] = new
        rows: list[tuple[str, str]] = []
        recorded = self.manifest.redirects
        kept_mine = {}
        for redirect in existing:
            old, new = redirect.old, redirect.new
            if old in ours:
                if recorded.get(old) == new or new == ours[old]:
                    rows.append((old, ours.pop(old)))
                    kept_mine[old] = rows[-1][1]
                else:
                    self.report.note("Redirects", f"{old}: you redirect it to {new}: kept (the export says {ours.pop(old)})")
                    rows.append((old, new))
            else:
                rows.append((old, new))
                if old in recorded and recorded[old] == new:
                    kept_mine[old] = new
        added = list(ours.items())
        rows += added
        self.report.count("redirects new", len(added))
        self.report.count("redirects", len(kept_mine) + len(added))
        self.manifest.redirects = {**kept_mine, **dict(added)}
        text = dump_table(rows)
        # Chains (an old address that is also a new one) are resolved to the final address.
        table, problems = parse_table(text, f"content/{rel}")
        if problems:
            raise ImportFailed(f"{problems[0]} -- the merged redirect table would be invalid; "
                               f"check content/{rel}")
        self.staging.write_shared(rel, text)

    # -- responses --

    def write_review_responses(self, slug: str) -> None:
        """Merge this import's approved responses into one review's file (see responses.merge_file)."""
        rel = f"{self.site.linkbacks_dir}/{slug}.json"
        text, records, notes = responses_module.merge_file(
            self.staging.existing(rel), f"content/{rel}", slug, self.responses.approved.pop(slug, []),
            SOURCE, self.manifest.records)
        for note in notes:
            self.report.note("Left alone", note)
        self.written_records.update(records)
        self.response_slugs.add(slug)
        if text is not None:
            self.staging.write_shared(rel, text)

    def write_responses(self) -> None:
        counts = self.responses.counts
        # Reviews that had imported responses last time but none now: their old records go.
        earlier = {meta.get("review") for meta in self.manifest.records.values() if meta.get("review")}
        for slug in sorted(s for s in earlier - self.response_slugs if s):
            self.write_review_responses(slug)
        self.manifest.records = self.written_records
        pending = sorted(self.responses.pending_replies, key=lambda r: (r["date"], r["id"]))
        if pending or f"imports/{SOURCE}-pending-replies.json" in self.manifest.files:
            data = {"source": SOURCE,
                    "note": "Comments that were waiting for moderation on the old blog, for the replies "
                            "moderation queue. No e-mail or IP addresses.",
                    "replies": pending}
            self.staging.write(f"imports/{SOURCE}-pending-replies.json",
                               json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        for note in self.responses.notes:
            self.report.note("Responses", note)
        for line in self.responses.dropped:
            self.report.note("Dropped", line)
        kinds = ("comment", "pingback", "trackback")
        parts = []
        for kind in kinds:
            by_status = {status: counts[(kind, status)] for status in ("approved", "pending", "spam", "trash")}
            if any(by_status.values()):
                parts.append(f"{kind}s " + ", ".join(f"{n} {s}" for s, n in by_status.items() if n))
        others = sum(n for (kind, _), n in counts.items() if kind not in kinds)
        if others:
            parts.append(f"{others} of other types (dropped)")
        self.response_summary = "; ".join(parts) or "none"

    def queue_pending(self) -> None:
        """Pending pingbacks and trackbacks into the moderation store (after the files are in place)."""
        rows = self.responses.pending_linkbacks
        if not rows:
            return
        store = Store(self.site.linkbacks_db)
        try:
            added = 0
            for row in rows:
                row_id, new = store.add_imported(review=row["review"], source=row["source"], target=row["target"],
                                                 kind=row["kind"], title=row["title"], author=row["author"],
                                                 excerpt=row["excerpt"], received=row["received"])
                added += new
                self.manifest.pending[row["record_id"]] = row_id
        finally:
            store.close()
        self.report.note("Responses", f"{plural(len(rows), 'pending pingback/trackback', 'pending pingbacks/trackbacks')} "
                                      f"in the moderation queue ({added} new): see invoke linkbacks.list --status pending")

    # -- the whole run --

    def run(self) -> Report:
        self.reader = WxrReader(self.export)
        self.index = build_index(self.reader, self.report)
        for line in self.reader.repairs.lines():
            self.report.note("Repaired in the export", line)
        self.site_pages = plan(self.index, self.site, self.manifest, self.report)
        self.links = Links(self.index)
        self.staging = Staging(self.site.root, self.site.content, self.manifest, self.dry_run)
        try:
            for item in self.reader.items(with_content=True):
                entry = self.index.entries.get(item.post_id) if item.post_type in IMPORTED_TYPES else None
                if entry is None:
                    continue
                if item.status in SKIPPED_STATUSES:
                    self.report.note("Dropped", f"{item.label}: WordPress status {item.status!r}")
                    self.report.count(f"{entry.type}s dropped")
                    continue
                self.convert(item, entry)
            self.note_links_to_drafts()
            self.archive_redirects()
            self.write_redirect_table()
            self.write_responses()
            if not self.dry_run:
                # Before the move: a re-run finds these rows and adds nothing twice.
                self.queue_pending()
            self.summarise()
            if self.dry_run:
                return self.report
            self.staging.commit(f"imports/{SOURCE}-report.txt", self.report.render())
        finally:
            self.staging.discard()
        return self.report

    def summarise(self) -> None:
        counts = self.report.counts
        staging = self.staging
        reviews = counts["reviews published"] + counts["reviews as drafts"]
        pages = counts["pages published"] + counts["pages as drafts"]
        others = ", ".join(f"{n} {t}" for t, n in sorted(self.index.other_types.items()))
        self.report.summary = [
            f"Reviews: {reviews} ({counts['reviews published']} published, "
            f"{counts['reviews as drafts']} kept as drafts)",
            f"Pages: {pages} ({counts['pages published']} published, {counts['pages as drafts']} drafts)",
            f"Attachments: {len(self.index.attachments)} (not posts)"
            + (f"; other items skipped: {others}" if others else ""),
            "Posters: " + (", ".join(f"{n} {what}" for what, n in sorted(self.poster_counts.items())) or "none"),
            f"Images: {counts['images uploads']} from the uploads folder, {counts['images downloaded']} downloaded",
            f"Responses: {self.response_summary}",
            f"Redirects: {counts['redirects']} in content/{self.site.redirect_table} "
            f"({counts['redirects new']} new)",
            f"Files: {staging.count(NEW)} new, {staging.count(UPDATED)} updated, "
            f"{staging.count(UNCHANGED)} unchanged, "
            f"{staging.count(KEPT_EDITED) + staging.count(KEPT_DELETED) + staging.count(KEPT_FOREIGN)} left alone",
        ]
        if not self.dry_run:
            self.report.summary.append(f"Report saved as content/imports/{SOURCE}-report.txt")


def _existing_facets(site: Site, field_name: str) -> set[str]:
    """Slugs of the genres (or tags) published reviews already on the site use."""
    found = set()
    for path in (site.content / site.reviews_dir).glob("*.md"):
        try:
            meta = read_front_matter(path)
        except (OSError, UnicodeDecodeError):
            continue
        if meta.get("status", "").strip().lower() in ("draft", "hidden"):
            continue
        for name in meta.get(field_name, "").split(","):
            if name.strip():
                found.add(site.slugify(name.strip()))
    return found


def import_wordpress(export: Path, *, root: Path, uploads: Path | None = None, map_file: Path | None = None,
                     download: bool = False, dry_run: bool = False, fetcher=None,
                     today: dt.date | None = None) -> Report:
    """Import a WordPress export into the site at `root`; returns the report.
    Raises ImportFailed (content/ unchanged) for an export it cannot use."""
    return WordPressImport(export, root=root, uploads=uploads, map_file=map_file, download=download,
                           dry_run=dry_run, fetcher=fetcher, today=today).run()
