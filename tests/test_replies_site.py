"""Readers' replies end to end, for real: a production build of a copy of the
blog served on 127.0.0.1 with the receiver beside it; a reader fills in the
review page's form, previews, sends; the writer approves, answers as the
author and exports; the rebuilt page lists the replies threaded in the
Responses list, counts them on the card and in the responses feed. Then the
same in Chromium with JavaScript off, checked with axe in both schemes."""

from __future__ import annotations

import http.client
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import feedparser
import pytest
from bs4 import BeautifulSoup
from markupsafe import Markup

from blogtools.build import build_site
from filmreviews.linkbacks import thread_responses
from linkbacks import cli
from linkbacks.app import Config
from linkbacks.limits import RateLimit
from linkbacks.server import start_in_thread
from reelnotes.contract import Linkback
from reelnotes.reply_text import ALLOWED_TAGS
from tests.browser import violations
from tests.site_copy import copy_site, shared_poster_cache
from tests.site_fixture import serve, soup_of, theme_environment

HER_PAGE = Path("reviews") / "her-2013" / "index.html"
READER_IP = "198.51.100.23"
EMAILS = ("ana@example.org", "bo@example.org", "eve@example.org", "js-off@example.org", "dark@example.org",
          "light@example.org")
QUICK = 0.3  # seconds from preview to Send in these tests (the 3 s default is tested on the receiver)
PLENTY = RateLimit(100_000, 1.0)


@dataclass
class Blog:
    root: Path
    url: str  # the static site, no trailing slash
    receiver: object
    settings: dict
    previews: dict = field(default_factory=dict)  # name -> preview page HTML
    ids: dict = field(default_factory=dict)  # name -> database row id

    @property
    def output(self) -> Path:
        return self.root / "output"

    @property
    def db(self) -> Path:
        return self.receiver.app.config.db_path

    def build(self):
        result = build_site(self.root / "publishconf.py", self.output, self.settings, root=self.root)
        assert result.ok, result.problems
        return result

    def export(self):
        return cli.export(self.db, self.root / "content", self.output / "reviews.json")

    def page(self, relative=HER_PAGE) -> BeautifulSoup:
        return soup_of(self.output / relative)


def fetch(url: str, method: str = "GET", fields: dict | None = None, headers=None):
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=15)
    try:
        body = urlencode(fields) if fields is not None else None
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(method, path, body, {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})})
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8")
    finally:
        conn.close()


def form_fields(form) -> dict:
    """What a browser submits for `form` (inputs, textarea, the submit button) before the reader types."""
    fields = {i["name"]: i.get("value", "") for i in form.find_all("input") if i.get("name")}
    fields.update({t["name"]: t.get_text() for t in form.find_all("textarea")})
    button = form.find("button", attrs={"type": "submit"})
    fields[button["name"]] = button["value"]
    return fields


def reply_through_the_form(blog: Blog, form, typed: dict, name: str) -> int:
    """Fill in `form` (from a page), preview, wait, send; the new row's id."""
    action = form["action"] if form["action"].startswith("http") else blog.receiver.url + form["action"]
    headers = {"X-Forwarded-For": READER_IP}
    status, preview = fetch(action, "POST", {**form_fields(form), **typed}, headers)
    assert status == 200, preview
    blog.previews[name] = preview
    send = BeautifulSoup(preview, "html.parser").select_one("form.reply-send")
    time.sleep(QUICK + 0.1)
    status, thanks = fetch(blog.receiver.url + send["action"], "POST", form_fields(send), headers)
    assert status == 200 and "waiting for approval" in thanks, thanks
    row = blog.receiver.app.store.list("pending")[-1]
    blog.ids[name] = row.id
    return row.id


