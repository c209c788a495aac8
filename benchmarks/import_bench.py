"""How fast, and in how much memory, `invoke import.wordpress` takes a big blog.

Writes a synthetic WordPress export -- by default 5,000 posts, about 50 MB,
each with a featured image, an inline picture, comments, a pingback and spam
-- plus the matching uploads folder, then imports it into a fresh copy of the
site in a separate process (`invoke -r COPY import.wordpress ...`), exactly as
a writer would. Reported: wall time, posts per second, and the child's peak
resident memory from `os.wait4` next to the same figure for a 10-post export
(the fixed cost of Python, Pelican and the importer). `--heap` adds a second
run under tracemalloc for the peak of the Python heap alone.

Usage, from the repository root::

    python -m benchmarks.import_bench                # 5,000 posts
    python -m benchmarks.import_bench --posts 500 --heap

Exits 1 if an import fails.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
SITE_PARTS = ("content", "theme", "plugins", "blogtools", "pelicanconf.py", "publishconf.py", "tasks.py")
DEFAULT_POSTS = 5000
SEED = "reel-notes-import-bench"
WORDS = ("film", "light", "station", "silence", "winter", "camera", "letter", "river", "night", "voice",
         "orchard", "harbour", "quarrel", "mirror", "kitchen", "promise", "shadow", "window", "ticket",
         "engine", "garden", "signal", "brother", "ending", "crowd", "frame", "story", "morning", "rain")
GENRES = ("Drama", "Comedy", "Horror", "Sci-Fi", "Romance", "Thriller", "Documentary", "Western")
HEAD = """<?xml version="1.0" encoding="UTF-8" ?>
<rss version="2.0" xmlns:excerpt="http://wordpress.org/export/1.2/excerpt/"
 xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:wfw="http://wellformedweb.org/CommentAPI/"
 xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:wp="http://wordpress.org/export/1.2/">
<channel>
<title>Benchmark Blog</title>
<link>http://bench.example</link>
<wp:wxr_version>1.2</wp:wxr_version>
<wp:base_site_url>http://bench.example</wp:base_site_url>
<wp:base_blog_url>http://bench.example</wp:base_blog_url>
<wp:author><wp:author_id>1</wp:author_id><wp:author_login><![CDATA[writer]]></wp:author_login><wp:author_email><![CDATA[writer@bench.example]]></wp:author_email><wp:author_display_name><![CDATA[Writer]]></wp:author_display_name></wp:author>
"""


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(9, 18))]
    return " ".join(words).capitalize() + rng.choice((".", ".", ".", "…", "!"))


def _paragraph(rng: random.Random) -> str:
    return " ".join(_sentence(rng) for _ in range(rng.randint(6, 9)))


def _comment(number: int, post_id: int, kind: str, approved: str, date: str, text: str, url: str = "") -> str:
    return f"""<wp:comment><wp:comment_id>{number}</wp:comment_id><wp:comment_author><![CDATA[Reader {number}]]></wp:comment_author>
