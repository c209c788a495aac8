"""Publishing to object storage for real: moto's S3 server on 127.0.0.1, reached through a proxy
that counts every request and can drop the connection half-way.

Each test that changes a bucket gets its own bucket, filled from one
published build of the sample site, so no test depends on another's leftovers.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from bs4 import BeautifulSoup

from blogtools.build import build_site
from blogtools.publish import PublishError
from blogtools.publish_s3 import (
    IMMUTABLE,
    MEDIUM,
    SHORT,
    Bucket,
    Redirect,
    SiteObject,
    StoppedHalfway,
    StoredObject,
    bucket_from,
    cache_control,
    content_type,
    plan_changes,
    publish_s3,
    read_redirects,
    site_objects,
    sync_build,
)
from tests.s3_server import TEST_AWS_ENVIRON, StoreProxy, running_moto
from tests.site_copy import copy_site, run_invoke, set_field, shared_poster_cache, tree

SITE_URL = "https://reelnotes.example.org"
PREFIX = "site/"


class Store:
    """The test's S3 server: a client straight to it for looking, the proxy for publishing."""

    def __init__(self, upstream: str, proxy: StoreProxy):
        import boto3

        self.proxy = proxy
        self.client = boto3.client("s3", endpoint_url=upstream, region_name="us-east-1")
        self._made = 0

    def new_bucket(self, name: str) -> str:
        self._made += 1
        bucket = f"{name}-{self._made}"
        self.client.create_bucket(Bucket=bucket)
        return bucket

    def bucket(self, name: str, prefix: str = PREFIX) -> Bucket:
        return Bucket(name=name, prefix=prefix, endpoint_url=self.proxy.url)

    def environ(self, name: str, prefix: str = PREFIX) -> dict[str, str]:
        """PUBLISH_S3_* pointing a publish at `name`, through the proxy."""
        return {"PUBLISH_S3_BUCKET": name, "PUBLISH_S3_PREFIX": prefix,
                "PUBLISH_S3_ENDPOINT_URL": self.proxy.url, "PUBLISH_S3_REGION": "us-east-1"}

    def keys(self, name: str) -> set[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=name)
        return {item["Key"] for page in pages for item in page.get("Contents", ())}

    def body(self, name: str, key: str) -> bytes:
        return self.client.get_object(Bucket=name, Key=key)["Body"].read()

    def head(self, name: str, key: str) -> dict:
        return self.client.head_object(Bucket=name, Key=key)

    def snapshot(self, name: str) -> dict[str, tuple]:
        """Every object with its body and headers: any change to the bucket shows."""
        state = {}
        for key in sorted(self.keys(name)):
            head = self.head(name, key)
            state[key] = (self.body(name, key), head["ContentType"], head.get("CacheControl"),
                          head.get("Metadata"), head.get("WebsiteRedirectLocation"), head["LastModified"])
        return state

    def put(self, name: str, key: str, body: bytes = b"placed by hand") -> None:
        self.client.put_object(Bucket=name, Key=key, Body=body)


@pytest.fixture(scope="module", autouse=True)
def aws_credentials():
    """Test-only credentials for moto, in this process and the `invoke` it starts."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in TEST_AWS_ENVIRON.items():
            patch.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
            patch.delenv(name, raising=False)
        yield


@pytest.fixture(scope="module")
def store(tmp_path_factory, aws_credentials):
    with running_moto(tmp_path_factory.mktemp("moto")) as upstream, StoreProxy(upstream) as proxy:
        yield Store(upstream, proxy)


@pytest.fixture(scope="module")
def published(site, store, tmp_path_factory):
    """The sample site published once with `publish_s3`: (bucket, the build that was sent, messages)."""
    name = store.new_bucket("published")
    work, messages = tmp_path_factory.mktemp("published-work"), []
    publish_s3(site, environ=store.environ(name), workdir=work, echo=messages.append)
    return name, work / "site", messages


def seeded_bucket(store: Store, build: Path, name: str = "seeded") -> str:
    """A new bucket holding `build` under PREFIX, as a publish leaves it; the proxy's record is reset."""
    bucket = store.new_bucket(name)
    sync_build(build, store.bucket(bucket), site_url=SITE_URL, echo=lambda line: None)
    store.proxy.reset()
    return bucket


