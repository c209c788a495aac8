"""Old addresses that keep working: the redirect table and what a build makes of it.

The table is one CSV file, `content/redirects.csv` (FILMREVIEWS_REDIRECTS),
with the header `old,new` and one redirect per line::

    old,new
    /2013/12/05/her-2013-online-movie-review/,/reviews/her-2013-online-movie-review/
    /?p=123,/reviews/her-2013-online-movie-review/

`old` is an address on the old site: a path, or a path with a query
(`/?p=123`, `/?page_id=7`). `new` is an address on this site (`/reviews/…/`)
or an absolute http(s) URL. `invoke import.wordpress` fills it; writers may
add and edit rows by hand (the importer keeps their rows).

After every build (`finalized`), `write_redirects` turns it into:

* a redirect page for every path entry, at `<old path>/index.html`: a meta
  refresh and `rel=canonical` to the new page, `noindex`, and a plain link.
  It works on any static host. The pages are written here, not through
  Pelican's writer, so the sitemap never lists them, and they carry no
  `data-pagefind-body`, so search never indexes them;
* `_redirects` (Netlify, Cloudflare Pages), `redirects.nginx.conf` (an nginx
  `map` over `$request_uri`) and `.htaccess` (Apache mod_rewrite) with every
  entry. Query entries exist only here: no static file can answer `/?p=123`.

Problems (a malformed row, a duplicate, a redirect to a page the build does
not write, an old address the site itself uses) are logged as "Redirect
problem: content/redirects.csv: line N: <field>: <value>: expected …", which
`invoke check` reports. A redirect to a review that is still a draft is not
a problem: it waits, and works from the build that publishes the review.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import quote, unquote, urlsplit

from markupsafe import escape

from reelnotes.files import atomic_write
from reelnotes.settings import setting

from .problems import Problem, report, report_settings

logger = logging.getLogger(__name__)

KIND = "Redirect"  # as problems are listed: "Redirect problem: content/redirects.csv: line 3: ..."


def _problem(where: str, field: str, value: str, expected: str, kind: str = KIND) -> Problem:
    return Problem(where, field, value, expected, kind=kind)

HEADER = ("old", "new")
GENERATOR = "Reel Notes redirect"  # marks pages this module wrote, so a rebuild may replace them
FILE_MARK = "Written by Reel Notes from"  # first words of every server file this module writes
FILE_BANNER = FILE_MARK + " {table} at every build; edit the table, not this file."
NGINX_VARIABLE = "$reelnotes_redirect"
MAX_LENGTH = 2000
# Characters no address in the table may hold: they would break a server
# format (quotes, backslashes, $ and braces in nginx, spaces everywhere).
_FORBIDDEN = re.compile(r"[\s\"'\\<>{}$;`|^]")
# Bytes a PCRE pattern may hold as themselves; "." is written "\.", anything else "\xHH".
_SAFE_PATTERN_BYTES = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/_~-=&,:@!%")

# Remembered between all_generators_finalized and finalized, by output folder.
_DRAFT_URLS: dict[str, set[str]] = {}


@dataclass(frozen=True)
class Redirect:
    line: int
    old: str
    new: str

    @property
    def is_query(self) -> bool:
        return "?" in self.old

    @property
    def old_path(self) -> str:
        return self.old.split("?", 1)[0]

    @property
    def old_query(self) -> str:
        return self.old.split("?", 1)[1] if self.is_query else ""

    @property
    def is_external(self) -> bool:
        return not self.new.startswith("/")


# --- the table ------------------------------------------------------------------


def _check_address(text: str, field: str, where: str, problems: list[Problem], *, old: bool) -> bool:
    expected = ("an address on the old site starting with /, e.g. /2013/12/05/her-review/ or /?p=123"
                if old else "an address on this site starting with /, e.g. /reviews/her-2013/, "
                            "or an absolute http(s) URL")
    if not text:
        problems.append(_problem(where, field, "", expected))
        return False
    if len(text) > MAX_LENGTH:
        problems.append(_problem(where, field, text[:60] + "…", f"at most {MAX_LENGTH} characters"))
        return False
    bad = _FORBIDDEN.search(text)
    if bad or any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        shown = repr(bad.group()) if bad else "a control character"
        problems.append(_problem(where, field, text, f"{expected}, without {shown} (percent-encode it, "
                                                    "e.g. %20 for a space)"))
        return False
    if old:
        path = text.split("?", 1)[0]
        if not text.startswith("/") or "#" in text:
            problems.append(_problem(where, field, text, expected + " (no #fragment)"))
            return False
        if ".." in PurePosixPath(unquote(path)).parts or "//" in path:
            problems.append(_problem(where, field, text, expected + " (no '..' or '//')"))
            return False
        if text == "/" or text.endswith("?"):
            problems.append(_problem(where, field, text, "an old address other than the home page"))
            return False
        return True
    if text.startswith("/"):
        if text.startswith("//"):
            problems.append(_problem(where, field, text, expected))
            return False
        return True
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or "@" in parts.netloc:
        problems.append(_problem(where, field, text, expected))
        return False
    return True


def parse_table(text: str, source: str) -> tuple[list[Redirect], list[Problem]]:
    """The valid rows of a redirect table, and a Problem for every bad one.

    `source` names the file in problems, e.g. "content/redirects.csv".
    """
    problems: list[Problem] = []
    redirects: list[Redirect] = []
    rows = list(csv.reader(io.StringIO(text)))
    numbered = [(number, row) for number, row in enumerate(rows, start=1) if row and any(c.strip() for c in row)]
    if not numbered:
        return [], []
    first_line, header = numbered[0]
    if tuple(cell.strip().lower() for cell in header) != HEADER:
        problems.append(_problem(f"{source}: line {first_line}", "header", ",".join(header),
                                "the header line old,new"))
        return [], problems
    seen: dict[str, int] = {}
    for number, row in numbered[1:]:
        where = f"{source}: line {number}"
        if len(row) != 2:
            problems.append(_problem(where, "row", ",".join(row), "two values: old,new"))
            continue
        old, new = (cell.strip() for cell in row)
        if not (_check_address(old, "old", where, problems, old=True)
                and _check_address(new, "new", where, problems, old=False)):
            continue
        if old in seen:
            problems.append(_problem(where, "old", old, f"each old address once (it is also on line {seen[old]})"))
            continue
        if new.split("#", 1)[0] == old:
            problems.append(_problem(where, "new", new, "an address other than the old one"))
            continue
        seen[old] = number
        redirects.append(Redirect(number, old, new))
    olds = {r.old: r for r in redirects}
    chained = []
    for redirect in redirects:
        target = redirect.new.split("#", 1)[0]
        if target in olds:
            hop = olds[target]
            problems.append(_problem(f"{source}: line {redirect.line}", "new", redirect.new,
                                    f"the final address ({target} is itself redirected on line "
                                    f"{hop.line}, to {hop.new})"))
            chained.append(redirect)
    return [r for r in redirects if r not in chained], problems


def read_table(path: Path, shown: str) -> tuple[list[Redirect], list[Problem]]:
    try:
        text = Path(path).read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        return [], []
    except UnicodeDecodeError as exc:
        return [], [_problem(shown, "file", f"byte 0x{exc.object[exc.start]:02x} at {exc.start}",
                            "the table saved as UTF-8 text")]
    except OSError as exc:
        return [], [_problem(shown, "file", str(exc.strerror), "a readable file")]
    return parse_table(text, shown)


def dump_table(rows: list[tuple[str, str]]) -> str:
    """A table with these (old, new) rows, as the importer writes it."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    return out.getvalue()


