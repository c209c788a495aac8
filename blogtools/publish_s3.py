"""Publishing to object storage: `invoke publish --s3` (AWS S3, Cloudflare R2, MinIO, Backblaze B2...).

Owns the way a checked build becomes objects in a bucket:

* which objects the site is: one per built file, under the site's prefix,
  with its Content-Type and Cache-Control, plus the redirects listed in
  content/redirects.csv (``x-amz-website-redirect-location`` on a page that
  also redirects by itself, for stores without website redirects);
* what differs from the bucket: every object carries the SHA-256 of its body
  as ``x-amz-meta-sha256`` (an ETag is not an MD5 after a multipart upload or
  with some encryption), and an object counts as unchanged only when that
  hash and its headers are what this build would upload; dates never count;
* the order of the changes, so that a reader never gets a page pointing at a
  missing file, even when the upload stops half-way: new and changed assets
  first, then new pages, changed pages, the feeds and data files that list
  pages, the redirects, and only at the very end the deletion of objects the
  build no longer has (only under the prefix). A second run after a failure
  finishes the job, since it compares again from scratch.

The build itself, and the refusal of a broken or empty one, is
blogtools.publish's `checked_build`, shared with the rsync deploy. Where the
site goes comes from the settings (publishconf.py), each overridden by an
environment variable of the same name: ``PUBLISH_S3_BUCKET``,
``PUBLISH_S3_PREFIX``, ``PUBLISH_S3_REGION``, ``PUBLISH_S3_ENDPOINT_URL``.
Credentials come from boto3's usual sources (AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY, AWS_PROFILE and ~/.aws/credentials, an instance role),
never from the repository.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import html
import json
import mimetypes
import os
import re
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

# The deploy gate and the settings reader shared with the rsync deploy.
from blogtools.check import SiteCheck
from blogtools.publish import REGENERATED, PublishError, _send_linkbacks, _settings, _work_folder, checked_build
from blogtools.site_settings import ROOT, setting

S3_SETTINGS = ("PUBLISH_S3_BUCKET", "PUBLISH_S3_PREFIX", "PUBLISH_S3_REGION", "PUBLISH_S3_ENDPOINT_URL")
REDIRECTS_FILE = "redirects.csv"  # under content/, written by the importer
HASH_METADATA = "sha256"  # stored as x-amz-meta-sha256
# Requests in flight at once, for reading the stored hashes and for uploads.
PARALLEL_REQUESTS = 8

# --- Content types -----------------------------------------------------------------
# By ending, longest first where one ends another (".atom.xml" before ".xml").
# Text types say UTF-8, which is what Pelican writes. Pagefind's index files
# are its own compressed format: Pagefind's script fetches and unpacks them, so
# they go as plain bytes and never with a Content-Encoding.
CONTENT_TYPES = (
    (".atom.xml", "application/atom+xml; charset=utf-8"),
    (".rss.xml", "application/rss+xml; charset=utf-8"),
    (".html", "text/html; charset=utf-8"),
    (".htm", "text/html; charset=utf-8"),
    (".xml", "application/xml; charset=utf-8"),
    (".json", "application/json; charset=utf-8"),
    (".txt", "text/plain; charset=utf-8"),
    (".css", "text/css; charset=utf-8"),
    (".js", "text/javascript; charset=utf-8"),
    (".mjs", "text/javascript; charset=utf-8"),
    (".svg", "image/svg+xml"),
    (".avif", "image/avif"),
    (".webp", "image/webp"),
    (".jpg", "image/jpeg"),
    (".jpeg", "image/jpeg"),
    (".png", "image/png"),
    (".gif", "image/gif"),
    (".ico", "image/x-icon"),
    (".woff2", "font/woff2"),
    (".woff", "font/woff"),
    (".wasm", "application/wasm"),
    (".pagefind", "application/octet-stream"),
    (".pf_fragment", "application/octet-stream"),
    (".pf_index", "application/octet-stream"),
    (".pf_meta", "application/octet-stream"),
    (".pf_filter", "application/octet-stream"),
)
DEFAULT_CONTENT_TYPE = "application/octet-stream"


def content_type(path: str) -> str:
    """The Content-Type for a file of the site, by its name."""
    name = path.rsplit("/", 1)[-1].lower()
    for ending, kind in CONTENT_TYPES:
        if name.endswith(ending):
            return kind
    guessed, _ = mimetypes.guess_type(name, strict=False)
    return guessed or DEFAULT_CONTENT_TYPE


# --- Cache-Control -----------------------------------------------------------------
# Files whose name changes with their content (poster derivatives, Pagefind's
# fragments and index chunks) never change under one name: caches may keep
# them for a year. Pages, feeds and the files that list pages change under the
# same name on every publish, so readers and the CDN check again after five
# minutes. Other files (the stylesheet, scripts, source posters) keep their
# names across changes too, but change rarely: an hour.
IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=300"
MEDIUM = "public, max-age=3600"
# A content hash in a file name: "-820e8778cf.avif", "en_29134f5.pf_fragment".
HASHED_NAME = re.compile(r"[-_.][0-9a-f]{7,}\.[A-Za-z0-9_]+$")
PAGE_ENDINGS = (".html", ".htm")
LISTING_ENDINGS = (".xml", ".json", ".txt")  # feeds, sitemap, reviews.json, robots.txt, Pagefind's entry
SEARCH_FOLDER = "pagefind/"


def cache_control(path: str, hashed_folders: tuple[str, ...]) -> str:
    """The Cache-Control for a file of the site; `hashed_folders` hold content-hashed names."""
    if path.lower().endswith(PAGE_ENDINGS + LISTING_ENDINGS):
        return SHORT
    if path.startswith(hashed_folders) and HASHED_NAME.search(path.rsplit("/", 1)[-1]):
        return IMMUTABLE
    return MEDIUM


# --- Settings ----------------------------------------------------------------------

@dataclass(frozen=True)
class Bucket:
    """Where the site's objects live: a bucket, a prefix in it, and the store's address."""

    name: str
    prefix: str = ""  # "" for the whole bucket, else ends in "/"
    region: str = ""
    endpoint_url: str = ""

    def key(self, path: str) -> str:
        return self.prefix + path

    def __str__(self) -> str:
        where = f"s3://{self.name}/{self.prefix}"
        return f"{where} at {self.endpoint_url}" if self.endpoint_url else where


def _prefix(value: str) -> str:
    prefix = value.strip().lstrip("/")
    if not prefix:
        return ""
    parts = prefix.rstrip("/").split("/")
    if "\\" in prefix or any(part in ("", ".", "..") for part in parts):
        raise PublishError(
            f"PUBLISH_S3_PREFIX: {value!r}: expected a folder name such as 'reelnotes/' "
            "(or empty for the whole bucket)"
        )
    return "/".join(parts) + "/"


def bucket_from(settings: dict, environ=None, settings_file: str = "publishconf.py") -> Bucket:
    """The bucket to publish to, from settings and environment, or a PublishError."""
    name = setting(settings, "PUBLISH_S3_BUCKET", environ)
    if not name:
        raise PublishError(
            f"Publishing to object storage needs PUBLISH_S3_BUCKET: set it in {settings_file} "
            "or in the environment (PUBLISH_S3_BUCKET=... invoke publish --s3)"
        )
    if name.startswith("s3:") or "/" in name or any(char.isspace() for char in name):
        raise PublishError(
            f"PUBLISH_S3_BUCKET: {name!r}: expected the bucket's name only, e.g. 'reelnotes-site' "
            "(a folder inside it goes in PUBLISH_S3_PREFIX)"
        )
    endpoint = setting(settings, "PUBLISH_S3_ENDPOINT_URL", environ)
    if endpoint:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise PublishError(
                f"PUBLISH_S3_ENDPOINT_URL: {endpoint!r}: expected the store's address, e.g. "
                "https://ACCOUNT.r2.cloudflarestorage.com (empty for AWS S3)"
            )
    return Bucket(name=name, prefix=_prefix(setting(settings, "PUBLISH_S3_PREFIX", environ)),
                  region=setting(settings, "PUBLISH_S3_REGION", environ), endpoint_url=endpoint)


def s3_client(bucket: Bucket):
    """A boto3 S3 client for `bucket`'s store, with credentials from the usual AWS sources."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise PublishError("Publishing to object storage needs boto3: install the requirements "
                           "(bash bootstrap.sh serve, or pip install -r requirements.txt)") from None

    session = boto3.session.Session(region_name=bucket.region or None)
    if session.get_credentials() is None:
        raise PublishError(
            "Publishing to object storage needs credentials: set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with ~/.aws/credentials "
            "(never in the repository)"
        )
    config = Config(
        # Checksums only where the API requires them: several S3-compatible
        # stores refuse the newer default ones. Uploads still carry Content-MD5.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        retries={"mode": "standard", "max_attempts": 3},
        connect_timeout=10,
        read_timeout=60,
        max_pool_connections=PARALLEL_REQUESTS * 2,
    )
    return session.client("s3", endpoint_url=bucket.endpoint_url or None, config=config)