@pytest.fixture(scope="module")
def blog(tmp_path_factory):
    """The whole round trip; tests below look at what it left."""
    root = copy_site(tmp_path_factory.mktemp("replies-site"), shared_poster_cache(tmp_path_factory))
    (root / "output").mkdir()
    with ExitStack() as stack:
        url = stack.enter_context(serve(root / "output")).rstrip("/")
        receiver = start_in_thread(Config(
            db_path=root / "linkbacks.sqlite3", reviews_json=root / "output" / "reviews.json", site_url=url,
            site_name="Reel Notes", trust_forwarded_for=True, reply_min_seconds=QUICK, ip_limit=PLENTY,
            reply_client_limit=PLENTY, reply_review_limit=PLENTY, reply_preview_limit=PLENTY))
        stack.callback(receiver.stop)
        settings = {"SITEURL": url, "FEED_DOMAIN": url, "FILMREVIEWS_LINKBACKS_ENDPOINT": receiver.url,
                    "FILMREVIEWS_SEARCH": False, "DELETE_OUTPUT_DIRECTORY": False}
        blog = Blog(root, url, receiver, settings)
        store = receiver.app.store
        blog.build()

        # A reader replies with the review page's own form.
        form = blog.page().select_one("form.reply-form")
        ana = reply_through_the_form(blog, form, {
            "name": "Ana", "website": "ana.example", "email": EMAILS[0],
            "text": "The *letters* scenes got me.\n\nSee [my notes](https://ana.example/her)."}, "ana")
        store.set_status(ana, "approved")
        blog.export()
        blog.build()

        # Another reader answers Ana through the Reply link; the writer answers too.
        reply_link = blog.page().select_one(f"#linkback-receiver-{ana} .reply-link a")["href"]
        status, form_page = fetch(reply_link)
        assert status == 200, form_page
        form = BeautifulSoup(form_page, "html.parser").select_one("form.reply-form")
        bo = reply_through_the_form(blog, form, {"name": "Bo", "email": EMAILS[1], "text": "Same here."}, "bo")
        store.set_status(bo, "approved")
        blog.ids["author"] = int(cli.reply_as_author(blog.db, ana, "Thank you, Ana.", "Marta Kowalczyk")
                                 .split()[0].lstrip("#"))
        # Hostile replies that slipped through moderation (or were written into the database directly).
        blog.ids["eve"] = store.add_reply(
            review="her-2013", target=f"{url}/reviews/her-2013/", author="Eve", email=EMAILS[2], status="approved",
            text='<script>alert(1)</script> [x](javascript:alert(1)) <img src=x onerror=alert(1)> "><svg onload=1>',
            excerpt="hostile")
        blog.ids["mallory"] = store.add_reply(
            review="her-2013", target=f"{url}/reviews/her-2013/", author="<b onclick=alert(1)>Mallory</b>",
            text="Markup in my name.", excerpt="Markup in my name.", status="approved")
        blog.export()
        blog.build()
        yield blog


def test_the_form_is_only_in_production_builds(production_build, preview_build):
    production = soup_of(production_build.output_path / HER_PAGE)
    form = production.select_one("#responses form.reply-form")
    assert form["method"] == "post"
    assert form["action"] == "https://reelnotes.example.org/linkbacks/reply/her-2013"
    assert {"name", "website", "email", "text", "homepage", "step"} <= set(form_fields(form))
    assert "never shown or published" in form.get_text()
    preview = soup_of(preview_build.output_path / HER_PAGE)
    assert preview.select_one("form.reply-form") is None and preview.select(".reply-link") == []
    assert "/reply/" not in (preview_build.output_path / HER_PAGE).read_text(encoding="utf-8")


def test_approved_replies_are_in_the_responses_list_threaded_and_the_authors_marked(blog):
    page = blog.page()
    top = page.select("#responses > ol.linkback-list > li")
    kinds = [li.select_one(".linkback-kind").get_text() for li in top]
    assert kinds == ["Trackback", "Webmention reply", "Reply", "Reply"]  # oldest first; Eve's stands alone
    ana = page.select_one(f"#linkback-receiver-{blog.ids['ana']}")
    assert ana.select_one(":scope > .linkback-title")["href"] == "https://ana.example"
    assert ana.select_one(":scope > .linkback-title")["rel"] == ["nofollow", "ugc"]
    answers = ana.select(":scope > ol.linkback-replies > li")
    assert [li["id"] for li in answers] == [f"linkback-receiver-{blog.ids['bo']}",
                                           f"linkback-receiver-{blog.ids['author']}"]
    author = answers[1]
    assert "linkback-by-author" in author["class"]
    assert author.select_one(".linkback-author-badge").get_text() == "Author"
    assert author.select_one(".linkback-title").get_text() == "Marta Kowalczyk"
    assert "linkback-by-author" not in answers[0]["class"]
    # One level: replies in a thread get no Reply link of their own; top-level replies do.
    assert answers[0].select(".reply-link") == [] and author.select(".reply-link") == []
    link = ana.select_one(":scope > .reply-link a")
    assert link["href"] == f"{blog.receiver.url}/reply/her-2013?parent=receiver-{blog.ids['ana']}"
    assert link.get_text() == "Reply to Ana"


