"""Invoke tasks for Reel Notes: `invoke --list` shows them, README.md ("Tasks") explains them.

Each task is a thin wrapper over a tested function in blogtools/ (or in the
linkbacks service's cli module); bad input ends in a one-paragraph message and a
non-zero exit, never a traceback. Task names and meanings follow the tasks.py
that pelican-quickstart writes, plus `new`, `check`, `test`, `bench`,
`posters`, the `linkbacks.*` moderation tasks and the `replies.*` tasks.
"""

import shlex
import shutil
import sys
from pathlib import Path

from invoke import Collection, Exit, task

ROOT = Path(__file__).resolve().parent

SETTINGS_BASE = "pelicanconf.py"
SETTINGS_PUBLISH = "publishconf.py"
HOST = "localhost"
PORT = 8000


def _settings(settings_file=SETTINGS_BASE):
    from blogtools.site_settings import SettingsError, read_site_settings

    try:
        return read_site_settings(settings_file, ROOT)
    except (FileNotFoundError, SettingsError) as exc:
        raise Exit(str(exc), code=1) from None


def _output_path():
    return Path(_settings()["OUTPUT_PATH"])


def _remainder():
    """Arguments after `--` on the command line, e.g. `invoke test -- -k publish`."""
    from invoke.main import program

    return shlex.split(getattr(program.core, "remainder", "") or "") if program.core else []


@task(help={"cache": "also prune the build caches: poster derivatives no review uses, "
                     "and the content, search and template caches"})
def clean(c, cache=False):
    """Empty output/ (--cache: prune the build caches too)."""
    output = _output_path()
    if output.is_dir():
        shutil.rmtree(output)
    output.mkdir(parents=True, exist_ok=True)
    print(f"Emptied {output}")
    if cache:
        from blogtools.caches import clean_caches

        for line in clean_caches(_settings(), ROOT):
            print(line)


@task
def build(c):
    """Build the local preview (pelicanconf.py) into output/.

    Review problems are shown as warnings and the build goes on; `invoke check`
    is the strict gate.
    """
    from blogtools.preview import build_preview

    result = build_preview(ROOT, SETTINGS_BASE, _output_path())
    if result.error:
        raise Exit(f"Build failed: {result.error}", code=1)


@task
def rebuild(c):
    """Empty output/, then build."""
    clean(c)
    build(c)


@task
def regenerate(c):
    """Build, then rebuild on every change (pelican -r)."""
    _settings()  # a broken settings file: one line here, not Pelican's traceback
    with c.cd(str(ROOT)):
        c.run(shlex.join([sys.executable, "-m", "pelican", "-r", "-s", SETTINGS_BASE]))


@task(help={"host": f"address to listen on (default {HOST})", "port": f"port (default {PORT})",
            "open": "open the site in the default browser"})
def serve(c, host=HOST, port=None, open=False):
    """Serve output/ at http://localhost:8000/."""
    # port=None rather than PORT: invoke would turn a bad --port into a traceback.
    from blogtools.preview import ServeError, port_number
    from blogtools.preview import serve as serve_site

    try:
        serve_site(_output_path(), host, port_number(port, PORT), open)
    except ServeError as exc:
        raise Exit(str(exc), code=1) from None


@task(help={"host": f"address to listen on (default {HOST})", "port": f"port (default {PORT})"})
def reserve(c, host=HOST, port=None):
    """Build, then serve."""
    from blogtools.preview import ServeError, port_number, refuse_busy_port

    try:
        refuse_busy_port(host, port_number(port, PORT))  # before the build, not after it
    except ServeError as exc:
        raise Exit(str(exc), code=1) from None
    build(c)
    serve(c, host=host, port=port)


@task
def preview(c):
    """Build the production site (publishconf.py) into output/."""
    from blogtools.preview import build_preview

    result = build_preview(ROOT, SETTINGS_PUBLISH, _output_path())
    if result.error:
        raise Exit(f"Build failed: {result.error}", code=1)


@task(help={"host": f"address to listen on (default {HOST})", "port": f"port (default {PORT})",
            "open": "open the site in the default browser"})