# --- Redirects ---------------------------------------------------------------------

@dataclass(frozen=True)
class Redirect:
    """One row of content/redirects.csv: an old address and where it moved."""

    old: str  # site-relative, e.g. "/2013/12/05/her-2013-online-movie-review/"
    new: str  # site-relative ("/reviews/her-2013/") or absolute
    line: int = 0

    @property
    def by_query(self) -> bool:
        """Object storage redirects paths only: "/?p=123" cannot become an object."""
        return "?" in self.old

    def keys(self) -> tuple[str, ...]:
        """The site paths that answer for the old address.

        A folder address gets its index.html and the name without the slash,
        so both spellings redirect; a file address ("/old.html") only itself.
        """
        path = self.old.strip("/")
        if self.old.endswith("/") or "." not in path.rsplit("/", 1)[-1]:
            return (f"{path}/index.html", path)
        return (path,)

    def location(self, site_url: str) -> str:
        if urlsplit(self.new).scheme:
            return self.new
        return site_url.rstrip("/") + self.new


def read_redirects(path: Path, shown: str | None = None) -> list[Redirect]:
    """The redirects table (columns old,new), or [] when there is none."""
    path = Path(path)
    shown = shown or path.name
    if not path.is_file():
        return []
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PublishError(f"{shown}: is not UTF-8 text ({exc.reason}): expected the file saved as UTF-8") from None
    rows = csv.reader(text.splitlines())
    header = [name.strip().lower() for name in next(rows, [])]
    if "old" not in header or "new" not in header:
        raise PublishError(f"{shown}, line 1: {','.join(header)!r}: expected the header 'old,new'")
    old_at, new_at = header.index("old"), header.index("new")
    redirects, seen = [], {}
    for number, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) <= max(old_at, new_at):
            raise PublishError(f"{shown}, line {number}: {','.join(row)!r}: expected two columns, old,new")
        old, new = row[old_at].strip(), row[new_at].strip()
        if not old.startswith("/"):
            raise PublishError(f"{shown}, line {number}: old: {old!r}: expected a path on the site "
                               "starting with /, e.g. /2013/12/05/her-2013-online-movie-review/")
        if not (new.startswith("/") or urlsplit(new).scheme in ("http", "https")):
            raise PublishError(f"{shown}, line {number}: new: {new!r}: expected a path on the site "
                               "starting with / (e.g. /reviews/her-2013/) or an http(s) address")
        if old.strip("/") == "":
            raise PublishError(f"{shown}, line {number}: old: {old!r}: expected an old address, "
                               "not the home page (a redirect there would hide the whole site)")
        if old.rstrip("/") == new.rstrip("/"):
            raise PublishError(f"{shown}, line {number}: new: {new!r}: expected a different address "
                               "than old (this would redirect to itself)")
        if old in seen:
            raise PublishError(f"{shown}, line {number}: old: {old!r}: expected each old address once "
                               f"(also on line {seen[old]})")
        seen[old] = number
        redirects.append(Redirect(old, new, number))
    return redirects


