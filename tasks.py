"""Invoke tasks for Reel Notes: `invoke --list` shows them, README.md ("Tasks") explains them.

Each task is a thin wrapper over a tested function in blogtools/ (or in the
plugin's linkbacks package); bad input ends in a one-paragraph message and a
non-zero exit, never a traceback. Task names and meanings follow the tasks.py
that pelican-quickstart writes, plus `new`, `check`, `test`, `bench`,
`posters` and the `linkbacks.*` moderation tasks.
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
    """Serve at :8000; rebuild and reload on every change.

    Watches content/, theme/templates, theme/static, plugins/**/*.py and both
    settings files.
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
    """Deploy a checked production build (rsync or --s3).

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
# The linkbacks package is imported inside each task so `invoke --list` works
# even where its dependencies are missing. Its problems arrive as
# cli.LinkbacksError, already worded for the user.

def _linkbacks_db():
    return str(ROOT / _settings().get("FILMREVIEWS_LINKBACKS_DB", "linkbacks.sqlite3"))


def _linkbacks_cli():
    try:
        from filmreviews.linkbacks import cli
    except ImportError as exc:
        raise Exit(f"The linkbacks tools cannot be loaded ({exc}); "
                   "run the bootstrap to install the requirements.", code=1) from None
    return cli


def _linkbacks_call(name, *args, **kwargs):
    """Call cli.<name>; a LinkbacksError ends the task with its message and exit 1."""
    cli = _linkbacks_cli()
    try:
        return getattr(cli, name)(*args, **kwargs)
    except cli.LinkbacksError as exc:
        raise Exit(str(exc), code=1) from None


@task(name="serve", help={
    "host": "address to listen on (default 127.0.0.1)",
    "port": "port (default 8001)",
    "db": "SQLite database",
    "reviews-json": "reviews.json of the live site (default output/reviews.json)",
    "site-url": "the live site's address (default SITEURL from publishconf.py)",
    "base-path": "public path the proxy serves the receiver under "
                 "(default: the path of FILMREVIEWS_LINKBACKS_ENDPOINT, e.g. /linkbacks)",
    "trust-forwarded-for": "take the client address from X-Forwarded-For (only behind a proxy that sets it)",
})
def linkbacks_serve(c, host="127.0.0.1", port=None, db=None, reviews_json=None, site_url=None,
                    base_path=None, trust_forwarded_for=False):
    """Run the trackback/pingback/webmention receiver."""
    from urllib.parse import urlsplit

    settings = _settings(SETTINGS_PUBLISH)
    if base_path is None:
        base_path = urlsplit(settings.get("FILMREVIEWS_LINKBACKS_ENDPOINT") or "").path
    # port=None, not 8001: invoke would turn a bad --port into a traceback.
    _linkbacks_call("serve", host, 8001 if port is None else port, db or _linkbacks_db(),
                    reviews_json or str(_output_path() / "reviews.json"),
                    site_url or settings["SITEURL"], base_path=base_path,
                    trust_forwarded_for=trust_forwarded_for)


@task(name="list", help={"status": "pending, approved, rejected or spam (default: all)", "db": "SQLite database"})
def linkbacks_list(c, status=None, db=None):
    """List received linkbacks."""
    lines = _linkbacks_call("list_linkbacks", db or _linkbacks_db(), status=status)
    for line in lines:
        print(line)
    if not lines:
        print(f"No {status + ' ' if status else ''}linkbacks.")


def _moderate(status):
    def moderate(c, id, db=None):
        _linkbacks_call("set_status", db or _linkbacks_db(), id, status)
        print(f"Linkback #{str(id).lstrip('#')}: {status}")

    moderate.__doc__ = f"Mark a linkback as {status}."
    name = {"approved": "approve", "rejected": "reject", "spam": "spam"}[status]
    return task(moderate, name=name,
                help={"id": "the linkback's number (see linkbacks.list)", "db": "SQLite database"})


@task(name="export", help={"db": "SQLite database"})
def linkbacks_export(c, db=None):
    """Write approved linkbacks into content/linkbacks/.

    Needs output/reviews.json from a build (invoke preview).
    """
    settings = _settings()
    for line in _linkbacks_call("export", db or _linkbacks_db(), str(settings["PATH"]),
                                str(_output_path() / "reviews.json"),
                                subdir=settings.get("FILMREVIEWS_LINKBACKS_PATH", "linkbacks")):
        print(line)


@task(name="send")
def linkbacks_send(c):
    """Send linkbacks for the external links in output/.

    Needs a production build in output/ (invoke preview).
    """
    settings = _settings(SETTINGS_PUBLISH)
    cache = ROOT / settings.get("FILMREVIEWS_LINKBACKS_SENT_CACHE", ".linkbacks-sent.json")
    for line in _linkbacks_call("send", str(_output_path()), str(cache),
                                site_url=settings["SITEURL"], blog_name=settings["SITENAME"]):
        print(line)


@task(name="reverify", help={"db": "SQLite database"})
def linkbacks_reverify(c, db=None):
    """Re-check approved linkbacks; reject the dead ones.

    Only the database changes: run linkbacks.export (and build) to update the site.
    """
    for line in _linkbacks_call("reverify", db or _linkbacks_db()):
        print(line)


linkbacks = Collection("linkbacks")
for _task in (linkbacks_serve, linkbacks_list, _moderate("approved"), _moderate("rejected"),
              _moderate("spam"), linkbacks_export, linkbacks_send, linkbacks_reverify):
    linkbacks.add_task(_task)

ns = Collection(clean, build, rebuild, regenerate, serve, reserve, preview, livereload, publish,
                gh_pages, new, check, test, bench, posters, linkbacks)
