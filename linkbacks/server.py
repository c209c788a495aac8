"""Running the receiver in a real HTTP server: ``wsgiref`` with one thread
per connection. ``serve`` blocks (for ``invoke linkbacks.serve``);
``start_in_thread`` returns a running server (tests, benchmark, scripts).

Every connection reads its request under two limits (``Config.read_timeout``
and ``Config.request_deadline``): a client that goes silent for the read
timeout, or has not sent its whole request (line, headers and body) by the
deadline, is cut off -- a truncated body is answered 400 by the app, slow
headers 408 -- so a slow-drip client cannot hold a thread for ever. Each cut
is one line in the log, never a traceback.
"""

from __future__ import annotations

import io
import logging
import socket
import socketserver
import sys
import threading
import time
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from .app import Config, LinkbackApp

logger = logging.getLogger(__name__)


class RequestTimeout(TimeoutError):
    """The client went silent, or did not send its request in time."""


class DeadlineReader(io.RawIOBase):
    """A connection's input under two limits: each read waits at most
    ``idle`` seconds, and no read starts or lasts past ``deadline`` (a
    ``time.monotonic()`` value). Either raises RequestTimeout."""

    def __init__(self, sock: socket.socket, idle: float, deadline: float):
        super().__init__()
        self.sock, self.idle, self.deadline = sock, idle, deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise RequestTimeout("the request took longer than its deadline")
        self.sock.settimeout(min(self.idle, remaining))
        try:
            return self.sock.recv_into(buffer)
        except TimeoutError:
            quiet = remaining > self.idle
            raise RequestTimeout(f"the client sent nothing for {self.idle:g} s" if quiet
                                 else "the request took longer than its deadline") from None
        finally:
            self.sock.settimeout(self.idle)  # writing the answer is not held to the deadline


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    request_queue_size = 128  # listen backlog: bursts of clients are not dropped
    read_timeout = 3.0
    request_deadline = 15.0

    def handle_error(self, request, client_address):
        # A connection that broke mid-way is the client's business: one line, no traceback.
        logger.warning("connection from %s ended with an error: %s", client_address[0],
                       _one_line(sys.exc_info()[1]))


class ThreadingWSGIServer6(ThreadingWSGIServer):
    address_family = socket.AF_INET6


def _one_line(exc: BaseException | None) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0] if exc is not None else "unknown error"


class QuietHandler(WSGIRequestHandler):
    """Logs through ``logging`` instead of stderr, and reads each request
    under the server's read timeout and request deadline."""

    def setup(self):
        self.timeout = self.server.read_timeout
        super().setup()
        deadline = time.monotonic() + self.server.request_deadline
        self.rfile = io.BufferedReader(DeadlineReader(self.connection, self.server.read_timeout, deadline))

    def handle(self):
        try:
            super().handle()
        except RequestTimeout as exc:  # the request line or headers did not arrive in time
            logger.info("%s: request cut off: %s", self.address_string(), exc)
            try:
                self.wfile.write(b"HTTP/1.0 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            except OSError:
                pass
        except OSError as exc:
            logger.info("%s: connection lost: %s", self.address_string(), _one_line(exc))

    def log_message(self, format, *args):  # noqa: A002 -- signature from the base class
        logger.debug("%s - %s", self.address_string(), format % args)


def make_wsgi_server(app, host: str = "127.0.0.1", port: int = 0):
    server_class = ThreadingWSGIServer6 if ":" in host else ThreadingWSGIServer
    httpd = make_server(host, port, app, server_class=server_class, handler_class=QuietHandler)
    config = getattr(app, "config", None)
    if config is not None:
        httpd.read_timeout = config.read_timeout
        httpd.request_deadline = config.request_deadline
    return httpd


class RunningServer:
    """A receiver serving in a background thread; use as a context manager."""

    def __init__(self, app: LinkbackApp, host: str = "127.0.0.1", port: int = 0):
        self.app = app
        self.httpd = make_wsgi_server(app, host, port)
        self.host = host
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)
        self.app.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def start_in_thread(config: Config, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    return RunningServer(LinkbackApp(config), host, port)


def serve(config: Config, host: str, port: int) -> None:
    """Serve until interrupted. Raises ValueError for a reviews.json that
    cannot be read and OSError when the address cannot be listened on."""
    app = LinkbackApp(config)
    try:
        httpd = make_wsgi_server(app, host, port)
    except BaseException:
        app.close()  # stop the webmention workers it already started
        raise
    logger.info("linkback receiver on http://%s:%s/", host, httpd.server_address[1])
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
        app.close()