def livereload(c, host=HOST, port=None, open=False):
    """Serve at :8000; show each save in the open tab.

    Watches content/, theme/templates, theme/static, plugins/**/*.py and both
    settings files. A saved review is rendered at once (fast pass), then the
    whole site is built and output/ updated file by file (settle pass).
    """
    from blogtools.preview import ServeError, port_number
    from blogtools.preview import livereload as run_livereload
    from blogtools.site_settings import SettingsError

    try:
        run_livereload(ROOT, SETTINGS_BASE, host, port_number(port, PORT), open)
    except (ServeError, SettingsError) as exc:
        raise Exit(str(exc), code=1) from None


@task(help={
    "target": "deploy into this local folder instead of over SSH",
    "dry-run": "only list what would change (new, changed and deleted files)",
    "send-linkbacks": "after a successful deploy, send linkbacks for new external links",
    "s3": "upload to object storage (PUBLISH_S3_* settings) instead of rsync",
    "keep-deleted": "with --s3: leave objects the build no longer has in the bucket",
})
def publish(c, target=None, dry_run=False, send_linkbacks=False, s3=False, keep_deleted=False):
    """Deploy a checked production build (rsync, or --s3).

    Builds with publishconf.py into a temporary folder, refuses on any problem
    or an empty build, then rsyncs over SSH (PUBLISH_SSH_* settings or
    environment variables) or into a local folder (--target / PUBLISH_TARGET),
    or with --s3 uploads what changed to a bucket (PUBLISH_S3_*).
    """
    from blogtools.publish import PublishError
    from blogtools.publish import publish as publish_site

    try:
        if s3:
            from blogtools.publish_s3 import publish_s3

            if target:
                raise PublishError("--target and --s3 are two different destinations: give one of them")
            publish_s3(ROOT, SETTINGS_PUBLISH, dry_run=dry_run, keep_deleted=keep_deleted,
                       send_linkbacks=send_linkbacks)
        elif keep_deleted:
            raise PublishError("--keep-deleted only applies with --s3 (rsync makes the target "
                               "exactly the build)")
        else:
            publish_site(ROOT, SETTINGS_PUBLISH, target=target, dry_run=dry_run,
                         send_linkbacks=send_linkbacks)
    except PublishError as exc:
        raise Exit(str(exc), code=1) from None


@task(help={"remote": "git remote (default: GITHUB_PAGES_REMOTE, origin)",
            "branch": "branch (default: GITHUB_PAGES_BRANCH, gh-pages)",
            "message": "commit message"})
def gh_pages(c, remote=None, branch=None, message=None):
    """Push a checked production build to GitHub Pages.

    Builds with publishconf.py, refuses on any problem, then runs ghp-import
    (-n -p) to GITHUB_PAGES_REMOTE / GITHUB_PAGES_BRANCH.
    """
    from blogtools.publish import PublishError
    from blogtools.publish import gh_pages as push_pages

    try:
        push_pages(ROOT, SETTINGS_PUBLISH, remote=remote, branch=branch, message=message)
    except PublishError as exc:
        raise Exit(str(exc), code=1) from None


@task(help={"title": "the film's title, e.g. \"Her\"", "year": "the film's release year",
            "rewatch": "a second review of a film: slug ends in -rewatch, Rewatch: yes"})
def new(c, title, year=None, rewatch=False):
    """Start a draft review: invoke new "Her" --year 2013."""
    from blogtools.new_review import NewReviewError, new_review
    from blogtools.site_settings import SettingsError

    try:
        path = new_review(title, year, rewatch=rewatch, root=ROOT)
    except (NewReviewError, SettingsError) as exc:
        raise Exit(str(exc), code=1) from None
    print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


@task
def check(c):
    """List every problem in the site; exit 1 if there is one.

    Builds with pelicanconf.py into a temporary folder (output/ is untouched).
    """
    from blogtools.check import check_site

    result = check_site(ROOT, SETTINGS_BASE)
    if not result.ok:
        raise Exit(result.report(), code=1)
    print(result.report())