<wp:comment_author_email><![CDATA[reader{number}@mail.example]]></wp:comment_author_email><wp:comment_author_url>{url}</wp:comment_author_url>
<wp:comment_author_IP><![CDATA[192.0.2.{number % 250}]]></wp:comment_author_IP><wp:comment_date><![CDATA[{date}]]></wp:comment_date>
<wp:comment_date_gmt><![CDATA[{date}]]></wp:comment_date_gmt><wp:comment_content><![CDATA[{text}]]></wp:comment_content>
<wp:comment_approved><![CDATA[{approved}]]></wp:comment_approved><wp:comment_type><![CDATA[{kind}]]></wp:comment_type>
<wp:comment_parent>0</wp:comment_parent><wp:comment_user_id>0</wp:comment_user_id></wp:comment>
"""


def _post(rng: random.Random, number: int) -> str:
    post_id, attachment_id = 100 + 2 * number, 101 + 2 * number
    year = 1930 + number % 90
    title = f"{rng.choice(WORDS).capitalize()} {rng.choice(WORDS)} {number} ({year}) review"
    slug = f"film-{number}-{year}-review"
    day = f"20{10 + number % 14:02d}-{1 + number % 12:02d}-{1 + number % 28:02d}"
    date = f"{day} 19:{number % 60:02d}:00"
    path = f"{day[:4]}/{day[5:7]}"
    upload = f"http://bench.example/wp-content/uploads/{path}/poster-{number}"
    paragraphs = [_paragraph(rng) for _ in range(7)]
    paragraphs.insert(2, f'<img class="alignright" src="{upload}-300x450.jpg" alt="Still {number}" width="300" height="450" />')
    paragraphs.insert(3, "<!--more-->")
    paragraphs.append(f"Directed by {rng.choice(WORDS).capitalize()} {rng.choice(WORDS).capitalize()}.")
    comments = [
        _comment(10 * number + 1, post_id, "comment", "1", date, _paragraph(rng)),
        _comment(10 * number + 2, post_id, "pingback", "1", date, f"[&#8230;] {_sentence(rng)} [&#8230;]",
                 f"https://elsewhere.example/{number}/"),
        _comment(10 * number + 3, post_id, "comment", "spam", date, "Cheap pills " * 20),
    ]
    if number % 10 == 0:
        comments.append(_comment(10 * number + 4, post_id, "", "0", date, _sentence(rng)))
    genre = rng.choice(GENRES)
    return f"""<item><title><![CDATA[{escape(title)}]]></title><link>http://bench.example/{path}/{slug}/</link>