def changed(old: Path, new: Path) -> tuple[set[str], set[str]]:
    """(paths new or different in `new`, paths only in `old`)."""
    before, after = tree(old), tree(new)
    return ({path for path, data in after.items() if before.get(path) != data},
            set(before) - set(after))


# --- Against the S3 server -----------------------------------------------------------

def test_publish_uploads_every_built_file_under_the_prefix(published, store):
    name, build, messages = published

    built = tree(build)
    assert store.keys(name) == {PREFIX + path for path in built}
    for path in ("index.html", "reviews/her-2013/index.html", "feeds/all.atom.xml"):
        assert store.body(name, PREFIX + path) == built[path]
    assert any(line.startswith("Published 14 reviews to s3://") for line in messages)


def _first(build: Path, pattern: str) -> str:
    return sorted(path.relative_to(build).as_posix() for path in build.glob(pattern))[0]


@pytest.mark.parametrize("pattern, kind, cache", [
    ("index.html", "text/html; charset=utf-8", SHORT),
    ("reviews/her-2013/index.html", "text/html; charset=utf-8", SHORT),
    ("feeds/all.atom.xml", "application/atom+xml; charset=utf-8", SHORT),
    ("feeds/all.rss.xml", "application/rss+xml; charset=utf-8", SHORT),
    ("sitemap.xml", "application/xml; charset=utf-8", SHORT),
    ("robots.txt", "text/plain; charset=utf-8", SHORT),
    ("reviews.json", "application/json; charset=utf-8", SHORT),
    ("pagefind/pagefind-entry.json", "application/json; charset=utf-8", SHORT),
    ("images/posters/derived/her-2013-*.avif", "image/avif", IMMUTABLE),
    ("images/posters/derived/her-2013-*.webp", "image/webp", IMMUTABLE),
    ("images/posters/derived/her-2013-*.jpg", "image/jpeg", IMMUTABLE),
    ("pagefind/fragment/*.pf_fragment", "application/octet-stream", IMMUTABLE),
    ("pagefind/index/*.pf_index", "application/octet-stream", IMMUTABLE),
    ("pagefind/pagefind.*.pf_meta", "application/octet-stream", IMMUTABLE),
    ("pagefind/wasm.*.pagefind", "application/octet-stream", MEDIUM),
    ("pagefind/pagefind.js", "text/javascript; charset=utf-8", MEDIUM),
    ("theme/css/site.css", "text/css; charset=utf-8", MEDIUM),
    ("theme/img/favicon.svg", "image/svg+xml", MEDIUM),
    ("images/posters/her-2013.jpg", "image/jpeg", MEDIUM),
])
def test_objects_are_served_with_their_content_type_cache_control_and_hash(published, store, pattern,
                                                                             kind, cache):
    name, build, _ = published
    path = _first(build, pattern)

    head = store.head(name, PREFIX + path)

    assert head["ContentType"] == kind
    assert head["CacheControl"] == cache
    assert head["Metadata"]["sha256"] == hashlib.sha256((build / path).read_bytes()).hexdigest()


def test_second_publish_of_the_same_build_uploads_and_deletes_nothing(published, store):
    _, build, _ = published
    name = seeded_bucket(store, build)
    before, messages = store.snapshot(name), []

    result = sync_build(build, store.bucket(name), site_url=SITE_URL, echo=messages.append)

    assert store.proxy.writes(name) == []
    assert result.plan.changes == 0 and result.plan.unchanged == len(tree(build))
    assert f"No changes ({len(tree(build))} objects up to date)." in messages
    assert store.snapshot(name) == before


def test_republishing_unchanged_sources_uploads_only_files_whose_bytes_differ(
        published, site, store, tmp_path):
    _, old_build, _ = published
    name = seeded_bucket(store, old_build)

    publish_s3(site, environ=store.environ(name), workdir=tmp_path / "work", echo=lambda line: None)

    new_or_changed, gone = changed(old_build, tmp_path / "work" / "site")
    uploaded = store.proxy.puts(name)
    assert sorted(uploaded) == sorted(PREFIX + path for path in new_or_changed)
    # At most the sitemap's build time and a search index Pagefind made again can differ.
    assert all(key.startswith((PREFIX + "pagefind/", PREFIX + "sitemap.xml")) for key in uploaded), uploaded
    assert not gone
    assert store.keys(name) == {PREFIX + path for path in tree(tmp_path / "work" / "site")}