def test_the_preview_showed_the_reply_exactly_as_the_review_page_shows_it(blog):
    preview = BeautifulSoup(blog.previews["ana"], "html.parser").select_one(".reply-preview li.linkback-reply")
    shown = blog.page().select_one(f"#linkback-receiver-{blog.ids['ana']}")
    for selector in (".linkback-kind", ".linkback-title", ".reply-text"):
        expected = shown.select_one(f":scope > {selector}").decode_contents()
        assert preview.select_one(selector).decode_contents() == expected, selector
    assert preview.select_one(".linkback-title").attrs == shown.select_one(":scope > .linkback-title").attrs
    assert preview["class"] == shown["class"]


def test_hostile_replies_render_inert_and_unexportable_ones_stay_out(blog):
    page = blog.page()
    eve = page.select_one(f"#linkback-receiver-{blog.ids['eve']} .reply-text")
    for tag in eve.find_all(True):
        assert tag.name in ALLOWED_TAGS and set(tag.attrs) <= {"href", "rel"}, tag
    assert "<script>alert(1)</script>" in eve.get_text()  # shown as the text it is
    for tag in page.select("#responses *"):
        assert not [a for a in tag.attrs if a.lower().startswith("on")], tag
        assert not tag.get("href", "").lower().startswith("javascript:"), tag
    assert page.select_one(f"#linkback-receiver-{blog.ids['mallory']}") is None
    assert "Mallory" not in page.select_one("#responses").get_text()


def test_the_review_card_counts_replies_as_responses(blog):
    cards = blog.page(Path("index.html")).select("article.poster-card-small")
    [her] = [card for card in cards if card.select_one(".poster-card-title a")["href"].endswith("/reviews/her-2013/")]
    # 2 linkbacks + Ana, Bo, the author and Eve.
    assert her.select_one(".poster-card-responses a").get_text() == "6 responses"


def test_the_responses_feed_lists_every_approved_response(blog):
    page = blog.page()
    link = page.find("link", rel="alternate", title="Responses to Her (Atom)")
    assert link["href"] == f"{blog.url}/reviews/her-2013/responses.atom.xml"
    feed = feedparser.parse((blog.output / "reviews" / "her-2013" / "responses.atom.xml").read_bytes())
    assert not feed.bozo, feed.bozo_exception
    assert feed.feed.title == "Reel Notes: Responses to Her (2013)"
    titles = [entry.title for entry in feed.entries]
    assert len(titles) == 6 and titles[-2:] == ["Webmention reply: Re: Her 2013, online movie review",
                                                "Trackback: Voices in the machine: three films about talking "
                                                "to computers"]
    assert {"Reply by Ana", "Reply by Bo", "Reply by Marta Kowalczyk (the author)", "Reply by Eve"} <= set(titles)
    ana = next(e for e in feed.entries if e.title == "Reply by Ana")
    assert ana.link == f"{blog.url}/reviews/her-2013/#linkback-receiver-{blog.ids['ana']}"
    assert '<a href="https://ana.example/her" rel="nofollow ugc">my notes</a>' in ana.content[0].value
    dates = [entry.published_parsed for entry in feed.entries]
    assert dates == sorted(dates, reverse=True)
    # A review with no responses still has a valid feed, dated by the review, not by the build.
    empty = feedparser.parse((blog.output / "reviews" / "alien-1979" / "responses.atom.xml").read_bytes())
    assert not empty.bozo and empty.entries == [] and empty.feed.updated.startswith("20")


def test_no_email_or_client_address_reaches_content_or_output(blog):
    needles = [email.encode() for email in EMAILS] + [READER_IP.encode()]
    files = [p for folder in (blog.root / "content", blog.output) for p in folder.rglob("*") if p.is_file()]
    assert len(files) > 50
    for path in files:
        data = path.read_bytes()
        assert not [n for n in needles if n in data], path
    assert blog.receiver.app.store.get(blog.ids["ana"]).email == EMAILS[0]  # kept for the one notice only


def test_thread_responses_survives_missing_parents_and_loops():
    def record(ident, parent=None, day=1):
        return Linkback(id=ident, kind="reply", type="reply", source="", title="", author=ident, excerpt="x",
                        date=datetime(2026, 1, day, tzinfo=UTC), text="x", parent=parent)

    threads = thread_responses([record("a"), record("b", "a", 2), record("c", "b", 3), record("d", "gone", 4),
                                record("e", "f", 5), record("f", "e", 6)])
    assert [(t.record.id, [r.record.id for r in t.replies]) for t in threads] == [
        ("a", ["b", "c"]), ("d", []), ("e", []), ("f", [])]
    assert isinstance(threads[0].body, Markup) and str(threads[0].body) == "<p>x</p>"