def redirect_page(location: str) -> bytes:
    """A page that sends its reader on, for a redirect the build did not write a page for."""
    url = html.escape(location, quote=True)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>Moved</title>\n<link rel=\"canonical\" href=\"{url}\">\n"
        f"<meta http-equiv=\"refresh\" content=\"0; url={url}\">\n"
        "<meta name=\"robots\" content=\"noindex\">\n</head>\n"
        f"<body>\n<p>This page has moved to <a href=\"{url}\">{url}</a>.</p>\n</body>\n</html>\n"
    ).encode()


# --- The site as objects -----------------------------------------------------------

ASSET, NEW_PAGE, CHANGED_PAGE, LISTING, REDIRECT = range(5)
STAGE_NAMES = {ASSET: "assets", NEW_PAGE: "new pages", CHANGED_PAGE: "changed pages",
               LISTING: "feeds and listings", REDIRECT: "redirects"}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class SiteObject:
    """One object the site consists of: where its body comes from and how it is served."""

    path: str  # relative to the site's root (and to the bucket's prefix)
    sha256: str
    size: int
    content_type: str
    cache_control: str
    source: Path | None = None  # the built file, or None when `body` holds it
    body: bytes | None = field(default=None, repr=False)
    redirect: str = ""  # x-amz-website-redirect-location

    def read(self) -> bytes:
        return self.body if self.body is not None else self.source.read_bytes()

    def kind(self) -> int:
        return REDIRECT if self.redirect else kind_of(self.path)