def test_a_changed_review_uploads_exactly_the_files_that_changed(published, own_copy, store, tmp_path):
    _, old_build, _ = published
    name = seeded_bucket(store, old_build)
    review = own_copy / "content" / "reviews" / "her-2013.md"
    review.write_text(review.read_text(encoding="utf-8") + "\nA paragraph added after publishing.\n",
                      encoding="utf-8")

    publish_s3(own_copy, environ=store.environ(name), workdir=tmp_path / "work", echo=lambda line: None)

    new_or_changed, gone = changed(old_build, tmp_path / "work" / "site")
    uploaded = store.proxy.puts(name)
    assert sorted(uploaded) == sorted(PREFIX + path for path in new_or_changed)
    assert PREFIX + "reviews/her-2013/index.html" in uploaded
    assert not [key for key in uploaded if "/posters/" in key or "/theme/" in key]
    assert store.keys(name) == {PREFIX + path for path in tree(tmp_path / "work" / "site")}
    assert not {PREFIX + path for path in gone} & store.keys(name)


def test_a_publish_remembers_what_it_uploaded_so_the_next_reads_no_object(published, store, tmp_path):
    _, build, _ = published
    name = store.new_bucket("memo")
    memo = tmp_path / "memo.json"
    sync_build(build, store.bucket(name), site_url=SITE_URL, memo=memo, echo=lambda line: None)
    store.proxy.reset()

    result = sync_build(build, store.bucket(name), site_url=SITE_URL, memo=memo, echo=lambda line: None)

    assert result.plan.changes == 0
    assert {request.method for request in store.proxy.requests} == {"GET"}  # the listing only


def test_an_object_replaced_behind_the_publishers_back_is_read_and_uploaded_again(published, store, tmp_path):
    _, build, _ = published
    name = store.new_bucket("memo-replaced")
    memo = tmp_path / "memo.json"
    sync_build(build, store.bucket(name), site_url=SITE_URL, memo=memo, echo=lambda line: None)
    page = (build / "about" / "index.html").read_bytes()
    # Same size, other bytes: only the ETag tells the memo it is not what it uploaded.
    store.put(name, PREFIX + "about/index.html", page.swapcase())
    store.proxy.reset()

    sync_build(build, store.bucket(name), site_url=SITE_URL, memo=memo, echo=lambda line: None)

    assert [r.key for r in store.proxy.requests if r.method == "HEAD"] == [PREFIX + "about/index.html"]
    assert store.proxy.puts(name) == [PREFIX + "about/index.html"]
    assert store.body(name, PREFIX + "about/index.html") == page


def test_a_damaged_memo_is_ignored(published, store, tmp_path):
    _, build, _ = published
    name = seeded_bucket(store, build, "memo-damaged")
    memo = tmp_path / "memo.json"
    memo.write_text("{not json", encoding="utf-8")

    result = sync_build(build, store.bucket(name), site_url=SITE_URL, memo=memo, echo=lambda line: None)

    assert result.plan.changes == 0
    assert json.loads(memo.read_text(encoding="utf-8"))["version"] == 1


def test_deletion_stays_under_the_prefix(published, store):
    _, build, _ = published
    name = seeded_bucket(store, build)
    for key in ("elsewhere/keep.html", "site-old/index.html", "sitemap.xml", "site/stale/old.html"):
        store.put(name, key)
    # Written without the slash: "site" must not reach "site-old/".
    bucket = bucket_from({"PUBLISH_S3_BUCKET": name, "PUBLISH_S3_PREFIX": "site",
                          "PUBLISH_S3_ENDPOINT_URL": store.proxy.url})
    store.proxy.reset()
    messages = []

    sync_build(build, bucket, site_url=SITE_URL, echo=messages.append)

    keys = store.keys(name)
    assert "site/stale/old.html" not in keys
    assert {"elsewhere/keep.html", "site-old/index.html", "sitemap.xml"} <= keys
    assert [line for line in messages if line.startswith("deleted")] == ["deleted   stale/old.html"]
    assert [request.method for request in store.proxy.writes(name)] == ["POST"]  # one batch delete


