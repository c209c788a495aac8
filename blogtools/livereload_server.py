"""`invoke livereload`: serve output/, watch the sources, reload the browser tabs.

Owns the foreground of the live preview:

* HTTP on host:port with clean URLs and the site's own 404 page, as `invoke
  serve`, adding the livereload script to every HTML page it sends (output/
  itself holds exactly what `invoke build` writes);
* the livereload protocol on ws://host:port/livereload: a tab says hello and
  which page it shows, and is told to reload;
* watching content/, the theme, the plugin and the settings files
  (watchfiles: inotify, no polling) and handing each batch of saved files to
  the worker process (blogtools.edit_worker), which keeps the site built in
  memory; when plugin code or a settings file changes, a new worker starts, so
  the new code runs;
* reloading only the tabs a pass changed: after the fast pass the saved page
  and the open pages it rendered again; after the settle pass every tab whose
  page the whole build changed or removed. A changed stylesheet is swapped in
  place, without a reload.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import json
import mimetypes
import os
import signal
import sys
import webbrowser
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from urllib.parse import unquote, urlsplit

SETTINGS_FILES = ("pelicanconf.py", "publishconf.py")
# How long the watcher waits for a burst of writes to end (ms), and at most.
WATCH_STEP_MS = 30
WATCH_DEBOUNCE_MS = 400
PAGE_SUFFIXES = (".html", ".htm")
LIVERELOAD_PROTOCOL = "http://livereload.com/protocols/official-7"
# Loads livereload.js from this server, whatever host name the tab used.
LIVERELOAD_SNIPPET = (
    b'<script>(function(){var s=document.createElement("script");'
    b's.src=location.protocol+"//"+location.host+"/livereload.js?port="'
    b'+(location.port||(location.protocol==="https:"?443:80));'
    b'document.head.appendChild(s);})();</script>'
)
for _type, _suffix in (("image/avif", ".avif"), ("image/webp", ".webp"), ("application/wasm", ".wasm"),
                       ("text/javascript", ".js"), ("image/svg+xml", ".svg")):
    mimetypes.add_type(_type, _suffix)


# --- Which file a URL names, and which tabs a change concerns ----------------------

def candidates(url_path: str) -> list[str]:
    """The output files a URL path may name, first choice first ("/reviews/her-2013/"
    -> reviews/her-2013/index.html), as on the real host; [] for a path that leaves output/."""
    relative = unquote(urlsplit(url_path).path).lstrip("/")
    if ".." in Path(relative).parts or "\\" in relative:
        return []
    if relative == "" or relative.endswith("/"):
        return [f"{relative}index.html"]
    return [relative, f"{relative}/index.html", f"{relative}.html"]


def find_file(output: Path, url_path: str) -> tuple[str | None, str | None]:
    """(the existing output file a URL path names, or None; a redirect for a folder without its slash)."""
    names = candidates(url_path)
    if not names:
        return None, None
    first = output / names[0]
    if len(names) > 1 and first.is_dir() and (first / "index.html").is_file():
        return None, urlsplit(url_path).path + "/"
    for name in names:
        if (output / name).is_file():
            return name, None
    return None, None


def inject_script(body: bytes) -> bytes:
    """The page with the livereload script at the end of <head> (or of the page)."""
    for marker in (b"</head>", b"</body>"):
        at = body.find(marker)
        if at >= 0:
            return body[:at] + LIVERELOAD_SNIPPET + body[at:]
    return body + LIVERELOAD_SNIPPET


def reloads(pages: dict, written: list[str], deleted: list[str], exists=lambda name: True) -> dict:
    """{tab: path to send} for the tabs a pass concerns. `pages` maps each tab
    to the URL path it shows; `exists` says whether an output file exists now.

    A tab reloads when its page was written or removed, or when it shows the
    404 page (its URL names no file) and that page changed; a changed script
    reloads every tab; otherwise every tab takes a changed stylesheet in place.
    """
    changed = set(written) | set(deleted)
    stylesheets = sorted(name for name in written if name.endswith(".css"))
    scripts = any(name.endswith(".js") and not name.startswith("pagefind/") for name in changed)
    sent = {}
    for tab, url_path in pages.items():
        path = urlsplit(url_path or "/").path
        names = candidates(path)
        if scripts or any(name in changed for name in names):
            sent[tab] = path
        elif "404.html" in changed and not any(exists(name) for name in names):
            sent[tab] = path
        elif stylesheets:
            sent[tab] = "/" + stylesheets[0]
    return sent


def watched_paths(root: Path, settings: dict) -> list[Path]:
    """The folders watched for sources (recursively); the settings files are watched too."""
    theme = Path(settings["THEME"])
    folders = [Path(settings["PATH"]), theme / "templates",
               *(theme / folder for folder in settings.get("THEME_STATIC_PATHS", ["static"])),
               root / "plugins"]
    return [folder.resolve() for folder in folders if folder.is_dir()]


# --- Tornado handlers ------------------------------------------------------------------

def _handlers(server: LiveReloadServer):
    from tornado import web, websocket

    class PageHandler(web.RequestHandler):
        def get(self, path):
            self._answer(body=True)

        def head(self, path):
            self._answer(body=False)

        def _answer(self, body: bool) -> None:
            output = server.output
            name, redirect = find_file(output, self.request.path)
            if redirect:
                self.redirect(redirect + (f"?{self.request.query}" if self.request.query else ""))
                return
            if name is None:
                self.set_status(404)
                page = output / "404.html"
                data = page.read_bytes() if page.is_file() else b"<!doctype html><title>Not found</title>Not found\n"
                name = "404.html"
            else:
                try:
                    data = (output / name).read_bytes()
                except OSError:  # removed by a sync between the look and the read
                    self.set_status(404)
                    data, name = b"Not found\n", "404.txt"
            kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
            if name.endswith(PAGE_SUFFIXES):
                data = inject_script(data)
                kind = "text/html"
            if kind.startswith("text/") or kind in ("application/javascript", "application/json"):
                kind += "; charset=utf-8"
            self.set_header("Content-Type", kind)
            self.set_header("Cache-Control", "no-cache")
            if body:
                self.write(data)
            else:
                self.set_header("Content-Length", str(len(data)))

    class StatusHandler(web.RequestHandler):
        """For tools and tests: how many batches of saved files the server has
        seen, whether the last one has settled (output/ is a whole build of
        it), and the pages the connected tabs show."""

        def get(self):
            self.set_header("Cache-Control", "no-store")
            self.write({"changes": server.changes, "idle": server.idle,
                        "tabs": sorted(tab.url_path for tab in server.tabs if tab.url_path),
                        "last_settle": server.last_settle})

    class ScriptHandler(web.RequestHandler):
        def get(self):
            self.set_header("Content-Type", "text/javascript; charset=utf-8")
            self.write(resources.files("livereload").joinpath("vendors", "livereload.js").read_bytes())

    class ReloadSocket(websocket.WebSocketHandler):
        """One tab: hello, then which page it shows (the `info` command)."""

        url_path: str | None = None

        def check_origin(self, origin):
            return True  # the preview serves the loopback address; any page of it may connect

        def open(self):
            server.tabs.add(self)

        def on_message(self, message):
            try:
                command = json.loads(message)
            except ValueError:
                return
            if not isinstance(command, dict):
                return
            if command.get("command") == "hello":
                self.write_message({"command": "hello", "protocols": [LIVERELOAD_PROTOCOL],
                                    "serverName": "reelnotes-livereload"})
            elif command.get("command") == "info" and command.get("url"):
                self.url_path = urlsplit(str(command["url"])).path or "/"

        def on_close(self):
            server.tabs.discard(self)

    return [(r"/livereload", ReloadSocket), (r"/livereload\.js", ScriptHandler),
            (r"/livereload/status", StatusHandler), (r"/(.*)", PageHandler)]


def _some(names: list[str], shown: int = 3) -> str:
    """"2 files (a, b)", "12 files (a, b, c...)" or "nothing"."""
    if not names:
        return "nothing"
    pages = sorted(names, key=lambda name: (not name.endswith(PAGE_SUFFIXES), name))
    listed = ", ".join(pages[:shown]) + ("..." if len(pages) > shown else "")
    return f"{len(names)} file{'s' if len(names) > 1 else ''} ({listed})"


def _quiet_log(handler):
    pass  # requests are not news; the passes are


# --- The server --------------------------------------------------------------------------

@dataclass
class LiveReloadServer:
    root: Path
    settings_file: str
    settings: dict
    host: str
    port: int
    open_browser: bool = False
    echo: object = print
    tabs: set = field(default_factory=set)
    worker: asyncio.subprocess.Process | None = None
    first_build: bool = True
    changes: int = 0  # batches of saved files seen since the start
    sent: int = 0  # batches handed to the current worker
    settled_generation: int = 0  # the current worker's last settle pass (its first build is 1)
    last_settle: dict = field(default_factory=dict)  # its seconds: building, syncing, in all

    @property
    def idle(self) -> bool:
        """The current worker has settled its first build and every batch since."""
        return self.worker is not None and self.settled_generation == 1 + self.sent

    @property
    def output(self) -> Path:
        return Path(self.settings["OUTPUT_PATH"]).resolve()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def say(self, line: str) -> None:
        self.echo(line)
        with contextlib.suppress(Exception):
            sys.stdout.flush()

    # --- The worker ----------------------------------------------------------------

    async def start_worker(self) -> None:
        command = [sys.executable, "-m", "blogtools.edit_worker", "--root", str(self.root),
                   "--settings", self.settings_file]
        worker = await asyncio.create_subprocess_exec(
            *command, cwd=self.root, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, start_new_session=True, limit=1 << 24)
        self.worker = worker
        self.sent = self.settled_generation = 0
        asyncio.create_task(self._events(worker))
        asyncio.create_task(self._errors(worker))

    def stop_worker(self) -> None:
        worker, self.worker = self.worker, None
        if worker is not None and worker.returncode is None:
            # Its own process group: Pagefind and the poster encoders go with it.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(worker.pid, signal.SIGTERM)

    async def send(self, command: dict) -> None:
        worker = self.worker
        if worker is None or worker.returncode is not None:
            self.say("The preview worker had stopped: starting a new one (it builds everything).")
            await self.start_worker()
            return
        try:
            worker.stdin.write((json.dumps(command) + "\n").encode("utf-8"))
            self.sent += 1
            await worker.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            self.stop_worker()
            self.say("The preview worker had stopped: starting a new one (it builds everything).")
            await self.start_worker()

    async def _events(self, worker) -> None:
        async for line in worker.stdout:
            if worker is not self.worker:
                continue  # a worker being replaced: its news is stale
            try:
                event = json.loads(line)
            except ValueError:
                continue
            self.on_event(event)
        code = await worker.wait()
        if worker is self.worker and code not in (0, -signal.SIGTERM):
            self.say(f"The preview worker stopped (exit status {code}); it starts again at the next change. "
                     f"{self.output} keeps the last build.")

    async def _errors(self, worker) -> None:
        """The worker's stderr, with any Python traceback cut down to its last line."""
        in_traceback = False
        async for raw in worker.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if line.startswith("Traceback (most recent call last)"):
                in_traceback = True
                continue
            if in_traceback:
                if line.startswith((" ", "\t")) or not line.strip():
                    continue
                in_traceback = False
            print(line, file=sys.stderr, flush=True)

    def on_event(self, event: dict) -> None:
        kind = event.get("event")
        if kind == "fast":
            self._reload(event.get("written", []), [])
            for note in event.get("notes", []):
                self.say(f"  {note}: left to the full build")
            for problem in event.get("problems", []):
                self.say(f"WARNING {problem}")
            if event.get("written"):
                self.say(f"  fast pass {event['seconds']:.2f} s: {', '.join(event['written'])}")
        elif kind == "settled":
            self.settled_generation = max(self.settled_generation, event.get("generation", 0))
            self.last_settle = {key: event[key] for key in ("build_seconds", "sync_seconds", "seconds")
                                if key in event}
            self._settled(event)
        elif kind == "failed":
            self.say(f"The preview cannot build: {event.get('error')}")

    def _settled(self, event: dict) -> None:
        self._reload(event.get("written", []), event.get("deleted", []))
        for message in event.get("warnings", []) + event.get("problems", []):
            self.say(f"WARNING {message}")
        articles = event.get("articles", 0)
        noun = "review" if articles == 1 else "reviews"
        if event.get("error"):
            self.say(f"The build stopped ({event['error']}): {self.output} keeps the last good build; "
                     "save again once it is fixed.")
        elif self.first_build:
            self.say(f"Built {articles} {noun} into {self.output} in {event.get('seconds', 0):.1f} s"
                     + (f" with {len(event['problems'])} problem(s)" if event.get("problems") else "") + ".")
        else:
            self.say(f"  settled in {event.get('seconds', 0):.2f} s: {_some(event.get('written', []))} written, "
                     f"{_some(event.get('deleted', []))} removed ({articles} {noun}"
                     + (f", {len(event['problems'])} problem(s)" if event.get("problems") else "") + ")")
        if self.first_build:
            self.first_build = False
            self.say(f"Serving {self.url} (Ctrl-C to stop); a saved file shows in the open tab.")
            if self.open_browser:
                webbrowser.open(self.url)

    def _reload(self, written: list[str], deleted: list[str]) -> None:
        if not (written or deleted):
            return
        pages = {tab: tab.url_path for tab in self.tabs}
        output = self.output
        for tab, path in reloads(pages, written, deleted, lambda name: (output / name).is_file()).items():
            with contextlib.suppress(Exception):  # a tab that closed meanwhile
                tab.write_message({"command": "reload", "path": path, "liveCSS": True, "liveImg": True})

    def open_pages(self) -> list[str]:
        found = []
        for tab in self.tabs:
            name, _ = find_file(self.output, tab.url_path or "/")
            if name and name not in found:
                found.append(name)
        return found

    # --- Watching --------------------------------------------------------------------

    def _restarts(self, path: Path) -> bool:
        """Plugin code and settings: only a new process runs the new code."""
        plugins = (self.root / "plugins").resolve()
        return (path.parent == self.root and path.name in SETTINGS_FILES) or \
            (path.suffix == ".py" and path.is_relative_to(plugins))

    def _wanted(self, path: Path) -> bool:
        ignored = self.settings.get("IGNORE_FILES", [".#*"])
        if any(fnmatch.fnmatch(path.name, pattern) for pattern in ignored):
            return False
        if path.parent == self.root:
            return path.name in SETTINGS_FILES
        plugins = (self.root / "plugins").resolve()
        return path.suffix == ".py" if path.is_relative_to(plugins) else True

    async def watch(self, stopping: asyncio.Event) -> None:
        import watchfiles

        batches: asyncio.Queue = asyncio.Queue()

        async def pump(paths, recursive):
            async for changes in watchfiles.awatch(*paths, step=WATCH_STEP_MS, debounce=WATCH_DEBOUNCE_MS,
                                                   recursive=recursive, stop_event=stopping):
                await batches.put({Path(path) for _, path in changes})

        folders = watched_paths(self.root, self.settings)
        pumps = [asyncio.create_task(pump(folders, True)), asyncio.create_task(pump([self.root], False))]
        try:
            while not stopping.is_set():
                paths = await batches.get()
                while not batches.empty():
                    paths |= batches.get_nowait()
                paths = sorted(path for path in paths if self._wanted(path))
                if paths:
                    await self.changed(paths)
        finally:
            for task in pumps:
                task.cancel()

    async def changed(self, paths: list[Path]) -> None:
        shown = ", ".join(path.relative_to(self.root).as_posix() if path.is_relative_to(self.root) else str(path)
                          for path in paths)
        self.changes += 1
        self.say(f"Saved {shown}")
        if any(self._restarts(path) for path in paths):
            self.say("  plugin code or settings changed: a new worker builds everything with them")
            self.stop_worker()
            await self.start_worker()
            return
        await self.send({"op": "change", "paths": [str(path) for path in paths], "open": self.open_pages()})

    # --- Running ----------------------------------------------------------------------

    async def run(self) -> None:
        from tornado import web

        app = web.Application(_handlers(self), log_function=_quiet_log, websocket_ping_interval=20)
        http = app.listen(self.port, address=self.host)
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stopping.set)
        self.say(f"Building the site into {self.output} ...")
        await self.start_worker()
        watcher = asyncio.create_task(self.watch(stopping))
        try:
            await stopping.wait()
        finally:
            worker = self.worker
            self.stop_worker()
            watcher.cancel()
            if worker is not None:
                with contextlib.suppress(asyncio.TimeoutError, ProcessLookupError):
                    await asyncio.wait_for(worker.wait(), 10)
            http.stop()
            for tab in list(self.tabs):
                tab.close()


def run(root: Path, settings_file: str, settings: dict, host: str, port: int, open_browser: bool = False) -> None:
    """Serve and live-reload until Ctrl-C (or SIGTERM). An OSError if the port cannot be used."""
    server = LiveReloadServer(Path(root).resolve(), settings_file, settings, host, port, open_browser)
    asyncio.run(server.run())
