"""The safe fetcher and source verification: address vetting, redirects,
limits (time, size, content type), link comparison and extraction."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from linkbacks import fetch, verify
from linkbacks.targets import comparison_key, is_http_url, same_page
from tests.linkbacks.support import ConnectionLog


@pytest.mark.parametrize(
    "address, loopback_ok, expected",
    [
        ("93.184.215.14", False, True),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", False, True),
        ("::ffff:93.184.215.14", False, True),
        ("127.0.0.1", False, False),
        ("127.0.0.1", True, True),
        ("127.8.9.10", True, True),
        ("::1", False, False),
        ("::1", True, True),
        ("::ffff:127.0.0.1", False, False),
        ("::ffff:127.0.0.1", True, True),
        ("10.0.0.1", True, False),
        ("172.16.5.4", True, False),
        ("192.168.1.1", True, False),
        ("169.254.169.254", True, False),
        ("::ffff:169.254.169.254", True, False),
        ("::ffff:10.0.0.1", True, False),
        ("100.64.0.1", False, False),
        ("0.0.0.0", True, False),
        ("::", True, False),
        ("fe80::1", True, False),
        ("fd00::1", True, False),
        ("224.0.1.1", False, False),
        ("255.255.255.255", False, False),
        ("192.0.0.8", False, False),
        ("198.18.0.1", False, False),
        ("2001:db8::1", False, False),
        ("2002:7f00:1::1", True, False),  # 6to4 wrapping 127.0.0.1
        ("2002:a9fe:a9fe::1", False, False),  # 6to4 wrapping 169.254.169.254
        ("64:ff9b::a9fe:a9fe", False, False),  # NAT64 of 169.254.169.254
        ("64:ff9b::5db8:d70e", False, True),  # NAT64 of a public address
        ("not an address", True, False),
    ],
)
def test_vet_address(address, loopback_ok, expected):
    assert fetch.vet_address(address, allow_loopback=loopback_ok) is expected


def test_resolve_refuses_a_name_if_any_address_is_private(monkeypatch):
    def fake_getaddrinfo(host, port, **kwargs):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    log = ConnectionLog(monkeypatch)
    with pytest.raises(fetch.BlockedAddress):
        fetch.Fetcher().get("http://mixed.example/")
    assert log.calls == []


def test_connects_to_the_vetted_address_not_a_second_lookup(monkeypatch, pages):
    """DNS rebinding: the name resolves once; the connection goes to that
    address and the Host header keeps the name."""
    pages.set("/rebind", "<p>ok</p>")
    answers = iter(["127.0.0.1", "169.254.169.254", "169.254.169.254"])
    real = socket.getaddrinfo

    def rebinding(host, port, **kwargs):
        if host == "rebind.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]
        return real(host, port, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    log = ConnectionLog(monkeypatch)
    response = fetch.Fetcher(allow_loopback=True).get(f"http://rebind.example:{pages.port}/rebind")
    assert response.status == 200 and response.body == b"<p>ok</p>"
    assert log.calls == ["127.0.0.1"]


def test_redirects_are_followed_and_limited(pages):
    pages.set("/r/final", "<p>final</p>")
    for i in range(4):
        pages.set(f"/r/{i}", "", status=302, headers=[("Location", f"/r/{i + 1}" if i < 3 else "/r/final")])
    fetcher = fetch.Fetcher(allow_loopback=True)
    response = fetcher.get(pages.url("/r/1"))  # 1 -> 2 -> 3 -> final: three redirects
    assert response.url == pages.url("/r/final") and len(response.redirects) == 3
    with pytest.raises(fetch.TooManyRedirects):
        fetcher.get(pages.url("/r/0"))  # four
    pages.set("/r/scheme", "", status=301, headers=[("Location", "file:///etc/passwd")])
    with pytest.raises(fetch.BadURL):
        fetcher.get(pages.url("/r/scheme"))


def test_size_and_content_type_limits(pages):
    fetcher = fetch.Fetcher(allow_loopback=True, max_bytes=1024 * 1024)
    pages.set("/big", b"<p>" + b"x" * (1024 * 1024 + 10))
    with pytest.raises(fetch.TooLarge):
        fetcher.get(pages.url("/big"))
    pages.set("/png", b"\x89PNG" + b"\0" * 100, content_type="image/png")
    with pytest.raises(fetch.NotHTML):
        fetcher.get(pages.url("/png"), html_only=True)
    assert fetcher.get(pages.url("/png"), skip_non_html_body=True).body == b""


def _raw_server(behaviour):
    """A TCP server on 127.0.0.1 that runs ``behaviour(conn)`` per connection."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)

    def loop():
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            threading.Thread(target=behaviour, args=(conn,), daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()
    return sock


def test_size_limit_without_content_length():
    def endless(conn):
        try:
            conn.recv(4096)
            conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n")
            for _ in range(300):
                conn.sendall(b"x" * 8192)
        except OSError:
            pass
        finally:
            conn.close()

    server = _raw_server(endless)
    try:
        with pytest.raises(fetch.TooLarge):
            fetch.Fetcher(allow_loopback=True, max_bytes=512 * 1024).get(f"http://127.0.0.1:{server.getsockname()[1]}/")
    finally:
        server.close()


def test_total_timeout_against_silent_and_trickling_servers():
    def silent(conn):
        time.sleep(3)
        conn.close()

    def trickle(conn):
        try:
            conn.recv(4096)
            conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n")
            for _ in range(30):
                conn.sendall(b"<")
                time.sleep(0.1)
        except OSError:
            pass
        finally:
            conn.close()

    for behaviour in (silent, trickle):
        server = _raw_server(behaviour)
        try:
            started = time.monotonic()
            with pytest.raises(fetch.ConnectError):
                fetch.Fetcher(allow_loopback=True, timeout=0.5).get(f"http://127.0.0.1:{server.getsockname()[1]}/")
            assert time.monotonic() - started < 1.5
        finally:
            server.close()


def test_urls_and_comparison():
    assert is_http_url("https://example.org/x")
    for bad in ("javascript:alert(1)", "ftp://x/", "https://", "http://a b/", "http://u:p@x/", "//x/", "", None, "http://x:99999/"):
        assert not is_http_url(bad)
    assert same_page("https://Example.org:443/reviews/her/index.html#c", "http://example.org/reviews/her")
    assert same_page("https://example.org/reviews/her/?utm=1", "https://example.org/reviews/her/")
    assert not same_page("https://example.org/reviews/her/", "https://example.org/reviews/him/")
    assert not same_page("https://example.org:8080/reviews/her/", "https://example.org/reviews/her/")
    assert comparison_key("http://[::1]:8000/a/") == "[::1]:8000/a"


def test_verify_html_requires_a_real_link():
    target = "https://example.org/reviews/her-2013/"
    page = f'<p>Text mentioning {target} without a link</p><img src="{target}">'
    with pytest.raises(verify.NoLinkToTarget):
        verify.verify_html(page, "https://a.example/post", target)
    page = '<base href="https://example.org/reviews/"><p>See <a href="her-2013/">Her</a></p>'
    info = verify.verify_html(page, "https://a.example/post", target)
    assert info.excerpt == "See Her" and info.author == "a.example" and info.type == "mention"


def test_verify_source_maps_failures_to_pingback_faults(pages):
    fetcher = fetch.Fetcher(allow_loopback=True)
    target = "https://example.org/reviews/her-2013/"
    pages.set("/v/gone", "", status=410)
    pages.set("/v/png", b"x", content_type="image/png")
    cases = {
        pages.url("/v/missing"): 16,
        pages.url("/v/gone"): 16,
        pages.url("/v/png"): 17,
        "http://10.0.0.1/": 49,
        "http://127.0.0.1:9/": 50,
    }
    for url, fault in cases.items():
        with pytest.raises(verify.VerificationError) as info:
            verify.verify_source(fetcher, url, target)
        assert info.value.fault == fault, url


def test_https_checks_the_certificate_against_the_url_host(tmp_path):
    """The socket goes to the vetted IP, but TLS verifies the URL's name."""
    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost", "-days", "1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"<p>secure</p>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = server_ctx.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    try:
        port = httpd.server_address[1]
        client_ctx = ssl.create_default_context(cafile=str(cert))
        fetcher = fetch.Fetcher(allow_loopback=True, ssl_context=client_ctx)
        assert fetcher.get(f"https://localhost:{port}/").body == b"<p>secure</p>"
        with pytest.raises(fetch.ConnectError):  # certificate is for "localhost", not this name
            fetcher.get(f"https://127.0.0.1:{port}/")
        with pytest.raises(fetch.ConnectError):  # and an untrusted certificate is refused
            fetch.Fetcher(allow_loopback=True).get(f"https://localhost:{port}/")
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_non_ascii_urls_go_on_the_wire_percent_encoded_with_idna_hosts(pages):
    assert fetch.ascii_url("http://exämple.org:8080/café?q=é#top") == "http://xn--exmple-cua.org:8080/caf%C3%A9?q=%C3%A9#top"
    assert fetch.ascii_url("https://fr.wikipedia.org/wiki/Am%C3%A9lie") == "https://fr.wikipedia.org/wiki/Am%C3%A9lie"
    with pytest.raises(fetch.BadURL):  # a label too long for IDNA
        fetch.ascii_url("http://" + "é" * 64 + ".example/")
    pages.set("/caf%C3%A9", "<p>coffee</p>")
    fetcher = fetch.Fetcher(allow_loopback=True)
    response = fetcher.get(pages.url("/café"))
    assert (response.status, response.body) == (200, b"<p>coffee</p>")
    assert ("GET", "/caf%C3%A9") in pages.requests
    # A Location header in raw UTF-8 (as servers send it) is followed to the same page.
    pages.set("/to-cafe", "", status=302, headers=[("Location", "/café".encode().decode("latin-1"))])
    assert fetcher.get(pages.url("/to-cafe")).url == pages.url("/caf%C3%A9")


def test_a_slow_dns_lookup_counts_against_the_deadline(monkeypatch):
    release, finished = threading.Event(), threading.Event()
    guarded = socket.getaddrinfo

    def slow(host, port, **kwargs):
        if host != "slow.example":
            return guarded(host, port, **kwargs)
        release.wait(10)
        finished.set()
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(socket, "getaddrinfo", slow)
    log = ConnectionLog(monkeypatch)
    try:
        with pytest.raises(fetch.ResolveError):
            fetch.Fetcher(allow_loopback=True, timeout=0.3).get("http://slow.example:9/")
        assert not finished.is_set()  # it gave up while the lookup was still running
        assert log.calls == []
    finally:
        release.set()