def test_keep_deleted_leaves_objects_the_build_no_longer_has(published, store):
    _, build, _ = published
    name = seeded_bucket(store, build)
    store.put(name, PREFIX + "reviews/withdrawn-1999/index.html")
    messages = []

    sync_build(build, store.bucket(name), site_url=SITE_URL, keep_deleted=True, echo=messages.append)

    assert PREFIX + "reviews/withdrawn-1999/index.html" in store.keys(name)
    assert store.proxy.writes(name) == []
    assert "kept      1 objects no longer in the build (--keep-deleted)" in messages


def test_invoke_publish_s3_dry_run_lists_the_changes_and_changes_nothing(published, own_copy, store):
    _, build, _ = published
    name = seeded_bucket(store, build)
    review = own_copy / "content" / "reviews" / "her-2013.md"
    review.write_text(review.read_text(encoding="utf-8") + "\nA paragraph added after publishing.\n",
                      encoding="utf-8")
    set_field(own_copy / "content" / "reviews" / "alien-1979.md", "Slug", "alien-1979-directors-cut")
    before = store.snapshot(name)

    run = run_invoke(own_copy, "publish", "--s3", "--dry-run", env=store.environ(name))

    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert "changed   reviews/her-2013/index.html" in lines
    assert "new       reviews/alien-1979-directors-cut/index.html" in lines
    assert "deleted   reviews/alien-1979/index.html" in lines
    assert "Dry run: nothing was changed." in lines
    assert store.proxy.writes(name) == []
    assert store.snapshot(name) == before


def test_keep_deleted_without_s3_is_refused(site):
    run = run_invoke(site, "publish", "--keep-deleted")

    assert run.returncode == 1
    assert "--keep-deleted only applies with --s3" in run.stderr
    assert "Traceback" not in run.stderr + run.stdout


def test_broken_review_is_not_published_and_the_bucket_is_untouched(published, own_copy, store):
    _, build, _ = published
    name = seeded_bucket(store, build)
    set_field(own_copy / "content" / "reviews" / "alien-1979.md", "Rating", "7")
    before = store.snapshot(name)
    store.proxy.reset()

    run = run_invoke(own_copy, "publish", "--s3", env=store.environ(name))

    assert run.returncode == 1
    assert "content/reviews/alien-1979.md: Rating: '7'" in run.stderr
    assert "live site is untouched" in run.stderr
    assert "Traceback" not in run.stderr + run.stdout
    assert store.proxy.requests == []  # not even a listing
    assert store.snapshot(name) == before


REDIRECTS = """\
old,new
/2013/12/05/her-2013-online-movie-review/,/reviews/her-2013/
/?p=123,/reviews/her-2013/
/old-about.html,/about/
"""


def test_redirects_become_website_redirects_after_the_pages_they_point_at(own_copy, store, tmp_path):
    (own_copy / "content" / "redirects.csv").write_text(REDIRECTS, encoding="utf-8")
    name, messages = store.new_bucket("redirects"), []

    publish_s3(own_copy, environ=store.environ(name), workdir=tmp_path / "work", echo=messages.append)

    for key, target in [("2013/12/05/her-2013-online-movie-review/index.html", "/reviews/her-2013/"),
                        ("2013/12/05/her-2013-online-movie-review", "/reviews/her-2013/"),
                        ("old-about.html", "/about/")]:
        head = store.head(name, PREFIX + key)
        assert head["WebsiteRedirectLocation"] == SITE_URL + target
        assert head["ContentType"] == "text/html; charset=utf-8"
        # The body sends readers on where the store does not redirect by itself.
        page = BeautifulSoup(store.body(name, PREFIX + key), "html.parser")
        refresh = page.find("meta", attrs={"http-equiv": "refresh"})
        assert refresh["content"] == f"0; url={SITE_URL}{target}"
    assert not [key for key in store.keys(name) if "?" in key or "p=123" in key]
    assert any(line.startswith("Not redirected: /?p=123 (line 3 of redirects.csv)") for line in messages)
    uploaded = store.proxy.puts(name)
    last_page = max(i for i, key in enumerate(uploaded) if key == PREFIX + "reviews/her-2013/index.html")
    first_redirect = min(i for i, key in enumerate(uploaded) if key.startswith(PREFIX + "2013/"))
    assert last_page < first_redirect