<dc:creator><![CDATA[writer]]></dc:creator><guid isPermaLink="false">http://bench.example/?p={post_id}</guid>
<content:encoded><![CDATA[{chr(10).join(p + chr(10) for p in paragraphs)}]]></content:encoded><excerpt:encoded><![CDATA[]]></excerpt:encoded>
<wp:post_id>{post_id}</wp:post_id><wp:post_date><![CDATA[{date}]]></wp:post_date><wp:post_date_gmt><![CDATA[{date}]]></wp:post_date_gmt>
<wp:post_name><![CDATA[{slug}]]></wp:post_name><wp:status><![CDATA[publish]]></wp:status><wp:post_parent>0</wp:post_parent>
<wp:menu_order>0</wp:menu_order><wp:post_type><![CDATA[post]]></wp:post_type>
<category domain="category" nicename="{genre.lower()}"><![CDATA[{genre}]]></category>
<category domain="post_tag" nicename="{WORDS[number % len(WORDS)]}"><![CDATA[{WORDS[number % len(WORDS)]}]]></category>
<wp:postmeta><wp:meta_key><![CDATA[_thumbnail_id]]></wp:meta_key><wp:meta_value><![CDATA[{attachment_id}]]></wp:meta_value></wp:postmeta>
{"".join(comments)}</item>
<item><title><![CDATA[poster-{number}]]></title><link>http://bench.example/{path}/{slug}/poster-{number}/</link>
<guid isPermaLink="false">{upload}.jpg</guid><wp:post_id>{attachment_id}</wp:post_id><wp:post_name><![CDATA[poster-{number}]]></wp:post_name>
<wp:status><![CDATA[inherit]]></wp:status><wp:post_parent>{post_id}</wp:post_parent><wp:post_type><![CDATA[attachment]]></wp:post_type>
<wp:attachment_url><![CDATA[{upload}.jpg]]></wp:attachment_url>
<wp:postmeta><wp:meta_key><![CDATA[_wp_attached_file]]></wp:meta_key><wp:meta_value><![CDATA[{path}/poster-{number}.jpg]]></wp:meta_value></wp:postmeta>
<wp:postmeta><wp:meta_key><![CDATA[_wp_attachment_metadata]]></wp:meta_key><wp:meta_value><![CDATA[a:2:{{s:5:"width";i:200;s:6:"height";i:300;}}]]></wp:meta_value></wp:postmeta>
</item>
"""


def generate(folder: Path, posts: int) -> tuple[Path, Path]:
    """The export file and the uploads folder for `posts` posts."""
    from PIL import Image

    rng = random.Random(SEED)
    export = folder / "bench.wordpress.xml"
    uploads = folder / "uploads"
    poster = io.BytesIO()
    Image.new("RGB", (200, 300), (120, 40, 40)).save(poster, "JPEG", quality=70)
    with export.open("w", encoding="utf-8") as handle:
        handle.write(HEAD)
        for genre in GENRES:
            handle.write(f"<wp:category><wp:category_nicename><![CDATA[{genre.lower()}]]></wp:category_nicename>"
                         f"<wp:category_parent><![CDATA[]]></wp:category_parent><wp:cat_name><![CDATA[{genre}]]>"
                         "</wp:cat_name></wp:category>\n")
        for number in range(posts):
            handle.write(_post(rng, number))
        handle.write("</channel>\n</rss>\n")
    for number in range(posts):
        day = f"20{10 + number % 14:02d}-{1 + number % 12:02d}"
        target = uploads / day[:4] / day[5:7] / f"poster-{number}.jpg"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(poster.getvalue())
    return export, uploads


def copy_site(destination: Path) -> Path:
    destination.mkdir(parents=True)
    for part in SITE_PARTS:
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, destination / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, destination / part)
    return destination


def run_import(site: Path, export: Path, uploads: Path, heap: bool = False) -> tuple[float, int, int | None, str]:
    """(seconds, peak RSS in bytes, peak Python heap in bytes or None, output) of one import in a child."""
    arguments = ["-r", str(site), "import.wordpress", str(export), "--uploads", str(uploads)]
    if heap:
        code = ("import runpy, sys, tracemalloc\ntracemalloc.start()\n"
                f"sys.argv = ['invoke', *{arguments!r}]\n"
                "try:\n    runpy.run_module('invoke', run_name='__main__')\n"
                "finally:\n    print('HEAP-PEAK', tracemalloc.get_traced_memory()[1])\n")
        command = [sys.executable, "-c", code]
    else:
        command = [sys.executable, "-m", "invoke", *arguments]
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if child.returncode != 0:
        raise RuntimeError(f"the import failed (exit {child.returncode}):\n{output[-2000:]}")
    peak_heap = None
    for line in output.splitlines():
        if line.startswith("HEAP-PEAK "):
            peak_heap = int(line.split()[1])
    return seconds, usage.ru_maxrss * 1024, peak_heap, output


def _mb(size: float) -> str:
    return f"{size / 1024 / 1024:.1f} MB"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=DEFAULT_POSTS, help="posts in the export (default 5000)")
    parser.add_argument("--heap", action="store_true", help="also measure the Python heap (a second, slower run)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder and print its path")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="import-bench-"))
    try:
        started = time.perf_counter()
        export, uploads = generate(work, args.posts)
        (work / "small").mkdir()
        small, small_uploads = generate(work / "small", 10)
        print(f"Export: {args.posts:,} posts, {_mb(export.stat().st_size)} "
              f"(written with its uploads in {time.perf_counter() - started:.1f} s)")
        _, baseline, _, _ = run_import(copy_site(work / "site-small"), small, small_uploads)
        seconds, peak, _, output = run_import(copy_site(work / "site"), export, uploads)
        print(f"Import: {seconds:.1f} s wall, {args.posts / seconds:.0f} posts/s")
        print(f"Peak memory (RSS): {_mb(peak)}; a 10-post export: {_mb(baseline)} "
              f"(so {_mb(max(peak - baseline, 0))} for the extra {args.posts - 10:,} posts)")
        again, _, _, _ = run_import(work / "site", export, uploads)
        print(f"Second import of the same export (nothing to write): {again:.1f} s")
        if args.heap:
            _, _, heap, _ = run_import(copy_site(work / "site-heap"), export, uploads, heap=True)
            print(f"Peak Python heap (tracemalloc): {_mb(heap or 0)}")
        summary = [line for line in output.splitlines() if line.startswith(("Reviews:", "Responses:", "Files:",
                                                                             "Redirects:", "Posters:"))]
        print("\n".join("  " + line for line in summary))
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"Work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
