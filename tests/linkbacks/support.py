"""Shared helpers for the linkbacks tests (no tests here): a loopback page
server standing in for other people's blogs, a receiver on a real threaded
WSGI server, HTTP helpers, and a recorder of every socket the fetcher opens."""

from __future__ import annotations

import http.client
import ipaddress
import json
import socket
import threading
import time
import xmlrpc.client
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlencode

from linkbacks import fetch
from linkbacks.app import Config
from linkbacks.limits import RateLimit
from linkbacks.server import start_in_thread
from reelnotes.contract import load_folder

SITE = "https://example.org"
HER = f"{SITE}/reviews/her-2013/"
ALIEN = f"{SITE}/reviews/alien-1979/"
REVIEWS = [
    {"slug": "her-2013", "url": "/reviews/her-2013/", "title": "Her"},
    {"slug": "alien-1979", "url": "/reviews/alien-1979/", "title": "Alien"},
]
GENEROUS = RateLimit(100_000, 1.0)
BACKENDS = ["sqlite", "postgresql"]  # the databases the store runs on (conftest: backend, new_database)


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: list = field(default_factory=list)
    delay: float = 0.0  # seconds before answering: a slow blog


class PageServer:
    """An HTTP server on 127.0.0.1 serving configurable pages and recording
    every request it receives (method, path)."""

    def __init__(self, host: str = "127.0.0.1"):
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, str]] = []
        self.bodies: list[bytes] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with outer._lock:
                    outer.requests.append((self.command, self.path))
                    outer.bodies.append(body)
                route = outer.routes.get(self.path.split("?", 1)[0])
                if route is None:
                    route = Route(404, b"<html><body>Not here</body></html>")
                time.sleep(route.delay)
                self.send_response(route.status)
                if route.content_type:
                    self.send_header("Content-Type", route.content_type)
                for name, value in route.headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(route.body)

            do_GET = do_POST = do_HEAD = _serve

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base = f"http://{host}:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return self.base + path

    def set(self, path: str, body: str | bytes = b"", status: int = 200, content_type="text/html; charset=utf-8",
            headers=(), delay: float = 0.0):
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.routes[path] = Route(status, body, content_type, list(headers), delay)
        return self.url(path)

    def page_linking(self, path: str, target: str, title: str = "A post", extra: str = "", delay: float = 0.0) -> str:
        """Serve a plain HTML page at ``path`` with a link to ``target``."""
        return self.set(
            path,
            f"<!doctype html><html><head><title>{title}</title></head><body>"
            f"<p>I wrote about <a href=\"{target}\">this review</a>.</p>{extra}</body></html>",
            delay=delay,
        )

    def hits(self, path_prefix: str = "") -> list[tuple[str, str]]:
        with self._lock:
            return [r for r in self.requests if r[1].startswith(path_prefix)]

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def approved_records(content: Path, slugs) -> dict:
    """The approved-records files under ``content/linkbacks/``, read as the
    build reads them: review slug -> linkbacks. A file the build would skip
    fails the test."""
    by_slug, errors = load_folder(content / "linkbacks", set(slugs))
    assert not errors, [str(e) for e in errors]
    return by_slug


def write_reviews_json(path: Path, site_url: str = "", reviews=None) -> Path:
    path.write_text(json.dumps({"site_url": site_url, "reviews": reviews or REVIEWS}), encoding="utf-8")
    return path


def start_receiver(tmp_path: Path, allow_loopback: bool = True, site_url: str = SITE, reviews=None, db=None,
                   **config):
    """A receiver on 127.0.0.1 with its files in ``tmp_path``; ``db``: its
    database (default: an SQLite file there)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    reviews_json = write_reviews_json(tmp_path / "reviews.json", "", reviews)
    config.setdefault("ip_limit", GENEROUS)
    config.setdefault("pair_limit", GENEROUS)
    config.setdefault("status_limit", GENEROUS)
    cfg = Config(
        db_path=db or tmp_path / "linkbacks.sqlite3",
        reviews_json=reviews_json,
        site_url=site_url,
        allow_loopback=allow_loopback,
        **config,
    )
    return start_in_thread(cfg)


@dataclass
class Reply:
    status: int
    headers: dict
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


def request(port: int, method: str, path: str, body: bytes | str | None = None, headers=None) -> Reply:
    if isinstance(body, str):
        body = body.encode("utf-8")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


def post_form(port: int, path: str, fields: dict, charset: str | None = None, encoding: str = "utf-8") -> Reply:
    ctype = "application/x-www-form-urlencoded" + (f"; charset={charset}" if charset else "")
    return request(port, "POST", path, urlencode(fields, encoding=encoding), {"Content-Type": ctype})


def pingback(port: int, source, target, method: str = "pingback.ping") -> Reply:
    body = xmlrpc.client.dumps((source, target), method)
    return request(port, "POST", "/pingback", body, {"Content-Type": "text/xml"})


def xmlrpc_result(reply: Reply):
    """(result, None) or (None, fault code) from an XML-RPC response."""
    try:
        (result,), _ = xmlrpc.client.loads(reply.body)
        return result, None
    except xmlrpc.client.Fault as fault:
        return None, fault.faultCode


class ConnectionLog:
    """Records every socket ``fetch.open_socket`` opens (then really opens it)."""

    def __init__(self, monkeypatch):
        self.calls: list[str] = []
        real = fetch.open_socket

        def recording(family, sockaddr, timeout):
            self.calls.append(sockaddr[0])
            return real(family, sockaddr, timeout)

        monkeypatch.setattr(fetch, "open_socket", recording)


def guard_dns(monkeypatch):
    """Tests never query DNS: IP literals and "localhost" (/etc/hosts) resolve,
    any other name fails at once as unknown."""
    real = socket.getaddrinfo

    def guarded(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else str(host)
        try:
            ipaddress.ip_address(name.split("%", 1)[0])
            numeric = True
        except ValueError:
            numeric = name.isdigit()
        if numeric or name == "localhost":
            return real(host, *args, **kwargs)
        raise socket.gaierror(socket.EAI_NONAME, "name resolution is disabled in tests")

    monkeypatch.setattr(socket, "getaddrinfo", guarded)


# --- Replies (the Leave a Reply form) ------------------------------------------------------

REPLY = {"name": "Ana", "website": "", "email": "", "text": "The ending stayed with me for days."}


def post_reply(port: int, slug: str, fields: dict, headers=None, path_prefix: str = "") -> Reply:
    """POST the reply form as a browser would (step defaults to preview)."""
    body = urlencode({"step": "preview", "homepage": "", **fields})
    return request(port, "POST", f"{path_prefix}/reply/{slug}", body,
                   {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})})


def send_fields(preview: Reply) -> dict:
    """The hidden fields of a preview page's Send form, step included."""
    from bs4 import BeautifulSoup

    form = BeautifulSoup(preview.text, "html.parser").select_one("form.reply-send")
    assert form is not None, preview.text
    fields = {field["name"]: field.get("value", "") for field in form.find_all("input")}
    button = form.find("button", attrs={"name": "step"})
    fields[button["name"]] = button["value"]
    return fields


def preview_and_send(port: int, slug: str, fields: dict, headers=None, wait: float = 0.0) -> tuple[Reply, Reply]:
    """Preview a reply, wait ``wait`` seconds, press Send; (preview, sent)."""
    preview = post_reply(port, slug, fields, headers)
    assert preview.status == 200, preview.text
    time.sleep(wait)
    body = urlencode(send_fields(preview))
    sent = request(port, "POST", f"/reply/{slug}", body,
                   {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})})
    return preview, sent