def test_missing_credentials_are_named_before_anything_is_built(site, store, tmp_path, monkeypatch):
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(variable)

    with pytest.raises(PublishError, match="needs credentials: set AWS_ACCESS_KEY_ID"):
        publish_s3(site, environ=store.environ("anything"), workdir=tmp_path / "work", echo=lambda line: None)

    assert not (tmp_path / "work").exists()


def test_missing_bucket_is_named_and_nothing_is_changed(published, store):
    _, build, _ = published

    with pytest.raises(PublishError) as refused:
        sync_build(build, store.bucket("no-such-bucket"), echo=lambda line: None)

    assert str(refused.value).startswith("Cannot read s3://no-such-bucket/site/")
    assert "NoSuchBucket: no such bucket: check PUBLISH_S3_BUCKET" in str(refused.value)
    assert str(refused.value).endswith("nothing was changed.")


def test_invoke_publish_s3_without_a_bucket_names_the_setting(site):
    run = run_invoke(site, "publish", "--s3")

    assert run.returncode == 1
    assert "needs PUBLISH_S3_BUCKET: set it in publishconf.py or in the environment" in run.stderr
    assert "Traceback" not in run.stderr + run.stdout


# --- A network that fails half-way ---------------------------------------------------

@pytest.fixture(scope="module")
def next_build(published, tmp_path_factory):
    """A later build of the site with every kind of change: an edited review, a review under
    a new address (new page, old one deleted), a new poster (new derivatives, old ones
    deleted), an edited stylesheet (an asset replaced under its name)."""
    root = copy_site(tmp_path_factory.mktemp("next-site"), shared_poster_cache(tmp_path_factory))
    review = root / "content" / "reviews" / "her-2013.md"
    review.write_text(review.read_text(encoding="utf-8") + "\nA paragraph added after publishing.\n",
                      encoding="utf-8")
    set_field(root / "content" / "reviews" / "alien-1979.md", "Slug", "alien-1979-directors-cut")
    posters = root / "content" / "images" / "posters"
    shutil.copy(posters / "tenet-2020.jpg", posters / "vertigo-1958.jpg")
    stylesheet = root / "theme" / "static" / "css" / "site.css"
    stylesheet.write_text(stylesheet.read_text(encoding="utf-8") + "\n/* a later rule */\n", encoding="utf-8")
    result = build_site(root / "publishconf.py", root / "output", root=root)
    assert result.ok, result.problems
    return result.output_path


# Where the site may point at files: (tag, attribute).
REFERENCES = (("link", "href"), ("script", "src"), ("img", "src"), ("img", "srcset"),
              ("source", "srcset"), ("a", "href"), ("meta", "content"))


def references(page: bytes, page_path: str) -> set[str]:
    """Site paths a page points at (links, stylesheets, scripts, images, social images)."""
    soup = BeautifulSoup(page, "html.parser")
    base = f"{SITE_URL}/{page_path}"
    found = set()
    for tag, attribute in REFERENCES:
        for element in soup.find_all(tag, attrs={attribute: True}):
            values = [element[attribute]]
            if attribute == "srcset":
                values = [candidate.split()[0] for candidate in element[attribute].split(",")]
            for value in values:
                url = urljoin(base, value.strip())
                if not url.startswith(SITE_URL + "/"):
                    continue
                path = urlsplit(url).path.lstrip("/")
                found.add(path + "index.html" if path == "" or path.endswith("/") else path)
    return found


