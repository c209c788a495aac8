"""Helpers for the import tests (no tests here): the fixture exports, an old
site's uploads folder, front matter, and a search of every written file."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

from PIL import Image

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "import"
WXR = FIXTURES / "wordpress" / "oldblog.wordpress.2024-01-15.xml"
LETTERBOXD = FIXTURES / "letterboxd" / "letterboxd-marta-2024-03-01-10-00-utc"
# Every address a commenter or author gave WordPress (the export holds them; the site never may).
EXPORT_EMAILS = ("anna.commenter@example.net", "marta@oldblog.example", "bartek.waiting@example.org",
                 "spammer@spam.example", "deleted.person@example.com", "tomasz@example.com",
                 "kasia.reader@example.net")
EXPORT_IPS = ("203.0.113.7", "198.51.100.23", "192.0.2.44", "192.0.2.99", "192.0.2.12", "198.51.100.80",
              "198.51.100.81", "198.51.100.82", "2001:db8::15", "192.0.2.70")
EMAIL = re.compile(rb"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")


def make_uploads(folder: Path) -> Path:
    """A wp-content/uploads copy for the fixture export: real images, one text
    file named .jpg, and no resized copies (the originals must be found)."""
    (folder / "2013" / "12").mkdir(parents=True)
    (folder / "2014" / "01").mkdir(parents=True)
    (folder / "2014" / "02").mkdir(parents=True)
    Image.new("RGB", (400, 600), (190, 50, 60)).save(folder / "2013/12/her-poster.jpg", "JPEG")
    Image.new("RGB", (640, 360), (40, 60, 200)).save(folder / "2013/12/her-still.jpg", "JPEG")
    Image.new("RGB", (640, 360), (20, 20, 20)).save(folder / "2014/01/alien-still.png", "PNG")
    (folder / "2014/02/sequels-poster.jpg").write_text("This is a text file with a .jpg name.\n")
    return folder


def front_matter(path: Path) -> dict[str, str]:
    header = path.read_text(encoding="utf-8").split("\n\n", 1)[0]
    return dict(line.split(": ", 1) for line in header.splitlines())


def body(path: Path) -> str:
    return path.read_text(encoding="utf-8").split("\n\n", 1)[1]


def written_files(*folders: Path):
    for folder in folders:
        for path in sorted(Path(folder).rglob("*")):
            if path.is_file():
                yield path


def _readable(path: Path) -> bytes:
    data = path.read_bytes()
    try:  # Pagefind's index fragments are gzipped
        return gzip.decompress(data)
    except (OSError, EOFError):
        return data


def find_personal_data(*folders: Path) -> list[str]:
    """Every e-mail address or commenter IP address in any file under `folders`.

    Pagefind's own scripts carry their authors' addresses; there only the
    export's addresses are looked for (its index, decompressed, is searched
    for everything)."""
    found = []
    for path in written_files(*folders):
        data = _readable(path)
        third_party = "pagefind" in path.parts and path.suffix in (".js", ".css")
        for match in () if third_party else EMAIL.finditer(data):
            found.append(f"{path}: {match.group().decode()}")
        for address in EXPORT_IPS + EXPORT_EMAILS:
            if address.encode() in data:
                found.append(f"{path}: {address}")
    return found


class OldSite:
    """The old blog on 127.0.0.1: serves files from a folder and records every request path."""

    def __init__(self, folder: Path):
        import functools
        import http.server
        import threading

        self.requests: list[str] = []
        outer = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append(self.path)
                super().do_GET()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(folder)))
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