def kind_of(path: str) -> int:
    """ASSET, NEW_PAGE (any page) or LISTING, by the file's name."""
    name = path.lower()
    if name.endswith(PAGE_ENDINGS):
        return NEW_PAGE
    if name.endswith(LISTING_ENDINGS):
        return LISTING
    return ASSET


def _hash_file(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def site_objects(build: Path, *, site_url: str = "", redirects=(),
                 hashed_folders: tuple[str, ...] = ("images/posters/derived/", SEARCH_FOLDER)
                 ) -> dict[str, SiteObject]:
    """Every object the build makes, by site path, redirects included."""
    build = Path(build)
    objects = {}
    for file in sorted(build.rglob("*")):
        if not file.is_file():
            continue
        path = file.relative_to(build).as_posix()
        sha256, size = _hash_file(file)
        objects[path] = SiteObject(path, sha256, size, content_type(path),
                                   cache_control(path, hashed_folders), source=file)
    for redirect in redirects:
        if redirect.by_query:
            continue
        location = redirect.location(site_url)
        keys = redirect.keys()
        # The build's own redirect page when it wrote one (the importer's),
        # else a small one, so stores without website redirects still send
        # the reader on.
        built = build / keys[0]
        body = built.read_bytes() if built.is_file() else redirect_page(location)
        for path in keys:
            objects[path] = SiteObject(path, _sha256(body), len(body), content_type(".html"), SHORT,
                                       body=body, redirect=location)
    return objects


# --- The bucket as it is -----------------------------------------------------------

@dataclass(frozen=True)
class StoredObject:
    """What the bucket holds under one key, as far as deciding an upload needs."""

    size: int
    sha256: str = ""  # empty when not read (its size already differs) or not stored
    content_type: str = ""
    cache_control: str = ""
    redirect: str = ""

    def matches(self, wanted: SiteObject) -> bool:
        return (self.size == wanted.size and self.sha256 == wanted.sha256
                and self.content_type == wanted.content_type
                and self.cache_control == wanted.cache_control and self.redirect == wanted.redirect)


class Memo:
    """What this machine last saw under each key: the object's ETag and what it held.

    Reading an object's stored hash costs a request per object (HEAD); the
    listing gives every ETag a thousand at a time. While an object's ETag
    is the one remembered, it has not been replaced since, so its hash and
    headers are known without asking. An object replaced by anyone else gets
    another ETag and is read again. The memo is only a cache in CACHE_PATH:
    without it (another machine, a deleted cache/) every object is read.
    """

    VERSION = 1

    def __init__(self, path: Path | None = None):
        self.path = Path(path) if path else None
        self.entries: dict[str, list] = {}
        if self.path and self.path.is_file():
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                if data.get("version") == self.VERSION:
                    self.entries = dict(data["objects"])
            except (ValueError, KeyError, TypeError, AttributeError):
                self.entries = {}  # a damaged cache: read every object again

    def known(self, path: str, etag: str) -> StoredObject | None:
        entry = self.entries.get(path)
        if isinstance(entry, list) and len(entry) == 6 and entry[0] == etag:
            return StoredObject(*entry[1:])
        return None  # unknown, replaced since, or an entry this version cannot read

    def remember(self, path: str, etag: str, stored: StoredObject) -> None:
        if etag:
            self.entries[path] = [etag, stored.size, stored.sha256, stored.content_type,
                                  stored.cache_control, stored.redirect]

    def forget(self, path: str) -> None:
        self.entries.pop(path, None)

    def save(self) -> None:
        if not self.path:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps({"version": self.VERSION, "objects": self.entries},
                                        sort_keys=True), encoding="utf-8")
        os.replace(temporary, self.path)