def test_the_partial_offers_reply_links_only_for_receiver_replies_when_there_is_a_form():
    records = [Linkback(id=ident, kind="reply", type="reply", source="", title="", author="Ana", excerpt="x",
                        date=datetime(2026, 1, 1, tzinfo=UTC), text="Hi") for ident in ("receiver-4", "wordpress-9")]
    template = theme_environment().get_template("partials/linkbacks.html")
    with_form = BeautifulSoup(template.render(responses=thread_responses(records), reply_url="https://e.org/r/x"),
                              "html.parser")
    assert [a["href"] for a in with_form.select(".reply-link a")] == ["https://e.org/r/x?parent=receiver-4"]
    assert with_form.select_one("form.reply-form")["action"] == "https://e.org/r/x"
    without = BeautifulSoup(template.render(responses=thread_responses(records), reply_url=""), "html.parser")
    assert without.select(".reply-link") == [] and without.select_one("form") is None


# --- In a browser ----------------------------------------------------------------------


def reply_in_browser(page, blog, name: str, email: str, check=lambda page: None) -> None:
    """Fill in the review page's form, preview, send and go back, as a reader
    would with the mouse; ``check(page)`` runs on the review page, the
    preview and the thank-you page."""
    page.goto(f"{blog.url}/reviews/her-2013/", wait_until="load")
    check(page)
    page.fill("#reply-name", name)
    page.fill("#reply-email", email)
    page.fill("#reply-text", f"Written by {name}. *Lovely.*")
    page.click("form.reply-form button[type=submit]")
    page.wait_for_selector(".reply-preview")
    assert page.title().startswith("Preview your reply")
    assert page.locator(".reply-preview .reply-text em").inner_text() == "Lovely."
    # The site's stylesheet applies on the receiver's page (its CSP allows it).
    assert page.evaluate("getComputedStyle(document.querySelector('.reply-button')).borderTopLeftRadius") == "6px"
    check(page)
    page.wait_for_timeout((QUICK + 0.2) * 1000)
    page.click("form.reply-send button[type=submit]")
    page.wait_for_selector("a.reply-back")
    assert page.locator("h1").inner_text() == "Thanks — your reply is waiting for approval"
    check(page)
    page.click("a.reply-back")
    page.wait_for_load_state("load")
    assert page.url == f"{blog.url}/reviews/her-2013/#responses"
    rows = [r for r in blog.receiver.app.store.list("pending") if r.author == name]
    assert len(rows) == 1 and rows[0].email == email


def test_the_form_works_in_chromium_with_javascript_off(blog, browser):
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900})
    hosts = set()
    context.on("request", lambda request: hosts.add(urlsplit(request.url).hostname))
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        reply_in_browser(page, blog, "Reader without JavaScript", EMAILS[3])
    finally:
        context.close()
    assert hosts == {"127.0.0.1"}  # nothing asked of any third party


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_form_preview_and_thank_you_pages_pass_axe(blog, browser, axe, scheme):
    """axe needs JavaScript to run; the receiver's pages have no script, so
    they are the same pages a reader without JavaScript gets."""
    found = []
    context = browser.new_context(color_scheme=scheme, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        reply_in_browser(page, blog, f"Reader in {scheme}", EMAILS[4] if scheme == "dark" else EMAILS[5],
                         check=lambda page: found.extend(violations(axe, page)))
    finally:
        context.close()
    assert found == []


def test_the_receivers_pages_pass_the_nu_html_checker(blog, tmp_path):
    from tests.nu import nu_errors

    action = f"{blog.receiver.url}/reply/her-2013"
    typed = {"name": "Vera", "website": "", "email": "", "text": "Checked *markup*.", "homepage": "",
             "step": "preview"}
    _, preview = fetch(action, "POST", typed)
    send = BeautifulSoup(preview, "html.parser").select_one("form.reply-send")
    time.sleep(QUICK + 0.1)
    pages = {
        "form": fetch(f"{action}?parent=receiver-{blog.ids['ana']}")[1],
        "preview": preview,
        "thanks": fetch(action, "POST", form_fields(send))[1],
        "problems": fetch(action, "POST", {**typed, "email": "nope", "text": unique_text()})[1],
        "refusal": fetch(action, "POST", {**typed, "homepage": "x"})[1],
        "not-found": fetch(f"{blog.receiver.url}/reply/nothing-here")[1],
    }
    files = []
    for name, html in pages.items():
        files.append(tmp_path / f"{name}.html")
        files[-1].write_text(html, encoding="utf-8")
    assert nu_errors(files) == []


def unique_text() -> str:
    return f"Another one ({time.perf_counter_ns()})."