@task(help={"workers": "pytest-xdist workers (default auto; 0 runs in one process)"})
def test(c, workers="auto"):
    """Run the test suite (args after -- go to pytest)."""
    command = [sys.executable, "-m", "pytest"]
    if str(workers) != "0":
        command += ["-n", str(workers)]
    with c.cd(str(ROOT)):
        c.run(shlex.join(command + _remainder()), pty=False)


@task
def bench(c):
    """Run the build benchmarks; print the figures.

    Arguments after -- go to benchmarks/bench.py, e.g. invoke bench -- --reviews 200.
    """
    from benchmarks.bench import main

    code = main(_remainder())
    if code:
        raise Exit(code=code)


@task(help={"overwrite": "redraw posters that already exist"})
def posters(c, overwrite=False):
    """Draw the missing sample posters (--overwrite: all)."""
    from blogtools.sample_posters import generate

    written = generate(ROOT / "content", overwrite=overwrite)
    print(f"Wrote {len(written)} poster(s)")


# --- linkbacks.*: the receiver and its moderation queue -------------------------
# Thin wrappers over linkbacks.cli, imported inside each task so `invoke --list`
# works even where its dependencies are missing. Where the files are comes from
# publishconf.py (defaults: reelnotes.settings); problems arrive as
# cli.LinkbacksError, already worded for the user.

def _linkbacks():
    """The linkbacks CLI module and the site's linkbacks files (cli.SiteFiles)."""
    try:
        from linkbacks import cli
    except ImportError as exc:
        raise Exit(f"The linkbacks tools cannot be loaded ({exc}); "
                   "run the bootstrap to install the requirements.", code=1) from None
    try:
        return cli, cli.site_files(_settings(SETTINGS_PUBLISH), ROOT, SETTINGS_PUBLISH)
    except cli.LinkbacksError as exc:
        raise Exit(str(exc), code=1) from None


def _linkbacks_call(cli, name, *args, **kwargs):
    """Call cli.<name>; a LinkbacksError ends the task with its message and exit 1."""
    try:
        return getattr(cli, name)(*args, **kwargs)
    except cli.LinkbacksError as exc:
        raise Exit(str(exc), code=1) from None


@task(name="serve", help={
    "host": "address to listen on (default 127.0.0.1)",
    "port": "port (default: FILMREVIEWS_LINKBACKS_PORT)",
    "db": "SQLite file or postgresql:// URL (default FILMREVIEWS_LINKBACKS_DB)",
    "reviews-json": "reviews.json of the live site (default output/reviews.json)",
    "site-url": "the live site's address (default SITEURL from publishconf.py)",
    "base-path": "public path the proxy serves the receiver under "
                 "(default: the path of FILMREVIEWS_LINKBACKS_ENDPOINT, e.g. /linkbacks)",
    "trust-forwarded-for": "take the client address from X-Forwarded-For (only behind a proxy that sets it)",
})
def linkbacks_serve(c, host="127.0.0.1", port=None, db=None, reviews_json=None, site_url=None,
                    base_path=None, trust_forwarded_for=False):
    """Run the receiver: linkbacks and replies."""
    cli, site = _linkbacks()
    # port=None, not a number: invoke would turn a bad --port into a traceback.
    _linkbacks_call(cli, "serve", host=host, port=site.port if port is None else port, db=db or site.db,
                    reviews_json=reviews_json or site.reviews_json, site_url=site_url or site.site_url,
                    base_path=site.base_path if base_path is None else base_path,
                    trust_forwarded_for=trust_forwarded_for, notices=site.notices, site_name=site.site_name)


LOCAL_HELP = "use the database on this machine even when LINKBACKS_REMOTE_* point at the server"
DB_HELP = "SQLite file or postgresql:// URL here (implies --local)"


def _where(site, db, local):
    """(database, remote) for a moderation task: the receiver's database on the
    server over SSH when LINKBACKS_REMOTE_PYTHON/_DB are set, unless --local
    or --db says to use one here."""
    if local or db or site.remote is None:
        return db or site.db, None
    return site.db, site.remote