def memo_path(cache: Path, bucket: Bucket) -> Path:
    """One memo per store, bucket and prefix."""
    where = f"{bucket.endpoint_url}|{bucket.name}|{bucket.prefix}"
    return Path(cache) / "publish-s3" / f"{hashlib.sha256(where.encode()).hexdigest()[:16]}.json"


def _listing(client, bucket: Bucket) -> dict[str, tuple[int, str]]:
    found = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket.name, Prefix=bucket.prefix):
        for item in page.get("Contents", ()):
            found[item["Key"]] = (item["Size"], item.get("ETag", ""))
    return found


def _stored(client, bucket: Bucket, key: str, size: int) -> tuple[StoredObject, str]:
    head = client.head_object(Bucket=bucket.name, Key=key)
    stored = StoredObject(size, head.get("Metadata", {}).get(HASH_METADATA, ""), head.get("ContentType", ""),
                          head.get("CacheControl", ""), head.get("WebsiteRedirectLocation", "") or "")
    return stored, head.get("ETag", "")


def stored_objects(client, bucket: Bucket, wanted: dict[str, SiteObject],
                   memo: Memo | None = None) -> dict[str, StoredObject]:
    """The objects under the bucket's prefix, by site path.

    Only objects the site still has and whose size is unchanged are read
    (HEAD) for their stored hash and headers, and of those only the ones the
    memo does not know under their current ETag: a different size is a change
    already, and an object the site no longer has is deleted whatever it holds.
    """
    memo = memo or Memo()
    stored, to_read = {}, []
    listed = _listing(client, bucket)
    for path in [path for path in memo.entries if bucket.key(path) not in listed]:
        memo.forget(path)
    for key, (size, etag) in listed.items():
        path = key[len(bucket.prefix):]
        stored[path] = StoredObject(size)
        if path in wanted and wanted[path].size == size:
            known = memo.known(path, etag)
            if known is not None:
                stored[path] = known
            else:
                to_read.append((path, key, size))
    with ThreadPoolExecutor(PARALLEL_REQUESTS) as pool:
        answers = pool.map(lambda item: _stored(client, bucket, item[1], item[2]), to_read)
        for (path, _, _), (found, etag) in zip(to_read, answers, strict=True):
            stored[path] = found
            memo.remember(path, etag, found)
    return stored


# --- The plan ----------------------------------------------------------------------

@dataclass(frozen=True)
class Upload:
    object: SiteObject
    new: bool  # False: replaces a different object under the same key
    stage: int


@dataclass
class Plan:
    """What to change in the bucket, in the order it must happen."""

    uploads: list[Upload] = field(default_factory=list)
    deletions: list[str] = field(default_factory=list)  # site paths
    unchanged: int = 0
    kept: list[str] = field(default_factory=list)  # would be deleted, but --keep-deleted

    def stages(self) -> list[tuple[int, list[Upload]]]:
        """The uploads grouped by stage; a stage starts only when the one before has finished."""
        grouped = {}
        for upload in self.uploads:
            grouped.setdefault(upload.stage, []).append(upload)
        return sorted(grouped.items())

    @property
    def changes(self) -> int:
        return len(self.uploads) + len(self.deletions)


def plan_changes(wanted: dict[str, SiteObject], stored: dict[str, StoredObject],
                 keep_deleted: bool = False) -> Plan:
    """The uploads and deletions that turn `stored` into `wanted`, ordered so that
    at every moment each page online finds the files it points at.

    Assets go first, then pages nobody links to yet (new ones), then pages that
    exist (their new links now resolve), then feeds and listings, then
    redirects (to pages that now exist); deletions come last, when nothing
    uploaded points at the deleted objects any more, the pages among them first.
    A listing that belongs to one page (a review's responses feed, in the
    page's own folder) goes with the assets: the page announces it.
    """
    page_folders = {path.rpartition("/")[0] for path in wanted if kind_of(path) == NEW_PAGE}
    plan = Plan()
    for path in sorted(wanted):
        item = wanted[path]
        found = stored.get(path)
        if found is not None and found.matches(item):
            plan.unchanged += 1
            continue
        stage = item.kind()
        if stage == NEW_PAGE and found is not None:
            stage = CHANGED_PAGE
        elif stage == LISTING and "/" in path and path.rpartition("/")[0] in page_folders:
            stage = ASSET
        plan.uploads.append(Upload(item, found is None, stage))
    # Deeper pages first within a stage: the home page and the lists above a
    # review go up after the review itself.
    plan.uploads.sort(key=lambda upload: (upload.stage, -upload.object.path.count("/"), upload.object.path))
    # Pages before the files they used: an old page is never online without its images.
    deletion_order = {NEW_PAGE: 0, LISTING: 1, ASSET: 2}
    gone = sorted((path for path in stored if path not in wanted),
                  key=lambda path: (deletion_order[kind_of(path)], path))
    if keep_deleted:
        plan.kept = gone
    else:
        plan.deletions = gone
    return plan