def broken_references(store: Store, name: str, known: set[str]) -> dict[str, set[str]]:
    """For each page in the bucket, the site files it points at that the bucket lacks.

    Only paths that one of the builds has count (`known`): the linkbacks
    endpoint and other addresses outside the site are not objects.
    """
    keys = store.keys(name)
    broken = {}
    for key in sorted(keys):
        if not key.endswith(".html"):
            continue
        path = key[len(PREFIX):]
        missing = {ref for ref in references(store.body(name, key), path)
                   if ref in known and PREFIX + ref not in keys}
        if missing:
            broken[path] = missing
    entry = json.loads(store.body(name, PREFIX + "pagefind/pagefind-entry.json"))
    for language in entry["languages"].values():
        meta = f"pagefind/pagefind.{language['hash']}.pf_meta"
        if PREFIX + meta not in keys:
            broken.setdefault("pagefind/pagefind-entry.json", set()).add(meta)
    return broken


def test_references_finds_stylesheets_posters_and_links(published):
    _, build, _ = published

    found = references((build / "reviews" / "her-2013" / "index.html").read_bytes(), "reviews/her-2013/index.html")

    assert "theme/css/site.css" in found
    assert any(path.startswith("images/posters/derived/her-2013-") and path.endswith(".avif") for path in found)
    assert "index.html" in found


@pytest.mark.parametrize("stop_at", [0.1, 0.5, 0.95])
def test_a_network_failure_halfway_leaves_a_working_site_and_the_next_run_finishes(
        published, next_build, store, stop_at, tmp_path):
    _, old_build, _ = published
    name = seeded_bucket(store, old_build)
    bucket = store.bucket(name)
    memo = tmp_path / "memo.json"  # what landed before the failure is remembered
    planned = sync_build(next_build, bucket, site_url=SITE_URL, dry_run=True, echo=lambda line: None).plan
    reading = len(store.proxy.requests)  # the listing and the HEADs before any change
    assert planned.deletions and len(planned.stages()) >= 4
    # Stop in the middle of the uploads: before the deletions, whatever the stage.
    store.proxy.reset(fail_after=reading + int(len(planned.uploads) * stop_at))

    with pytest.raises(StoppedHalfway) as stopped:
        sync_build(next_build, bucket, site_url=SITE_URL, memo=memo, echo=lambda line: None)

    assert "run the same command again to finish" in str(stopped.value)
    assert store.proxy.dropped > 0
    known = set(tree(old_build)) | set(tree(next_build))
    assert broken_references(store, name, known) == {}
    assert {PREFIX + path for path in tree(old_build)} <= store.keys(name)  # nothing deleted yet

    store.proxy.reset()
    finished = sync_build(next_build, bucket, site_url=SITE_URL, memo=memo, echo=lambda line: None)

    assert finished.plan.changes > 0
    assert store.keys(name) == {PREFIX + path for path in tree(next_build)}
    assert all(store.body(name, PREFIX + path) == data for path, data in tree(next_build).items())


# --- Pure functions ------------------------------------------------------------------

@pytest.mark.parametrize("path, expected", [
    ("feeds/genres/drama.atom.xml", "application/atom+xml; charset=utf-8"),
    ("feeds/genres/drama.rss.xml", "application/rss+xml; charset=utf-8"),
    ("pagefind/filter/en_131b46f.pf_filter", "application/octet-stream"),
    ("pagefind/wasm.unknown.pagefind", "application/octet-stream"),
    ("pagefind/pagefind-worker.js", "text/javascript; charset=utf-8"),
    ("fonts/body.woff2", "font/woff2"),
    ("search/engine.wasm", "application/wasm"),
    ("images/POSTER.AVIF", "image/avif"),
    ("downloads/notes.pdf", "application/pdf"),
    ("LICENSE", "application/octet-stream"),
])
def test_content_type_by_name(path, expected):
    assert content_type(path) == expected


@pytest.mark.parametrize("path, expected", [
    ("images/posters/derived/alien-1979-185-820e8778cf.avif", IMMUTABLE),
    ("images/posters/derived/alien-1979-card-22bbe158ac.jpg", IMMUTABLE),
    ("pagefind/fragment/en_29134f5.pf_fragment", IMMUTABLE),
    ("pagefind/pagefind.en_22ffce3b96.pf_meta", IMMUTABLE),
    ("pagefind/pagefind-entry.json", SHORT),  # names the current index: must not be kept
    ("pagefind/pagefind.js", MEDIUM),
    ("images/posters/alien-1979.jpg", MEDIUM),  # the source poster keeps its name when replaced
    ("images/posters/derived/notes.txt", SHORT),
    ("reviews/deadbeef00/index.html", SHORT),
    ("theme/css/site.css", MEDIUM),
    ("theme/css/site-0123456789.css", MEDIUM),  # not a folder of hashed names
])
def test_cache_control_is_long_only_for_content_hashed_names(path, expected):
    assert cache_control(path, ("images/posters/derived/", "pagefind/")) == expected