# --- what the build writes ------------------------------------------------------------


def page_path(old_path: str) -> str:
    """Where the redirect page for an old path goes, relative to the output folder."""
    path = unquote(old_path).lstrip("/")
    if path.lower().endswith((".html", ".htm")):
        return path
    return path.rstrip("/") + "/index.html"


def _relative_href(page: str, new: str) -> str:
    depth = page.count("/")
    return "../" * depth + new.lstrip("/") if depth else "./" + new.lstrip("/")


def redirect_page(redirect: Redirect, page: str, *, site_url: str, canonical_base: str,
                  sitename: str, lang: str) -> str:
    """The HTML of one redirect page (every value escaped)."""
    if redirect.is_external:
        href = canonical = redirect.new
    else:
        href = site_url + redirect.new if site_url else _relative_href(page, redirect.new)
        canonical = (canonical_base + redirect.new) if canonical_base else href
    shown = redirect.new if redirect.is_external else (site_url + redirect.new if site_url else redirect.new)
    return (
        "<!doctype html>\n"
        f'<html lang="{escape(lang)}">\n'
        "<head>\n"
        '<meta charset="utf-8">\n'
        f'<meta name="generator" content="{GENERATOR}">\n'
        '<meta name="robots" content="noindex">\n'
        f"<title>Moved: {escape(sitename)}</title>\n"
        f'<link rel="canonical" href="{escape(canonical)}">\n'
        f'<meta http-equiv="refresh" content="0; url={escape(href)}">\n'
        "</head>\n"
        "<body>\n"
        f'<p>This page has moved to <a href="{escape(href)}">{escape(shown)}</a>.</p>\n'
        "</body>\n"
        "</html>\n"
    )


