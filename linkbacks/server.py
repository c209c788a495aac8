"""Running the receiver in a real HTTP server: ``wsgiref`` with one thread
per connection. ``serve`` blocks (for ``invoke linkbacks.serve``);
``start_in_thread`` returns a running server (tests, benchmark, scripts)."""

from __future__ import annotations

import logging
import socket
import socketserver
import threading
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from .app import Config, LinkbackApp

logger = logging.getLogger(__name__)


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    request_queue_size = 128  # listen backlog: bursts of clients are not dropped


class ThreadingWSGIServer6(ThreadingWSGIServer):
    address_family = socket.AF_INET6


class QuietHandler(WSGIRequestHandler):
    """Logs through ``logging`` instead of stderr, and gives every
    connection a socket timeout so slow clients cannot hold threads."""

    timeout = 15

    def log_message(self, format, *args):  # noqa: A002 -- signature from the base class
        logger.debug("%s - %s", self.address_string(), format % args)


def make_wsgi_server(app, host: str = "127.0.0.1", port: int = 0):
    server_class = ThreadingWSGIServer6 if ":" in host else ThreadingWSGIServer
    return make_server(host, port, app, server_class=server_class, handler_class=QuietHandler)


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