@pytest.mark.parametrize("settings, environ, message", [
    ({}, {}, "needs PUBLISH_S3_BUCKET: set it in publishconf.py"),
    ({"PUBLISH_S3_BUCKET": "s3://reelnotes"}, {}, "PUBLISH_S3_BUCKET: 's3://reelnotes': expected the bucket's name only"),
    ({"PUBLISH_S3_BUCKET": "reelnotes"}, {"PUBLISH_S3_PREFIX": "site/../.."},
     "PUBLISH_S3_PREFIX: 'site/../..': expected a folder name"),
    ({"PUBLISH_S3_BUCKET": "reelnotes", "PUBLISH_S3_ENDPOINT_URL": "minio.local:9000"}, {},
     "PUBLISH_S3_ENDPOINT_URL: 'minio.local:9000': expected the store's address"),
    ({"PUBLISH_S3_BUCKET": "reelnotes"}, {"PUBLISH_S3_BUCKET": ""}, "needs PUBLISH_S3_BUCKET"),
])
def test_bad_bucket_settings_say_which_and_what_was_expected(settings, environ, message):
    with pytest.raises(PublishError, match=re.escape(message)):
        bucket_from(settings, environ)


def test_environment_overrides_the_bucket_settings():
    settings = {"PUBLISH_S3_BUCKET": "old-bucket", "PUBLISH_S3_PREFIX": "blog", "PUBLISH_S3_REGION": "eu-west-1"}
    environ = {"PUBLISH_S3_BUCKET": "new-bucket", "PUBLISH_S3_PREFIX": "",
               "PUBLISH_S3_ENDPOINT_URL": "https://account.r2.example.net"}

    assert bucket_from(settings, environ) == Bucket(name="new-bucket", prefix="", region="eu-west-1",
                                                    endpoint_url="https://account.r2.example.net")
    assert bucket_from(settings, {}).prefix == "blog/"
    assert bucket_from(settings, {"PUBLISH_S3_PREFIX": "/reel/notes/"}).prefix == "reel/notes/"


def _item(path: str, data: bytes = b"v1", redirect: str = "") -> SiteObject:
    return SiteObject(path, hashlib.sha256(data).hexdigest(), len(data), content_type(path),
                      cache_control(path, ("images/",)), body=data, redirect=redirect)


def _stored(item: SiteObject) -> StoredObject:
    return StoredObject(item.size, item.sha256, item.content_type, item.cache_control, item.redirect)


def test_plan_puts_assets_then_new_pages_then_changed_pages_then_listings_then_redirects_then_deletes_pages_first():
    old = {path: _item(path) for path in ("index.html", "reviews/a/index.html", "feeds/all.atom.xml",
                                          "theme/css/site.css", "images/a-0123456789.jpg", "reviews/gone/index.html",
                                          "images/gone-0123456789.jpg", "feeds/gone.atom.xml")}
    wanted = {
        "index.html": _item("index.html", b"v2"),
        "reviews/a/index.html": _item("reviews/a/index.html", b"v2"),
        "reviews/b/index.html": _item("reviews/b/index.html"),
        "feeds/all.atom.xml": _item("feeds/all.atom.xml", b"v2"),
        "theme/css/site.css": _item("theme/css/site.css"),  # unchanged
        "images/a-0123456789.jpg": _item("images/a-0123456789.jpg"),  # unchanged
        "images/b-9876543210.jpg": _item("images/b-9876543210.jpg"),
        "old/index.html": _item("old/index.html", redirect="https://example.org/reviews/b/"),
    }

    plan = plan_changes(wanted, {path: _stored(item) for path, item in old.items()})

    assert [upload.object.path for upload in plan.uploads] == [
        "images/b-9876543210.jpg", "reviews/b/index.html", "reviews/a/index.html", "index.html",
        "feeds/all.atom.xml", "old/index.html"]
    assert [upload.new for upload in plan.uploads] == [True, True, False, False, False, True]
    assert plan.deletions == ["reviews/gone/index.html", "feeds/gone.atom.xml", "images/gone-0123456789.jpg"]
    assert plan.unchanged == 2
    assert len(plan.stages()) == 5