def _server_target(redirect: Redirect, path_prefix: str) -> str:
    return redirect.new if redirect.is_external else path_prefix + redirect.new


def _percent_encoded(path: str) -> str:
    """A path as browsers send it: non-ASCII and reserved bytes as %XX (upper case)."""
    return quote(unquote(path), safe="/:@!*'(),;=+&~-._")


def _encoded_forms(path: str) -> list[str]:
    """A path as clients may send it: as written, and percent-encoded in upper
    and lower case (browsers send %C3%A9, WordPress links hold %c3%a9)."""
    upper = _percent_encoded(path)
    lower = re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), upper)
    forms = []
    for form in (path, upper, lower):
        if form not in forms:
            forms.append(form)
    return forms


def _request_uris(redirect: Redirect) -> list[str]:
    """Every $request_uri an nginx map should know for one entry."""
    uris = []
    for path in _encoded_forms(redirect.old_path):
        variants = [path]
        if redirect.is_query and path == "/":
            variants.append("/index.php")
        elif not redirect.is_query and path.endswith("/") and len(path) > 1:
            variants.append(path.rstrip("/"))
        for variant in variants:
            uri = variant + ("?" + redirect.old_query if redirect.is_query else "")
            if uri not in uris:
                uris.append(uri)
    return uris


def _nginx_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def nginx_map(redirects: list[Redirect], table: str, path_prefix: str = "") -> str:
    entries = [(uri, _server_target(r, path_prefix)) for r in redirects for uri in _request_uris(r)]
    longest = max((len(uri) for uri, _ in entries), default=0)
    lines = [
        f"# {FILE_BANNER.format(table=table)}",
        "# Inside http { }:   include /path/to/this/redirects.nginx.conf;",
        f"# Inside server {{ }}: if ({NGINX_VARIABLE}) {{ return 301 {NGINX_VARIABLE}; }}",
        f"# Its longest address is {longest} bytes; above about 60, nginx wants a larger",
        "# map_hash_bucket_size in http { }, e.g. map_hash_bucket_size 256;",
        f"map $request_uri {NGINX_VARIABLE} {{",
        '    default "";',
    ]
    lines += [f"    {_nginx_quote(uri)} {_nginx_quote(target)};" for uri, target in entries]
    lines.append("}")
    return "\n".join(lines) + "\n"


def _pcre_literal(text: str) -> str:
    """`text` as a PCRE pattern matching exactly its UTF-8 bytes."""
    return "".join(chr(b) if b in _SAFE_PATTERN_BYTES else "\\." if b == 0x2E else f"\\x{b:02x}"
                   for b in text.encode("utf-8"))


def _rewrite_target(target: str) -> str:
    # With [NE], mod_rewrite sends the target as written; "%" and "$" would start back-references.
    return target.replace("%", "\\%").replace("$", "\\$")


def htaccess(redirects: list[Redirect], table: str, path_prefix: str = "") -> str:
    lines = [f"# {FILE_BANNER.format(table=table)}", "<IfModule mod_rewrite.c>", "RewriteEngine On"]
    for redirect in redirects:
        target = _rewrite_target(_server_target(redirect, path_prefix))
        path = unquote(redirect.old_path).lstrip("/")
        if redirect.is_query:
            lines.append(f"RewriteCond %{{QUERY_STRING}} ^{_pcre_literal(unquote(redirect.old_query))}$")
            pattern = "^(index\\.php)?$" if not path else f"^{_pcre_literal(path)}$"
            # A target without its own query drops the old one ("?" at the end).
            lines.append(f"RewriteRule {pattern} {target}{'' if '?' in target else '?'} [R=301,L,NE]")
        else:
            pattern = _pcre_literal(path.rstrip("/")) + ("/?" if path.endswith("/") else "")
            lines.append(f"RewriteRule ^{pattern}$ {target} [R=301,L,NE]")
    lines.append("</IfModule>")
    return "\n".join(lines) + "\n"


def netlify_redirects(redirects: list[Redirect], table: str, path_prefix: str = "") -> str:
    lines = [f"# {FILE_BANNER.format(table=table)}",
             "# Query entries (second column key=value) are for Netlify; Cloudflare Pages skips them."]
    for redirect in redirects:
        target = _server_target(redirect, path_prefix)
        path = _percent_encoded(redirect.old_path)
        if redirect.is_query:
            params = " ".join(part for part in redirect.old_query.split("&") if part)
            # "!" so Netlify redirects even though a file (the home page) answers the path.
            lines.append(f"{path} {params} {target} 301!")
        else:
            lines.append(f"{path} {target} 301")
    return "\n".join(lines) + "\n"


