"""The whole loop, for real: a review on one of our blogs links to a review on
another; `linkbacks.send` on the first pings the second's receiver, which
verifies the source; the writer approves and exports it; the rebuilt review
page lists it. Everything runs on 127.0.0.1."""

import functools
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from blogtools.build import build_site
from linkbacks import cli
from linkbacks.app import Config
from linkbacks.server import start_in_thread
from tests import site_copy


def copy_site(root):
    """A copy of the blog with no linkbacks yet."""
    site_copy.copy_site(root)
    shutil.rmtree(root / "content" / "linkbacks")
    (root / "content" / "linkbacks").mkdir()
    return root


@pytest.fixture
def static_server():
    servers = []

    def start(folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        handler = functools.partial(SimpleHTTPRequestHandler, directory=str(folder))
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_sent_linkback_is_received_verified_approved_exported_and_listed(tmp_path, static_server):
    cache = {"FILMREVIEWS_POSTER_CACHE": str(tmp_path / "poster-cache"), "FILMREVIEWS_SEARCH": False}
    # Blog A receives; its output folder is served before it is built, so its
    # URL is known to the build.
    blog_a = copy_site(tmp_path / "a")
    url_a = static_server(blog_a / "output")
    db = tmp_path / "linkbacks.sqlite3"
    receiver = start_in_thread(Config(db_path=db, reviews_json=blog_a / "output" / "reviews.json",
                                      site_url=url_a, allow_loopback=True))
    settings_a = dict(cache, SITEURL=url_a, FEED_DOMAIN=url_a,
                      FILMREVIEWS_LINKBACKS_ENDPOINT=receiver.url, DELETE_OUTPUT_DIRECTORY=False)
    assert build_site(blog_a / "publishconf.py", blog_a / "output", settings_a, root=blog_a).ok

    # Blog B's review of Her links to blog A's review of Her.
    blog_b = copy_site(tmp_path / "b")
    url_b = static_server(blog_b / "output")
    review = blog_b / "content" / "reviews" / "her-2013.md"
    review.write_text(review.read_text(encoding="utf-8") +
                      f"\nA friend [disagrees about the ending]({url_a}/reviews/her-2013/).\n",
                      encoding="utf-8")
    settings_b = dict(cache, SITEURL=url_b, FEED_DOMAIN=url_b, DELETE_OUTPUT_DIRECTORY=False)
    assert build_site(blog_b / "publishconf.py", blog_b / "output", settings_b, root=blog_b).ok

    try:
        sent = cli.send(blog_b / "output", tmp_path / "sent.json", allow_loopback=True,
                        site_url=url_b, blog_name="Blog B")
        assert any(line.startswith("sent") and "webmention" in line for line in sent), sent
        assert receiver.app.wait_idle(30)
        pending = cli.list_linkbacks(db, "pending")
        assert len(pending) == 1 and f"{url_b}/reviews/her-2013/" in pending[0], pending
        # Sending again changes nothing: the pair is in the sent cache.
        again = cli.send(blog_b / "output", tmp_path / "sent.json", allow_loopback=True,
                         site_url=url_b, blog_name="Blog B")
        assert not [line for line in again if line.startswith("sent")], again
    finally:
        receiver.stop()

    linkback_id = int(pending[0].split()[0].lstrip("#"))
    cli.set_status(db, linkback_id, "approved")
    exported = cli.export(db, blog_a / "content", blog_a / "output" / "reviews.json")
    assert any("her-2013.json" in line for line in exported), exported

    assert build_site(blog_a / "publishconf.py", blog_a / "output", settings_a, root=blog_a).ok
    page = BeautifulSoup((blog_a / "output" / "reviews" / "her-2013" / "index.html")
                         .read_text(encoding="utf-8"), "html.parser")
    listed = page.select("#responses li.linkback")
    assert len(listed) == 1
    link = listed[0].find("a")
    assert link["href"] == f"{url_b}/reviews/her-2013/"
    assert link["rel"] == ["nofollow", "ugc"]
    assert "Her" in link.get_text()