def test_plan_replaces_an_object_whose_headers_changed_but_not_its_body():
    item = _item("reviews/a/index.html")
    stale = StoredObject(item.size, item.sha256, item.content_type, "public, max-age=86400")
    no_hash = StoredObject(item.size, "", item.content_type, item.cache_control)  # uploaded by another tool

    assert len(plan_changes({item.path: item}, {item.path: stale}).uploads) == 1
    assert len(plan_changes({item.path: item}, {item.path: no_hash}).uploads) == 1
    assert plan_changes({item.path: item}, {item.path: _stored(item)}).unchanged == 1


def test_plan_with_keep_deleted_deletes_nothing():
    plan = plan_changes({}, {"reviews/gone/index.html": StoredObject(3)}, keep_deleted=True)

    assert plan.deletions == [] and plan.kept == ["reviews/gone/index.html"]


def test_redirects_table_is_read_with_query_entries_flagged(tmp_path):
    table = tmp_path / "redirects.csv"
    table.write_text(REDIRECTS + "\n", encoding="utf-8")

    redirects = read_redirects(table)

    assert redirects == [Redirect("/2013/12/05/her-2013-online-movie-review/", "/reviews/her-2013/", 2),
                         Redirect("/?p=123", "/reviews/her-2013/", 3), Redirect("/old-about.html", "/about/", 4)]
    assert [redirect.by_query for redirect in redirects] == [False, True, False]
    assert redirects[0].keys() == ("2013/12/05/her-2013-online-movie-review/index.html",
                                   "2013/12/05/her-2013-online-movie-review")
    assert redirects[2].keys() == ("old-about.html",)
    assert Redirect("/old", "/new/").keys() == ("old/index.html", "old")
    assert read_redirects(tmp_path / "none.csv") == []


@pytest.mark.parametrize("text, message", [
    ("from,to\n/a/,/b/\n", "redirects.csv, line 1: 'from,to': expected the header 'old,new'"),
    ("old,new\n2013/a/,/b/\n", "redirects.csv, line 2: old: '2013/a/': expected a path on the site starting with /"),
    ("old,new\n/a/,b\n", "redirects.csv, line 2: new: 'b': expected a path on the site"),
    ("old,new\n/a/,/b/\n/a/,/c/\n", "redirects.csv, line 3: old: '/a/': expected each old address once (also on line 2)"),
    ("old,new\n/,/b/\n", "redirects.csv, line 2: old: '/': expected an old address, not the home page"),
    ("old,new\n/a/,/a\n", "redirects.csv, line 2: new: '/a': expected a different address than old"),
    ("old,new\n/a/\n", "redirects.csv, line 2: '/a/': expected two columns, old,new"),
])
def test_bad_redirects_table_names_line_field_and_value(tmp_path, text, message):
    table = tmp_path / "redirects.csv"
    table.write_text(text, encoding="utf-8")

    with pytest.raises(PublishError) as refused:
        read_redirects(table)

    assert str(refused.value).startswith(message)


def test_redirect_object_uses_the_page_the_build_wrote_for_it(tmp_path):
    build = tmp_path / "site"
    (build / "old" / "post").mkdir(parents=True)
    (build / "old" / "post" / "index.html").write_text("<p>the importer's redirect page</p>", encoding="utf-8")
    (build / "index.html").write_text("<p>home</p>", encoding="utf-8")

    objects = site_objects(build, site_url=SITE_URL, redirects=[Redirect("/old/post/", "/reviews/new/")])

    for path in ("old/post/index.html", "old/post"):
        assert objects[path].read() == b"<p>the importer's redirect page</p>"
        assert objects[path].redirect == SITE_URL + "/reviews/new/"
        assert objects[path].cache_control == SHORT
    assert objects["index.html"].redirect == ""