# --- Pelican handlers ---------------------------------------------------------------------


def _site_path(url: str) -> str:
    return "/" + url.lstrip("/")


def _published_url(content, key: str) -> str:
    """The address a draft will have once published (its `url` is the draft's own)."""
    try:
        return str(content.settings[key]).format(**content.url_format)
    except (KeyError, IndexError, ValueError, AttributeError):
        return ""


def remember_drafts(generators) -> None:
    """all_generators_finalized: note the addresses of drafts, whose redirects wait."""
    output = None
    drafts: set[str] = set()
    for generator in generators:
        output = output or getattr(generator, "output_path", None)
        for key, contents in (("ARTICLE_URL", getattr(generator, "drafts", ())),
                              ("PAGE_URL", getattr(generator, "draft_pages", ()))):
            for content in contents:
                url = _published_url(content, key)
                if url:
                    drafts.add(_site_path(url))
    if output:
        _DRAFT_URLS[str(Path(output).resolve())] = drafts


def _ours(path: Path, marker: str) -> bool:
    try:
        return marker in path.read_text(encoding="utf-8", errors="replace")[:600]
    except OSError:
        return False


def _target_exists(output: Path, new: str) -> bool:
    path = unquote(urlsplit(new).path).lstrip("/")
    candidates = [output / path / "index.html"] if path.endswith("/") or not path else \
        [output / path, output / path / "index.html"]
    return any(candidate.is_file() for candidate in candidates)


def _write(path: Path, text: str) -> None:
    atomic_write(path, text)


def write_redirects(pelican) -> None:
    """finalized: redirect pages and the three server files from the table."""
    try:
        _write_redirects(pelican)
    except OSError as exc:  # a full disk or a folder in the way: a problem, not a crashed build
        report(_problem(str(exc.filename or pelican.output_path), "output", str(exc.strerror),
                       "a writable output folder"))


def _write_redirects(pelican) -> None:
    settings = pelican.settings
    table_name = setting(settings, "FILMREVIEWS_REDIRECTS", problems := [])
    report_settings(problems, KIND)
    if not table_name:
        return
    content = Path(settings["PATH"])
    table = content / table_name
    shown = f"{content.name}/{table_name}"
    redirects, problems = read_table(table, shown)
    output = Path(pelican.output_path)
    drafts = _DRAFT_URLS.pop(str(output.resolve()), set())
    site_url = (settings.get("SITEURL") or "").rstrip("/")
    canonical_base = (site_url or settings.get("FEED_DOMAIN") or "").rstrip("/")
    path_prefix = urlsplit(site_url).path.rstrip("/")
    active: list[Redirect] = []
    waiting = 0
    for redirect in redirects:
        where = f"{shown}: line {redirect.line}"
        if not redirect.is_external:
            target_path = _site_path(urlsplit(redirect.new).path)
            if not _target_exists(output, redirect.new):
                if target_path in drafts:
                    waiting += 1
                    continue
                problems.append(_problem(where, "new", redirect.new,
                                        "the address of a page this site builds (nothing is written "
                                        f"at {page_path(target_path)})"))
                continue
        if not redirect.is_query:
            page = output / page_path(redirect.old_path)
            if page.exists() and not _ours(page, GENERATOR):
                problems.append(_problem(where, "old", redirect.old,
                                        "an address this site does not use itself (the build writes "
                                        f"{page.relative_to(output).as_posix()})"))
                continue
        active.append(redirect)
    for problem in problems:
        report(problem)
    if waiting:
        logger.info("%d redirect(s) in %s wait for their draft to be published", waiting, shown)
    if not active:
        return
    lang = settings.get("DEFAULT_LANG", "en")
    sitename = settings.get("SITENAME", "")
    for redirect in active:
        if redirect.is_query:
            continue
        relative = page_path(redirect.old_path)
        _write(output / relative, redirect_page(redirect, relative, site_url=site_url,
                                                canonical_base=canonical_base, sitename=sitename, lang=lang))
    for name, render in (("_redirects", netlify_redirects), ("redirects.nginx.conf", nginx_map),
                         (".htaccess", htaccess)):
        path = output / name
        if path.exists() and not _ours(path, FILE_MARK):
            report(_problem(shown, "output", name, f"the name {name} free for the redirects "
                                                  "(another file is already written there)"))
            continue
        _write(path, render(active, shown, path_prefix))