def describe(plan: Plan) -> list[str]:
    """One line per change, for the writer; the search index and sitemap counted apart
    (they differ on every build, like in the rsync deploy's report)."""
    lines, regenerated = [], 0
    for upload in plan.uploads:
        path = upload.object.path
        if path.startswith(REGENERATED) and not upload.object.redirect:
            regenerated += 1
        elif upload.object.redirect:
            lines.append(f"redirect  {path} -> {upload.object.redirect}")
        else:
            lines.append(f"{'new' if upload.new else 'changed':<9} {path}")
    for path in plan.deletions:
        if path.startswith(REGENERATED):
            regenerated += 1
        else:
            lines.append(f"deleted   {path}")
    if regenerated:
        lines.append(f"search index and sitemap: {regenerated} files regenerated "
                     "(they differ on every build)")
    if plan.kept:
        lines.append(f"kept      {len(plan.kept)} objects no longer in the build (--keep-deleted)")
    return lines


# --- Applying it -------------------------------------------------------------------

def _upload(client, bucket: Bucket, item: SiteObject, memo: Memo) -> None:
    body = item.read()
    extra = {"WebsiteRedirectLocation": item.redirect} if item.redirect else {}
    answer = client.put_object(
        Bucket=bucket.name, Key=bucket.key(item.path), Body=body,
        ContentType=item.content_type, CacheControl=item.cache_control,
        ContentMD5=base64.b64encode(hashlib.md5(body).digest()).decode("ascii"),
        Metadata={HASH_METADATA: _sha256(body)}, **extra,
    )
    memo.remember(item.path, answer.get("ETag", ""), StoredObject(
        len(body), _sha256(body), item.content_type, item.cache_control, item.redirect))


class StoppedHalfway(PublishError):
    """The store stopped answering during the changes; the site online still works."""


def apply_plan(client, bucket: Bucket, plan: Plan, memo: Memo | None = None) -> int:
    """Make the changes, stage by stage; return how many were made.

    A failure stops everything after the stage in progress (what is in flight
    may still land), so nothing of a later stage is ever online before all of
    an earlier one.
    """
    memo = memo or Memo()
    done = 0
    try:
        with ThreadPoolExecutor(PARALLEL_REQUESTS) as pool:
            for _, uploads in plan.stages():
                futures = [pool.submit(_upload, client, bucket, upload.object, memo) for upload in uploads]
                _, pending = wait(futures, return_when=FIRST_EXCEPTION)
                for future in pending:
                    future.cancel()
                wait(futures)
                failed = [future.exception() for future in futures
                          if not future.cancelled() and future.exception() is not None]
                done += sum(1 for future in futures if not future.cancelled() and future.exception() is None)
                if failed:
                    raise failed[0]
        for start in range(0, len(plan.deletions), 1000):  # DeleteObjects takes up to 1000 keys
            batch = plan.deletions[start:start + 1000]
            answer = client.delete_objects(Bucket=bucket.name, Delete={
                "Objects": [{"Key": bucket.key(path)} for path in batch], "Quiet": True})
            errors = answer.get("Errors", [])
            done += len(batch) - len(errors)
            for path in batch:
                memo.forget(path)
            if errors:
                first = errors[0]
                raise PublishError(f"{first.get('Key')}: {first.get('Code')}: {first.get('Message')}")
    except Exception as exc:
        if isinstance(exc, StoppedHalfway):
            raise
        raise StoppedHalfway(
            f"Publishing to {bucket} stopped after {done} of {plan.changes} changes: {store_error(exc)}. "
            "The site online still works (every page it has finds the files it points at, "
            "and nothing was deleted before the uploads were done); run the same command again "
            "to finish."
        ) from None
    return done


