"""`invoke import.wordpress`: a hand-written WXR 1.2 export imported into a copy
of the site, built with Pelican, checked, served and followed."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import socket
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from bs4 import BeautifulSoup
from PIL import Image

from tests.import_support import EXPORT_EMAILS, WXR, OldSite, body, find_personal_data, front_matter, make_uploads
from tests.site_copy import copy_site, run_invoke, shared_poster_cache, snapshot, tree
from tests.nu import nu_errors
from tests.site_fixture import serve

FEED_DOMAIN = "http://localhost:8000"  # pelicanconf.py: canonical links of the preview build


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """The site with the fixture export imported (through the real task), then checked."""
    from blogtools.check import check_site

    root = copy_site(tmp_path_factory.mktemp("wp-site"), shared_poster_cache(tmp_path_factory))
    uploads = make_uploads(tmp_path_factory.mktemp("wp-uploads"))
    run = run_invoke(root, "import.wordpress", str(WXR), "--uploads", str(uploads))
    assert run.returncode == 0, run.stdout + run.stderr
    check = check_site(root, output_path=root / "output")
    return root, uploads, run.stdout, check


def review(root: Path, slug: str) -> Path:
    return root / "content" / "reviews" / f"{slug}.md"


def page_soup(output: Path, path: str) -> BeautifulSoup:
    return BeautifulSoup((output / path / "index.html").read_text(encoding="utf-8"), "html.parser")


# --- the import itself ----------------------------------------------------------------


def test_imported_site_builds_and_passes_check(imported):
    _, _, _, check = imported
    assert check.ok, check.report()
    assert (check.build.output_path / "reviews" / "her-2013-online-movie-review" / "index.html").is_file()


def test_published_posts_become_reviews_with_front_matter_read_from_the_post(imported):
    root, _, _, _ = imported
    her = front_matter(review(root, "her-2013-online-movie-review"))
    assert her["Title"] == "Her 2013, online movie review"
    assert (her["Movie"], her["Year"], her["Director"]) == ("Her", "2013", "Spike Jonze")
    assert her["Genre"] == "Drama, Science Fiction"  # "Sci-Fi" through the default map
    assert her["Tags"] == "loneliness, Los Angeles"  # "Uncategorized" dropped
    assert her["Date"] == "2013-12-05 20:15"  # 19:15 GMT in Europe/Warsaw
    assert "Status" not in her
    alien = front_matter(review(root, "review-alien-1979"))
    assert (alien["Movie"], alien["Year"], alien["Director"]) == ("Alien", "1979", "Ridley Scott")
    assert alien["Summary"] == "A haunted-house film on a spaceship, and still the best of them."


def test_posts_the_site_would_reject_stay_drafts_and_are_listed(imported):
    root, _, report, _ = imported
    assert front_matter(review(root, "vertigo-1958-review"))["Status"] == "draft"  # a WordPress draft
    sequels = front_matter(review(root, "some-thoughts-on-sequels"))
    assert sequels["Status"] == "draft"  # published on WordPress, but no year or director
    assert "Year" not in sequels and "Director" not in sequels
    assert re.search(r'post 16 "Some thoughts on sequels": the site would reject it \(Year: .*Director', report)
    assert 'post 16 "Some thoughts on sequels": Director' in report  # under "Left empty"


def test_trash_attachments_and_menu_items_are_not_posts(imported):
    root, _, report, _ = imported
    names = {p.stem for p in (root / "content" / "reviews").glob("*.md")}
    assert not any("bin" in name or "poster" in name or name == "home" for name in names)
    assert "post 17 \"An old post in the bin\": WordPress status 'trash'" in report
    assert "other items skipped: 1 nav_menu_item" in report


def test_pages_become_pages_and_a_taken_slug_is_renamed(imported):
    root, _, report, _ = imported
    about = front_matter(root / "content" / "pages" / "about-2.md")
    assert (about["Title"], about["Slug"]) == ("About", "about-2")
    original = Path(__file__).resolve().parent.parent / "content" / "pages" / "about.md"
    assert (root / "content" / "pages" / "about.md").read_bytes() == original.read_bytes()
    assert "the slug 'about' is taken on this site: imported as 'about-2'" in report


def test_classic_post_body_reads_as_markdown_with_typography_figures_and_summary_break(imported):
    root, uploads, _, _ = imported
    text = body(review(root, "her-2013-online-movie-review"))
    assert "I went into *Her* expecting a clever premise — and came out „oddly exposed”…" in text
    assert "never winks at us.  \nTheodore writes" in text  # wpautop: a single newline is a line break
    assert "<figure>" in text and "<figcaption>Theodore on the <em>train</em> home.</figcaption>" in text
    # The post showed a resized copy that is not in the uploads; the original is used.
    assert '<img src="{static}/images/2013/12/her-still.jpg" alt="Theodore on the train">' in text
    assert (root / "content/images/2013/12/her-still.jpg").read_bytes() == (uploads / "2013/12/her-still.jpg").read_bytes()
    assert "\n\n<!-- more -->\n\n" in text
    assert "[Alien review]({filename}/reviews/review-alien-1979.md)" in text
    assert "<https://www.youtube.com/watch?v=abcdefghijk>" in text
    assert "A &lt;script> in the text stays text." in text
    assert "- Score: Arcade Fire" in text
    assert "[caption" not in text and "wp-image" not in text


def test_block_editor_post_loses_its_block_comments_and_keeps_its_content(imported):
    root, _, report, _ = imported
    text = body(review(root, "review-alien-1979"))
    assert "wp:" not in text
    assert "[Her review]({filename}/reviews/her-2013-online-movie-review.md)" in text  # from a ?p=12 link
    assert "<figcaption>The corridor, lit like a church.</figcaption>" in text
    assert "<https://www.youtube.com/watch?v=lmnopqrstuv>" in text
    assert "dynamic block wp:latest-posts has no stored content: dropped" in report


def test_built_review_page_shows_the_figure_and_resolves_links(imported):
    _, _, _, check = imported
    page = page_soup(check.build.output_path, "reviews/her-2013-online-movie-review")
    figure = page.select_one("article figure")
    assert figure.img["src"].endswith("images/2013/12/her-still.jpg")
    assert figure.figcaption.em.get_text() == "train"
    links = [a["href"] for a in page.select("article a")]
    assert any(href.endswith("reviews/review-alien-1979/") for href in links)
    assert not any("{filename}" in href or "oldblog.example/20" in href for href in links)


def test_featured_image_first_image_and_placeholder_posters(imported):
    root, uploads, report, _ = imported
    posters = root / "content" / "images" / "posters"
    assert (posters / "her-2013-online-movie-review.jpg").read_bytes() == (uploads / "2013/12/her-poster.jpg").read_bytes()
    assert front_matter(review(root, "her-2013-online-movie-review"))["Poster_Alt"] == \
        "Theodore in a red shirt against a pink wall"
    assert (posters / "review-alien-1979.png").read_bytes() == (uploads / "2014/01/alien-still.png").read_bytes()
    with Image.open(posters / "some-thoughts-on-sequels.jpg") as drawn:  # the featured image was a text file
        assert drawn.format == "JPEG" and drawn.size == (800, 1200)
    assert "the featured image 2014/02/sequels-poster.jpg is not an image" in report
    assert "placeholder was drawn at content/images/posters/some-thoughts-on-sequels.jpg" in report


def test_unreadable_attachment_metadata_is_reported_not_fatal(imported):
    _, _, report, _ = imported
    assert re.search(r'attachment 21 "sequels-poster": _wp_attachment_metadata is not valid PHP-serialized '
                     r"data \(a string at byte \d+ is not 99 bytes long", report)


# --- responses ------------------------------------------------------------------------------


def test_responses_show_under_the_right_review(imported):
    _, _, _, check = imported
    output = check.build.output_path
    her = page_soup(output, "reviews/her-2013-online-movie-review").select_one("#responses")
    items = {li["id"]: li for li in her.select("li.linkback")}
    assert set(items) == {"linkback-wordpress-57", "linkback-wordpress-58", "linkback-wordpress-62",
                          "linkback-wordpress-63", "linkback-wordpress-65"}
    anna = items["linkback-wordpress-57"]
    assert anna.select_one(".linkback-title").get_text() == "Anna"
    assert "linkback-by-author" in items["linkback-wordpress-58"]["class"]
    text = anna.select_one(".reply-text")
    assert "Lovely review. I cried at the rooftop scene." in text.get_text()
    assert text.find("strong").get_text() == "cried"  # the comment's Markdown, rendered
    assert items["linkback-wordpress-62"].select_one(".linkback-kind").get_text() == "Pingback"
    assert items["linkback-wordpress-63"].select_one(".linkback-title").get_text() == "Her and me"
    assert her.find("script") is None and "javascript:" not in str(her)
    alien = page_soup(output, "reviews/review-alien-1979").select_one("#responses")
    assert [li["id"] for li in alien.select("li.linkback")] == ["linkback-wordpress-70"]
    sample = page_soup(output, "reviews/her-2013").select_one("#responses")
    assert [li["id"] for li in sample.select("li.linkback")] == ["linkback-hand-1", "linkback-hand-2"]


def test_reply_records_follow_the_contract(imported):
    root, _, _, _ = imported
    data = json.loads((root / "content/linkbacks/her-2013-online-movie-review.json").read_text(encoding="utf-8"))
    records = {r["id"]: r for r in data["linkbacks"]}
    anna, marta = records["wordpress-57"], records["wordpress-58"]
    assert set(anna) == {"id", "kind", "type", "source", "title", "author", "excerpt", "text", "date",
                         "parent", "by_author"}
    assert (anna["kind"], anna["type"], anna["source"], anna["parent"], anna["by_author"]) == \
        ("reply", "reply", "https://anna.example.net/", None, False)
    assert anna["date"] == "2013-12-06T09:12:00+01:00"
    assert anna["text"] == ("Lovely review. I **cried** at the rooftop scene.\n\n"
                            "Did you see [my notes](https://anna.example.net/her-notes/)? Click me")
    assert (marta["parent"], marta["by_author"]) == ("wordpress-57", True)
    assert records["wordpress-65"]["author"] == "[e-mail removed]"
    assert records["wordpress-62"]["title"] == "Frame by Frame » Voices in the machine"
    assert records["wordpress-62"]["excerpt"].startswith("[…] Marta’s review of Her")


def test_pending_ones_wait_for_moderation_and_spam_and_trash_are_dropped(imported):
    root, _, report, _ = imported
    pending = json.loads((root / "content/imports/wordpress-pending-replies.json").read_text(encoding="utf-8"))
    assert [(r["id"], r["review"]) for r in pending["replies"]] == [("wordpress-59", "her-2013-online-movie-review")]
    with sqlite3.connect(root / "linkbacks.sqlite3") as db:
        rows = db.execute("SELECT review, source, kind, status, client_ip, target FROM linkbacks").fetchall()
    assert rows == [("her-2013-online-movie-review", "https://anotherblog.example/2013/12/waiting/", "pingback",
                     "pending", "", "https://reelnotes.example.org/reviews/her-2013-online-movie-review/")]
    everything = "".join(p.read_text(encoding="utf-8", errors="replace") for p in (root / "content").rglob("*.json"))
    assert "wordpress-60" not in everything and "wordpress-61" not in everything
    # Approved comments: 57, 58 and 65 on Her, 70 on Alien.
    assert "comments 4 approved, 1 pending, 1 spam, 1 trash; pingbacks 1 approved, 1 pending; trackbacks 1 approved" \
        in report
    assert "comment 60 on post 12 \"Her 2013, online movie review\" (comment): spam" in report


def test_no_email_or_ip_address_is_written_anywhere(imported):
    root, _, _, check = imported
    assert find_personal_data(root / "content", check.build.output_path) == []
    with sqlite3.connect(root / "linkbacks.sqlite3") as db:
        dump = "\n".join(db.iterdump())
    assert not any(email in dump for email in EXPORT_EMAILS) and "203.0.113.7" not in dump


# --- old addresses ----------------------------------------------------------------------------


def table(root: Path) -> list[tuple[str, str]]:
    rows = list(csv.reader(io.StringIO((root / "content" / "redirects.csv").read_text(encoding="utf-8"))))
    assert rows[0] == ["old", "new"]
    return [tuple(row) for row in rows[1:]]


def test_redirect_table_maps_every_kind_of_old_address(imported):
    root, _, _, _ = imported
    rows = dict(table(root))
    her = "/reviews/her-2013-online-movie-review/"
    assert rows["/2013/12/05/her-2013-online-movie-review/"] == her  # date permalink
    assert rows["/?p=12"] == her
    assert rows["/2013/12/05/her-2013-online-movie-review/feed/"] == her  # the post's feed
    assert rows["/2013/12/05/her-2013-online-movie-review/her-poster/"] == her  # attachment page
    assert rows["/?attachment_id=23"] == "/reviews/review-alien-1979/"
    assert rows["/?page_id=7"] == "/about-2/"
    assert rows["/category/drama/"] == "/genres/drama/"
    assert rows["/category/sci-fi/horror/"] == "/genres/horror/"  # a child category's address
    assert rows["/tag/los-angeles/"] == "/tags/los-angeles/"
    assert rows["/feed/"] == "/feeds/all.atom.xml"
    assert "/about/" not in rows  # the site's own About page keeps its address
    assert len(rows) == len(table(root))  # no old address twice


def _refresh_target(html: str) -> str:
    meta = BeautifulSoup(html, "html.parser").find("meta", attrs={"http-equiv": "refresh"})
    return meta["content"].split("url=", 1)[1]


def test_every_redirect_page_resolves_when_served(imported):
    root, _, _, check = imported
    output = check.build.output_path
    drafts = {"/reviews/vertigo-1958-review/", "/reviews/some-thoughts-on-sequels/"}
    followed = 0
    with serve(output) as base:
        for old, new in table(root):
            if "?" in old:
                continue
            page = output / old.lstrip("/") / "index.html"
            if new in drafts:  # waits for the review to be published
                assert not page.exists(), old
                continue
            with urllib.request.urlopen(urljoin(base, old.lstrip("/"))) as response:
                html = response.read().decode("utf-8")
                landed = response.url
            soup = BeautifulSoup(html, "html.parser")
            assert soup.find("meta", attrs={"name": "robots"})["content"] == "noindex"
            assert soup.find("link", rel="canonical")["href"] == FEED_DOMAIN + new
            target = urljoin(landed, _refresh_target(html))
            with urllib.request.urlopen(target) as response:
                assert response.status == 200
                assert urlsplit(response.url).path == new, (old, target)
            followed += 1
    assert followed >= 10  # posts, their feeds and attachment pages, categories, tags, the site feed


def test_redirect_pages_stay_out_of_the_sitemap_and_the_search_index(imported):
    _, _, _, check = imported
    output = check.build.output_path
    sitemap = (output / "sitemap.xml").read_text(encoding="utf-8")
    assert "/2013/12/05/" not in sitemap and "/category/" not in sitemap and "/tag/" not in sitemap
    entry = json.loads((output / "pagefind" / "pagefind-entry.json").read_text(encoding="utf-8"))
    indexed = sum(language["page_count"] for language in entry["languages"].values())
    assert indexed == check.reviews  # review pages only: no redirect page was indexed
    assert "data-pagefind-body" not in (output / "category/drama/index.html").read_text(encoding="utf-8")


def test_server_files_hold_path_and_query_redirects(imported):
    root, _, _, check = imported
    output = check.build.output_path
    rows = table(root)
    active = [(old, new) for old, new in rows if new not in
              ("/reviews/vertigo-1958-review/", "/reviews/some-thoughts-on-sequels/")]
    netlify = [line.split() for line in (output / "_redirects").read_text().splitlines() if not line.startswith("#")]
    assert ["/", "p=12", "/reviews/her-2013-online-movie-review/", "301!"] in netlify
    assert ["/2013/12/05/her-2013-online-movie-review/", "/reviews/her-2013-online-movie-review/", "301"] in netlify
    assert len(netlify) == len(active)
    nginx = dict(re.findall(r'^\s+"([^"]+)" "([^"]*)";$', (output / "redirects.nginx.conf").read_text(), re.M))
    for old, new in active:
        assert nginx[old] == new
    assert nginx["/index.php?p=12"] == "/reviews/her-2013-online-movie-review/"
    assert nginx["/2013/12/05/her-2013-online-movie-review"] == "/reviews/her-2013-online-movie-review/"
    # .htaccess: each rule's patterns (PCRE; these use only what Python's re reads the same way).
    htaccess = (output / ".htaccess").read_text()
    rules, condition = [], None
    for line in htaccess.splitlines():
        if line.startswith("RewriteCond %{QUERY_STRING} "):
            condition = line.split(" ", 2)[2]
        elif line.startswith("RewriteRule "):
            _, pattern, target, flags = line.split(" ")
            rules.append((condition, pattern, target.rstrip("?"), flags))
            condition = None
    assert len(rules) == len(active)

    def apache(path, query=""):
        for cond, pattern, target, _ in rules:
            if re.search(pattern, path.lstrip("/")) and (cond is None and not query or cond and re.search(cond, query)):
                return target
        return None

    for old, new in active:
        path, _, query = old.partition("?")
        assert apache(path, query) == new, old
    assert apache("/2013/12/05/her-2013-online-movie-review") == "/reviews/her-2013-online-movie-review/"
    assert apache("/index.php", "p=12") == "/reviews/her-2013-online-movie-review/"
    assert apache("/", "p=999") is None and apache("/2013/12/05/other/") is None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.mark.skipif(shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists(),
                    reason="nginx is not installed (apt-get install nginx-light)")
def test_nginx_answers_every_old_address_with_the_generated_map(imported, tmp_path):
    root, _, _, check = imported
    output = check.build.output_path
    port = _free_port()
    (tmp_path / "logs").mkdir()
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"""
worker_processes 1;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/logs/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    map_hash_bucket_size 256;
    client_body_temp_path {tmp_path}/body;
    proxy_temp_path {tmp_path}/proxy;
    fastcgi_temp_path {tmp_path}/fastcgi;
    uwsgi_temp_path {tmp_path}/uwsgi;
    scgi_temp_path {tmp_path}/scgi;
    include {output}/redirects.nginx.conf;
    server {{
        listen 127.0.0.1:{port};
        root {output};
        if ($reelnotes_redirect) {{ return 301 $reelnotes_redirect; }}
    }}
}}
""")
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    server = subprocess.Popen([nginx, "-c", str(conf), "-p", str(tmp_path), "-g", "daemon off;"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for _ in range(50):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        opener = urllib.request.build_opener(_NoRedirect)
        checked = 0
        for old, new in table(root):
            if new in ("/reviews/vertigo-1958-review/", "/reviews/some-thoughts-on-sequels/"):
                continue
            with pytest.raises(urllib.error.HTTPError) as answer:
                opener.open(f"http://127.0.0.1:{port}{old}")
            assert answer.value.code == 301, old
            assert urlsplit(answer.value.headers["Location"]).path == new, old
            checked += 1
        assert checked > 15
    finally:
        server.terminate()
        server.wait(timeout=10)


# --- safe to repeat ----------------------------------------------------------------------------


@pytest.fixture
def fresh_site(tmp_path):
    root = copy_site(tmp_path / "site")
    return root, make_uploads(tmp_path / "uploads")


def _import(root, uploads, *extra, export=WXR):
    run = run_invoke(root, "import.wordpress", str(export), "--uploads", str(uploads), *extra)
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def test_second_import_writes_nothing_twice_and_keeps_what_the_writer_changed(fresh_site):
    root, uploads = fresh_site
    _import(root, uploads)
    content = root / "content"
    alien = review(root, "review-alien-1979")
    alien.write_text(alien.read_text(encoding="utf-8").replace("Genre: Horror", "Genre: Horror, Science Fiction"),
                     encoding="utf-8")
    responses = content / "linkbacks" / "her-2013-online-movie-review.json"
    data = json.loads(responses.read_text(encoding="utf-8"))
    anna = next(r for r in data["linkbacks"] if r["id"] == "wordpress-57")
    anna["author"] = "Anna K."  # the writer fixed a name
    data["linkbacks"].append({"id": "hand-3", "kind": "trackback", "type": "mention", "source": "https://hand.example/",
                              "title": "Added by hand", "author": "Me", "excerpt": "Kept.",
                              "date": "2024-01-01T10:00:00+00:00"})
    responses.write_text(json.dumps(data, indent=2), encoding="utf-8")
    with (content / "redirects.csv").open("a", encoding="utf-8") as handle:
        handle.write("/my-old-links/,/about/\n")
    before = tree(content)
    records_before = sorted(json.loads(responses.read_text(encoding="utf-8"))["linkbacks"], key=lambda r: str(r["id"]))

    report = _import(root, uploads)

    after = tree(content)
    # Byte for byte, apart from the new report (the response file is rewritten in its usual layout).
    rewritten = ("imports/wordpress-report.txt", "linkbacks/her-2013-online-movie-review.json")
    assert {k: v for k, v in after.items() if k not in rewritten} == \
        {k: v for k, v in before.items() if k not in rewritten}
    assert sorted(json.loads(responses.read_text(encoding="utf-8"))["linkbacks"], key=lambda r: str(r["id"])) == \
        records_before
    assert "content/reviews/review-alien-1979.md: edited since the last import: kept as you left it" in report
    assert "wordpress-57 was edited since the last import: kept as it is" in report
    assert "Files: 0 new, 1 updated" in report  # the response file, merged again with the hand-added record
    rows = table(root)
    assert len(rows) == len({old for old, _ in rows}) and ("/my-old-links/", "/about/") in rows
    records = json.loads(responses.read_text(encoding="utf-8"))["linkbacks"]
    assert [r["id"] for r in records].count("wordpress-57") == 1 and any(r["id"] == "hand-3" for r in records)
    with sqlite3.connect(root / "linkbacks.sqlite3") as db:
        assert db.execute("SELECT COUNT(*) FROM linkbacks").fetchone()[0] == 1
    assert len(list((content / "reviews").glob("*.md"))) == 16 + 4


def test_a_review_deleted_after_the_import_is_not_brought_back(fresh_site):
    root, uploads = fresh_site
    _import(root, uploads)
    review(root, "vertigo-1958-review").unlink()
    report = _import(root, uploads)
    assert not review(root, "vertigo-1958-review").exists()
    assert "content/reviews/vertigo-1958-review.md: deleted since the last import: not written again" in report


def test_dry_run_writes_nothing_and_prints_the_report(fresh_site):
    root, uploads = fresh_site
    before = snapshot(root)
    report = _import(root, uploads, "--dry-run")
    assert snapshot(root) == before
    assert "(dry run: nothing was written)" in report
    assert "Reviews: 4 (2 published, 2 kept as drafts)" in report
    assert "Report saved" not in report


def test_map_file_turns_tags_into_genres_and_drops_others(fresh_site, tmp_path):
    root, uploads = fresh_site
    mapping = tmp_path / "map.toml"
    mapping.write_text('[genres]\n"Loneliness" = "Melancholy"\n\n[drop]\nnames = ["Los Angeles"]\n', encoding="utf-8")
    _import(root, uploads, "--map", str(mapping))
    her = front_matter(review(root, "her-2013-online-movie-review"))
    assert her["Genre"] == "Drama, Science Fiction, Melancholy"
    assert "Tags" not in her


# --- bad input ------------------------------------------------------------------------------------

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE rss [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<rss xmlns:wp="http://wordpress.org/export/1.2/"><channel><wp:wxr_version>1.2</wp:wxr_version>
<item><title>&lol3;</title></item></channel></rss>
"""
EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE rss [ <!ENTITY secret SYSTEM "file:///etc/passwd"> ]>
<rss xmlns:wp="http://wordpress.org/export/1.2/"><channel><wp:wxr_version>1.2</wp:wxr_version>
<item><title>&secret;</title></item></channel></rss>
"""
PLAIN_RSS = """<?xml version="1.0"?>
<rss version="2.0"><channel><title>A feed</title><item><title>Not an export</title></item></channel></rss>
"""


def _bad_exports(folder: Path) -> dict[str, tuple[Path, str]]:
    text = WXR.read_text(encoding="utf-8")
    cases = {
        "truncated": (text[: len(text) // 2], "ends before the export is complete"),
        "billion laughs": (BILLION_LAUGHS, "declares the XML entity 'lol'"),
        "external entity": (EXTERNAL_ENTITY, "declares the XML entity 'secret'"),
        "plain RSS feed": (PLAIN_RSS, "is not a WordPress export (an <item> comes before any <wp:wxr_version>"),
        "HTML page": ("<!doctype html>\n<html><body><p>Hello</p></body></html>\n", "is not"),
        "not XML": ("Date,Name,Year\n2024-01-01,Her,2013\n", "is not an XML file"),
        "empty": ("", "is empty"),
        "unsupported version": (text.replace("<wp:wxr_version>1.2<", "<wp:wxr_version>9.9<"),
                                "wp:wxr_version is '9.9': expected 1.1 or 1.2"),
    }
    out = {}
    for name, (data, expected) in cases.items():
        path = folder / (name.replace(" ", "-") + ".xml")
        path.write_text(data, encoding="utf-8")
        out[name] = (path, expected)
    out["missing file"] = (folder / "nowhere.xml", "no such file")
    return out


def test_bad_exports_end_with_one_clear_line_and_leave_content_alone(fresh_site, tmp_path):
    root, uploads = fresh_site
    before = snapshot(root / "content")
    for name, (path, expected) in _bad_exports(tmp_path).items():
        run = run_invoke(root, "import.wordpress", str(path), "--uploads", str(uploads))
        message = (run.stdout + run.stderr).strip()
        assert run.returncode == 1, (name, message)
        assert "Traceback" not in message and len(message.splitlines()) == 1, (name, message)
        assert str(path.name) in message and expected in message, (name, message)
        assert snapshot(root / "content") == before, name
    assert not list(root.glob(".reelnotes-import-*"))  # no staging folder left behind


def test_bad_options_are_one_line_too(fresh_site, tmp_path):
    root, _ = fresh_site
    bad_map = tmp_path / "map.toml"
    bad_map.write_text("[genre]\nx = 1\n", encoding="utf-8")
    for args, expected in ((["--uploads", str(tmp_path / "nope")], "--uploads"),
                           (["--map", str(bad_map)], "[genre]: expected only the sections")):
        run = run_invoke(root, "import.wordpress", str(WXR), *args)
        message = (run.stdout + run.stderr).strip()
        assert run.returncode == 1 and len(message.splitlines()) == 1 and expected in message, message


def test_a_broken_response_file_stops_the_import_before_anything_is_written(fresh_site):
    root, uploads = fresh_site
    (root / "content/linkbacks/her-2013-online-movie-review.json").write_text("{oops", encoding="utf-8")
    before = snapshot(root / "content")
    run = run_invoke(root, "import.wordpress", str(WXR), "--uploads", str(uploads))
    message = (run.stdout + run.stderr).strip()
    assert run.returncode == 1 and "content/linkbacks/her-2013-online-movie-review.json" in message
    assert snapshot(root / "content") == before


def test_control_characters_are_removed_and_reported(fresh_site, tmp_path):
    root, uploads = fresh_site
    text = WXR.read_text(encoding="utf-8")
    dirty = text.replace("Her 2013, online movie review]]></title>", "Her 2013,\x0b online movie review]]></title>", 1)
    dirty = dirty.replace("Theodore writes letters", "Theodore\x1f writes\x02 letters")
    export = tmp_path / "dirty.xml"
    export.write_bytes(dirty.encode("utf-8") + b"<!-- \xff -->\n")
    report = _import(root, uploads, export=export)
    assert "removed 3 control character(s) that XML does not allow" in report
    assert "replaced 1 byte(s) that are not UTF-8" in report
    written = review(root, "her-2013-online-movie-review").read_text(encoding="utf-8")
    assert "Title: Her 2013, online movie review" in written and "Theodore writes letters" in written
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", written)


# --- --download ---------------------------------------------------------------------------------


def _export_pointing_at(base: str, folder: Path) -> Path:
    export = folder / "download.xml"
    export.write_text(WXR.read_text(encoding="utf-8").replace("http://oldblog.example", base.rstrip("/")),
                      encoding="utf-8")
    return export


def test_download_fetches_missing_images_through_the_safe_fetcher(tmp_path):
    from blogtools.importers.site import Fetcher
    from blogtools.importers.wordpress import import_wordpress

    root = copy_site(tmp_path / "site")
    served = tmp_path / "old-site" / "wp-content" / "uploads" / "2013" / "12"
    served.mkdir(parents=True)
    Image.new("RGB", (300, 450), (10, 120, 90)).save(served / "her-poster.jpg", "JPEG")
    server = OldSite(tmp_path / "old-site")
    try:
        export = _export_pointing_at(server.base, tmp_path)
        # The loopback server is only reachable because the test's fetcher allows loopback.
        report = import_wordpress(export, root=root, download=True, fetcher=Fetcher(allow_loopback=True))
    finally:
        server.stop()
    assert (root / "content/images/posters/her-2013-online-movie-review.jpg").read_bytes() == \
        (served / "her-poster.jpg").read_bytes()
    assert "/wp-content/uploads/2013/12/her-poster.jpg" in server.requests
    assert "downloading it answered HTTP 404" in report.render()  # the still is not served


def test_download_never_fetches_from_private_or_loopback_addresses(tmp_path):
    root = copy_site(tmp_path / "site")
    (tmp_path / "old-site").mkdir()
    server = OldSite(tmp_path / "old-site")
    try:
        export = _export_pointing_at(server.base, tmp_path)
        run = run_invoke(root, "import.wordpress", str(export), "--download")
    finally:
        server.stop()
    assert run.returncode == 0, run.stderr
    assert server.requests == []
    assert "downloading it failed" in run.stdout and "non-public address" in run.stdout
    with Image.open(root / "content/images/posters/her-2013-online-movie-review.jpg") as drawn:
        assert drawn.size == (800, 1200)  # a placeholder instead


def test_review_page_with_replies_and_a_redirect_page_pass_the_nu_html_checker(imported):
    _, _, _, check = imported
    output = check.build.output_path
    pages = [output / "reviews/her-2013-online-movie-review/index.html",
             output / "2013/12/05/her-2013-online-movie-review/index.html"]
    assert nu_errors(pages) == []


def test_a_password_protected_post_stays_a_draft(tmp_path):
    from blogtools.importers.wordpress import import_wordpress

    root = copy_site(tmp_path / "site")
    text = WXR.read_text(encoding="utf-8")
    alien = text.index("<wp:post_id>14</wp:post_id>")
    at = text.index("<wp:post_password><![CDATA[]]>", alien)
    export = tmp_path / "protected.xml"
    export.write_text(text[:at] + "<wp:post_password><![CDATA[members]]>" +
                      text[at + len("<wp:post_password><![CDATA[]]>"):], encoding="utf-8")
    report = import_wordpress(export, root=root).render()
    assert 'post 14 "Review: Alien (1979)": password-protected on WordPress' in report
    assert front_matter(review(root, "review-alien-1979"))["Status"] == "draft"
    assert "members" not in review(root, "review-alien-1979").read_text(encoding="utf-8")
