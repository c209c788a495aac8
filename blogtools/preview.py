"""Looking at the site locally: `invoke build`, `serve`, `reserve` and `livereload`.

Owns the local preview: building into output/ while showing review problems
as warnings (a preview keeps going; `invoke check` is the strict gate),
serving output/ over HTTP on the loopback address, and the livereload loop
that rebuilds and refreshes the browser whenever a source changes.

A port that cannot be used (taken by another server, not a number) is a
`ServeError` with a message for the terminal.

The livereload loop itself lives in blogtools.livereload_server (serving and
watching) and blogtools.edit_worker (the site kept built in memory).
"""

from __future__ import annotations

import argparse
import errno
import socket
import sys
from pathlib import Path

from blogtools.build import BuildResult, build_site
from blogtools.check import SiteCheck
from blogtools.site_settings import ROOT, read_site_settings

DEFAULT_PORT = 8000


class ServeError(Exception):
    """The preview cannot be served; the message says why and what to do."""


def port_number(value, default: int = DEFAULT_PORT) -> int:
    """--port as given on the command line (None: the default), or a ServeError."""
    if value is None:
        return default
    text = str(value).strip()
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ServeError(f"--port: {value!r}: expected a port number from 1 to 65535, e.g. {default}")
    return int(text)


def _cannot_serve(host: str, port: int, exc: OSError) -> ServeError:
    if exc.errno == errno.EADDRINUSE:
        return ServeError(
            f"Cannot serve on {host}:{port}: the port is already in use (another `invoke serve` "
            "or `invoke livereload`?): stop that server or choose another port with --port"
        )
    return ServeError(f"Cannot serve on {host}:{port}: {exc.strerror or exc}")


def refuse_busy_port(host: str, port: int) -> None:
    """Fail before the first build, not after it, when the port is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As the real server does: a port left in TIME_WAIT by a stopped
        # preview is free, one with a listening server is not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise _cannot_serve(host, port, exc) from None


def build_preview(root: Path = ROOT, settings_file: str = "pelicanconf.py",
                  output_path: Path | None = None, echo=print) -> BuildResult:
    """Build into `output_path` (default: the settings' OUTPUT_PATH); report, never stop."""
    root = Path(root).resolve()
    if output_path is None:
        output_path = Path(read_site_settings(settings_file, root)["OUTPUT_PATH"])
    result = build_site(root / settings_file, output_path, root=root)
    for problem in SiteCheck(result, root).problems:
        echo(f"WARNING {problem}")
    noun = "review" if result.articles == 1 else "reviews"
    if result.error:
        echo(f"The build stopped: {output_path} is incomplete or out of date until it is fixed.")
    elif result.problems:
        echo(f"Built {result.articles} {noun} into {output_path} with {len(result.problems)} "
             "problem(s); run `invoke check` before publishing.")
    else:
        echo(f"Built {result.articles} {noun} into {output_path}.")
    return result


def _server_class(host: str):
    from pelican.server import RootedHTTPServer

    class PreviewServer(RootedHTTPServer):
        # Restarting `invoke serve` right away must not fail on a TIME_WAIT port.
        allow_reuse_address = True
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

    return PreviewServer


def _handler_class():
    from http.server import SimpleHTTPRequestHandler

    from pelican.server import ComplexHTTPRequestHandler

    class PreviewHandler(ComplexHTTPRequestHandler):
        """Pelican's clean-URL handler, answering a missing page with the site's 404 page.

        (Pelican's own handler closes the connection without any answer.)
        """

        def do_GET(self):
            found = self.get_path_that_exists(self.path.split("?", 1)[0])
            if found:
                self.path = found
                SimpleHTTPRequestHandler.do_GET(self)
                return
            page = Path(self.base_path, "404.html")
            body = page.read_bytes() if page.is_file() else b"Not found\n"
            self.send_response(404)
            self.send_header("Content-Type", "text/html; charset=utf-8" if page.is_file() else "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return PreviewHandler


def make_server(output_path: Path, host: str = "localhost", port: int = 8000):
    """An HTTP server for `output_path` with Pelican's clean-URL handling (not started)."""
    # A handler class per server: Pelican's server stores the folder on the class.
    return _server_class(host)(str(output_path), (host, port), _handler_class())


def serve(output_path: Path, host: str = "localhost", port: int = 8000, open_browser: bool = False) -> None:
    """Serve `output_path` until Ctrl-C; a ServeError when that cannot start."""
    if not Path(output_path, "index.html").is_file():
        raise ServeError(f"{output_path} has no index.html: run `invoke build` first")
    try:
        server = make_server(output_path, host, port)
    except OSError as exc:
        raise _cannot_serve(host, port, exc) from None
    url = f"http://{host}:{server.server_address[1]}/"
    print(f"Serving {output_path} at {url} (Ctrl-C to stop)", file=sys.stderr)
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def livereload(root: Path = ROOT, settings_file: str = "pelicanconf.py", host: str = "localhost",
               port: int = 8000, open_browser: bool = False) -> None:
    """Build, serve on host:port, and show every saved change in the open browser tabs.

    blogtools.livereload_server serves and watches; blogtools.edit_worker keeps
    the site built in memory and runs the fast and settle passes. A ServeError
    when the port cannot be used, a SettingsError for a settings file that does
    not load.
    """
    from blogtools.livereload_server import run

    refuse_busy_port(host, port)
    root = Path(root).resolve()
    settings = read_site_settings(settings_file, root)
    try:
        run(root, settings_file, settings, host, port, open_browser)
    except OSError as exc:  # taken between the check above and now
        raise _cannot_serve(host, port, exc) from None


def main(argv=None) -> int:
    """One preview build into output/ (what `invoke build` does), in a process of its own."""
    parser = argparse.ArgumentParser(prog="python -m blogtools.preview", description=main.__doc__)
    parser.add_argument("--root", type=Path, default=ROOT)
    parser.add_argument("--settings", default="pelicanconf.py")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)
    result = build_preview(args.root, args.settings, args.output)
    return 1 if result.error else 0


if __name__ == "__main__":
    sys.exit(main())
