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

from import_support import EXPORT_EMAILS, WXR, body, find_personal_data, front_matter, make_uploads
from site_copy import copy_site, run_invoke, shared_poster_cache, snapshot
from site_fixture import serve

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
    assert "Lovely review. I **cried** at the rooftop scene." in anna.select_one(".linkback-text").get_text()
    assert items["linkback-wordpress-62"].select_one(".linkback-kind").get_text() == "Pingback"
    assert items["linkback-wordpress-63"].select_one(".linkback-title").get_text() == "Her and me"
    assert her.find("script") is None and "javascript:" not in str(her)
    alien = page_soup(output, "reviews/review-alien-1979").select_one("#responses")
    assert [li["id"] for li in alien.select("li.linkback")] == ["linkback-wordpress-70"]
    sample = page_soup(output, "reviews/her-2013").select_one("#responses")
    assert [li["id"] for li in sample.select("li.linkback")] == ["linkback-1", "linkback-2"]


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