def store_error(exc: Exception) -> str:
    """A botocore error as one line a writer can act on."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    if isinstance(exc, NoCredentialsError):
        return ("no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                "or AWS_PROFILE with ~/.aws/credentials")
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code, message = error.get("Code", "?"), error.get("Message", "")
        hint = {
            "NoSuchBucket": "no such bucket: check PUBLISH_S3_BUCKET, PUBLISH_S3_REGION and "
                            "PUBLISH_S3_ENDPOINT_URL, or create the bucket",
            "AccessDenied": "these credentials may not do this: the key needs to list, read, "
                            "write and delete objects under PUBLISH_S3_PREFIX",
            "InvalidAccessKeyId": "the store does not know this access key",
            "SignatureDoesNotMatch": "the secret key does not match the access key",
        }.get(code)
        return f"{code}: {hint or message}"
    if isinstance(exc, (BotoCoreError, OSError, PublishError)):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


# --- The whole deploy --------------------------------------------------------------

@dataclass
class S3Publish:
    """What one publish found and did."""

    plan: Plan
    made: int = 0
    check: SiteCheck | None = None


def sync_build(build: Path, bucket: Bucket, *, client=None, site_url: str = "", redirects=(),
               hashed_folders: tuple[str, ...] = ("images/posters/derived/", SEARCH_FOLDER),
               dry_run: bool = False, keep_deleted: bool = False, memo: Path | None = None,
               echo=print) -> S3Publish:
    """Make the bucket's prefix hold exactly `build` (and the redirects); report each change.

    `memo` is the file where this machine remembers what it saw in the
    bucket (see Memo); without one, every object is read.
    """
    client = client or s3_client(bucket)
    wanted = site_objects(build, site_url=site_url, redirects=redirects, hashed_folders=hashed_folders)
    remembered = Memo(memo)
    try:
        stored = stored_objects(client, bucket, wanted, remembered)
    except Exception as exc:
        raise PublishError(f"Cannot read {bucket}: {store_error(exc)}; nothing was changed.") from None
    plan = plan_changes(wanted, stored, keep_deleted)
    echo(("Would change in " if dry_run else "Publishing to ") + f"{bucket}:")
    for line in describe(plan):
        echo(line)
    if not plan.changes:
        echo(f"No changes ({plan.unchanged} objects up to date).")
    if dry_run:
        echo("Dry run: nothing was changed.")
        remembered.save()
        return S3Publish(plan)
    try:
        made = apply_plan(client, bucket, plan, remembered)
    finally:
        remembered.save()  # what did land is known, even after a failure
    return S3Publish(plan, made)


def publish_s3(root: Path = ROOT, settings_file: str = "publishconf.py", *, dry_run: bool = False,
               keep_deleted: bool = False, send_linkbacks: bool = False, environ=None,
               workdir: Path | None = None, echo=print) -> S3Publish:
    """Build, check and upload the site to object storage; refuse a bad build.

    `workdir` keeps the build there (tests compare it with the bucket).
    """
    root = Path(root).resolve()
    environ = os.environ if environ is None else environ
    settings = _settings(settings_file, root)
    bucket = bucket_from(settings, environ, settings_file)
    content = Path(settings["PATH"])
    table = content / REDIRECTS_FILE
    redirects = read_redirects(table, table.relative_to(root).as_posix() if table.is_relative_to(root)
                               else str(table))
    client = s3_client(bucket)  # before the build: missing credentials fail fast
    posters = str(settings.get("FILMREVIEWS_POSTER_OUTPUT", "images/posters/derived")).strip("/") + "/"
    with _work_folder(workdir) as folder:
        check = checked_build(root, settings_file, folder)
        echo(f"Built {check.summary()}.")
        for redirect in redirects:
            if redirect.by_query:
                echo(f"Not redirected: {redirect.old} (line {redirect.line} of {REDIRECTS_FILE}): "
                     "object storage redirects paths only, not query strings")
        result = sync_build(check.build.output_path, bucket, client=client,
                            site_url=settings.get("SITEURL", ""), redirects=redirects,
                            hashed_folders=(posters, SEARCH_FOLDER), dry_run=dry_run,
                            keep_deleted=keep_deleted, memo=memo_path(settings["CACHE_PATH"], bucket),
                            echo=echo)
        result.check = check
        if not dry_run:
            echo(f"Published {check.reviews} reviews to {bucket}: {result.made} changes, "
                 f"{result.plan.unchanged} objects unchanged.")
            if send_linkbacks:
                _send_linkbacks(root, settings, check.build.output_path, echo)
    return result
