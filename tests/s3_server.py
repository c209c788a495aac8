"""A real S3-compatible server on 127.0.0.1 for the object-storage deploy tests.

`running_moto(folder)` starts moto's S3 server (`python -m moto.server`) in its
own process on a free port and yields its address. `StoreProxy` sits between
the deploy and that server: it forwards every request unchanged, records
each one (method and key), and can be told to drop every connection after a
number of requests, the way a network that fails half-way does.
"""

from __future__ import annotations

import http.client
import http.server
import subprocess
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from tests.processes import free_port, wait_until_serving

READY_WITHIN = 30.0  # seconds; only a deadline for start-up, nothing is timed

# Credentials for the test server only: moto accepts any. The config and
# credential files point nowhere, so nothing on the machine changes a test.
TEST_AWS_ENVIRON = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@contextmanager
def running_moto(folder: Path, host: str = "127.0.0.1"):
    """Run moto's S3 server for the duration of the block; yields its base URL."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port(host)
    log = folder / "moto.log"
    with log.open("w") as log_file:
        process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", host, "-p", str(port)],
                                   stdout=log_file, stderr=subprocess.STDOUT)
    try:
        wait_until_serving("moto", host, port, process, log, within=READY_WITHIN)
        yield f"http://{host}:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass(frozen=True)
class Request:
    method: str
    bucket: str
    key: str  # "" for requests on the bucket (listing, batch delete)


class StoreProxy:
    """A pass-through HTTP proxy on 127.0.0.1 in front of the S3 server.

    `requests` lists what went through; after `fail_after` requests (None:
    never) every further connection is closed without an answer.
    """

    def __init__(self, upstream: str):
        self.upstream = urlsplit(upstream)
        self.requests: list[Request] = []
        self.dropped = 0
        self.fail_after: int | None = None
        self._lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as boto3 expects

            def log_message(self, format, *args):  # noqa: A002 - the base class names it so
                pass

            def _forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if not proxy._admit(self.command, self.path):
                    self.close_connection = True
                    return
                connection = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port,
                                                        timeout=60)
                try:
                    connection.request(self.command, self.path, body=body, headers=dict(self.headers))
                    answer = connection.getresponse()
                    data = answer.read()
                finally:
                    connection.close()
                self.send_response_only(answer.status, answer.reason)
                for name, value in answer.getheaders():
                    if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _admit(self, method: str, path: str) -> bool:
        parts = urlsplit(path)
        bucket, _, key = unquote(parts.path).lstrip("/").partition("/")
        with self._lock:
            if self.fail_after is not None and len(self.requests) >= self.fail_after:
                self.dropped += 1
                return False
            self.requests.append(Request(method, bucket, key))
            return True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def reset(self, fail_after: int | None = None) -> None:
        with self._lock:
            self.requests = []
            self.dropped = 0
            self.fail_after = fail_after

    def puts(self, bucket: str) -> list[str]:
        """The keys uploaded into `bucket` since the last reset."""
        return [r.key for r in self.requests if r.method == "PUT" and r.bucket == bucket and r.key]

    def writes(self, bucket: str) -> list[Request]:
        """Every request since the last reset that could change `bucket`."""
        return [r for r in self.requests if r.method not in ("GET", "HEAD") and r.bucket == bucket]

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