@task(name="list", help={"status": "pending, approved, rejected or spam (default: all)", "db": DB_HELP,
                         "local": LOCAL_HELP})
def linkbacks_list(c, status=None, db=None, local=False):
    """List responses (replies, linkbacks), pending first.

    From the server over SSH when LINKBACKS_REMOTE_PYTHON/_DB are set.
    """
    cli, site = _linkbacks()
    database, remote = _where(site, db, local)
    lines = _linkbacks_call(cli, "list_linkbacks", database, status=status, remote=remote)
    if remote is not None:
        print(f"On the server {remote}:")
    for line in lines:
        print(line)
    if not lines:
        print(f"No {status + ' ' if status else ''}responses.")


def _moderate(status):
    def moderate(c, id, db=None, local=False):
        cli, site = _linkbacks()
        database, remote = _where(site, db, local)
        print(_linkbacks_call(cli, "set_status", database, id, status, remote=remote))

    moderate.__doc__ = f"Mark a response as {status}."
    name = {"approved": "approve", "rejected": "reject", "spam": "spam"}[status]
    return task(moderate, name=name, help={"id": "the response's number (see linkbacks.list)",
                                           "db": DB_HELP, "local": LOCAL_HELP})


@task(name="forget", help={"id": "the response's number (see linkbacks.list)", "db": DB_HELP,
                           "local": LOCAL_HELP})
def linkbacks_forget(c, id, db=None, local=False):
    """Remove a response from the store for good.

    Then run linkbacks.export (and build) to take it off the site.
    """
    cli, site = _linkbacks()
    database, remote = _where(site, db, local)
    print("Forgotten: " + _linkbacks_call(cli, "forget", database, id, remote=remote))


@task(name="export", help={"db": DB_HELP, "local": LOCAL_HELP})
def linkbacks_export(c, db=None, local=False):
    """Write approved responses into content/linkbacks/.

    Pulled from the server over SSH when LINKBACKS_REMOTE_PYTHON/_DB are set.
    Needs output/reviews.json from a build (invoke preview).
    """
    cli, site = _linkbacks()
    database, remote = _where(site, db, local)
    for line in _linkbacks_call(cli, "export", database, site.content, site.reviews_json,
                                subdir=site.records_folder, remote=remote):
        print(line)


@task(name="send")
def linkbacks_send(c):
    """Send linkbacks for the external links in output/.

    Needs a production build in output/ (invoke preview).
    """
    cli, site = _linkbacks()
    for line in _linkbacks_call(cli, "send", site.output, site.sent_cache,
                                site_url=site.site_url, blog_name=site.site_name):
        print(line)


@task(name="reverify", help={"db": DB_HELP, "local": LOCAL_HELP})
def linkbacks_reverify(c, db=None, local=False):
    """Re-check approved linkbacks; reject the dead ones.

    Only the database changes: run linkbacks.export (and build) to update the site.
    """
    cli, site = _linkbacks()
    database, remote = _where(site, db, local)
    for line in _linkbacks_call(cli, "reverify", database, remote=remote):
        print(line)


# --- import.*: bringing an existing blog over ------------------------------------
# The logic lives in blogtools/importers/; a bad export ends the task with the
# importer's one-line ImportFailed message and exit 1, content/ unchanged.

def _run_import(name, *args, **kwargs):
    try:
        from blogtools.importers import ImportFailed, letterboxd, wordpress
    except ImportError as exc:
        raise Exit(f"The importers cannot be loaded ({exc}); run the bootstrap to install the requirements.",
                   code=1) from None
    function = {"wordpress": wordpress.import_wordpress, "letterboxd": letterboxd.import_letterboxd}[name]
    try:
        report = function(*args, root=ROOT, **kwargs)
    except ImportFailed as exc:
        raise Exit(str(exc), code=1) from None
    except OSError as exc:
        raise Exit(f"{exc.filename or 'the site'}: cannot be read or written ({exc.strerror}); "
                   "nothing was imported", code=1) from None
    print(report.render(), end="")


def _given_path(value):
    return Path(value).expanduser().resolve() if value else None


@task(name="wordpress", help={
    "export": "the WordPress export file (Tools → Export in WordPress), e.g. blog.WordPress.2024-01-15.xml",
    "uploads": "a copy of the old site's wp-content/uploads folder (posters and images come from it)",
    "map": "a TOML file mapping categories and tags to Genre and Tags "
           "(read on top of blogtools/importers/default_map.toml)",
    "download": "fetch images missing from --uploads from the old site (public addresses only)",
    "dry-run": "write nothing, only print the report",
})
def import_wordpress(c, export, uploads=None, map=None, download=False, dry_run=False):  # noqa: A002
    """Import a WordPress blog: posts, responses, old URLs.

    Reviews, pages, posters and images, comments, pingbacks and trackbacks, and
    a redirect table for every old address. README.md ("Importing another
    blog") explains what becomes what.
    """
    _run_import("wordpress", _given_path(export), uploads=_given_path(uploads), map_file=_given_path(map),
                download=download, dry_run=dry_run)


@task(name="letterboxd", help={
    "export": "Letterboxd's export .zip (Settings → Data → Export) or the folder it unzips to",
    "map": "a TOML file mapping tags to Genre and Tags (read on top of blogtools/importers/default_map.toml)",
    "dry-run": "write nothing, only print the report",
})
def import_letterboxd(c, export, map=None, dry_run=False):  # noqa: A002
    """Import the reviews of a Letterboxd export.

    One review per written review, Watched/Rewatch from the diary, a drawn
    placeholder poster each.
    """
    _run_import("letterboxd", _given_path(export), map_file=_given_path(map), dry_run=dry_run)


importers = Collection("import")
importers.add_task(import_wordpress)
importers.add_task(import_letterboxd)

# Readers' replies: the writer's answers and forgetting a person (linkbacks.cli),
# on the server over SSH when LINKBACKS_REMOTE_PYTHON/_DB are set, like linkbacks.*.

@task(name="reply", help={"id": "the response to answer (see linkbacks.list)", "text": "the reply (Markdown subset)",
                          "author": "the name shown (default: AUTHOR from the settings)", "db": DB_HELP,
                          "local": LOCAL_HELP})
def replies_reply(c, id, text, author=None, db=None, local=False):
    """Reply as the author to response ID (stored approved).

    Then run linkbacks.export (and build) to put it on the site.
    """
    cli, site = _linkbacks()
    author = author or _settings(SETTINGS_PUBLISH).get("AUTHOR") or ""
    database, remote = _where(site, db, local)
    print(_linkbacks_call(cli, "reply_as_author", database, id, text, author, remote=remote))
    print("Run `invoke linkbacks.export`, then build and publish, to show it.")


@task(name="forget", iterable=["id"], help={
    "email": "the e-mail address the person gave (while it is stored: until the reply notice is sent)",
    "name": "the name the person gave (exact, any case)",
    "id": "a reply's number or record id (repeat for several)",
    "db": DB_HELP,
    "local": LOCAL_HELP,
})
def replies_forget(c, email=None, name=None, id=None, db=None, local=False):
    """Forget a person's replies (database and content/).

    Each option given narrows the selection; prints every reply removed.
    """
    cli, site = _linkbacks()
    database, remote = _where(site, db, local)
    # Positional: _linkbacks_call has a parameter called `name` of its own.
    for line in _linkbacks_call(cli, "forget_replies", database, site.content, site.records_folder,
                                email, name, id or (), remote=remote):
        print(line)


replies = Collection("replies")
for _task in (replies_reply, replies_forget):
    replies.add_task(_task)

linkbacks = Collection("linkbacks")
for _task in (linkbacks_serve, linkbacks_list, _moderate("approved"), _moderate("rejected"),
              _moderate("spam"), linkbacks_forget, linkbacks_export, linkbacks_send, linkbacks_reverify):
    linkbacks.add_task(_task)

ns = Collection(clean, build, rebuild, regenerate, serve, reserve, preview, livereload, publish,
                gh_pages, new, check, test, bench, posters, importers, linkbacks, replies)
