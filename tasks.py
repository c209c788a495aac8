"""Invoke tasks for Reel Notes: `invoke --list` shows them, docs/tasks.md explains them.

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
for _path in (ROOT, ROOT / "plugins"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

SETTINGS_BASE = "pelicanconf.py"
SETTINGS_PUBLISH = "publishconf.py"
HOST = "localhost"
PORT = 8000


def _settings(settings_file=SETTINGS_BASE):
    from blogtools.site_settings import read_site_settings

    return read_site_settings(settings_file, ROOT)


def _output_path():
    return Path(_settings()["OUTPUT_PATH"])


def _remainder():
    """Arguments after `--` on the command line, e.g. `invoke test -- -k publish`."""
    from invoke.main import program

    return shlex.split(getattr(program.core, "remainder", "") or "") if program.core else []


@task
def clean(c):
    """Remove the generated site (output/)."""
    output = _output_path()
    if output.is_dir():
        shutil.rmtree(output)
    output.mkdir(parents=True, exist_ok=True)
    print(f"Emptied {output}")


@task
def build(c):
    """Build the local preview (pelicanconf.py) into output/.

    Review problems are shown as warnings and the build goes on; `invoke check`
    is the strict gate.
    """
    from blogtools.preview import build_preview

    result = build_preview(ROOT, SETTINGS_BASE)
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
    with c.cd(str(ROOT)):
        c.run(shlex.join([sys.executable, "-m", "pelican", "-r", "-s", SETTINGS_BASE]))


@task(help={"host": f"address to listen on (default {HOST})", "port": f"port (default {PORT})",
            "open": "open the site in the default browser"})
def serve(c, host=HOST, port=PORT, open=False):
    """Serve output/ at http://localhost:8000/."""
    from blogtools.preview import serve as serve_site

    try:
        serve_site(_output_path(), host, int(port), open)
    except (FileNotFoundError, OSError) as exc:
        raise Exit(f"Cannot serve on {host}:{port}: {exc}", code=1)


@task(help={"host": f"address to listen on (default {HOST})", "port": f"port (default {PORT})"})
def reserve(c, host=HOST, port=PORT):
    """Build, then serve."""
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
def livereload(c, host=HOST, port=PORT, open=False):
    """Serve at :8000; rebuild and reload on every change.

    Watches content/, theme/templates, theme/static, plugins/**/*.py and both
    settings files.
    """
    from blogtools.preview import livereload as run_livereload

    run_livereload(ROOT, SETTINGS_BASE, host, int(port), open)


@task(help={
    "target": "deploy into this local folder instead of over SSH",
    "dry-run": "only list what would change (rsync --dry-run --itemize-changes)",
    "send-linkbacks": "after a successful deploy, send linkbacks for new external links",
})
def publish(c, target=None, dry_run=False, send_linkbacks=False):
    """Deploy a checked production build with rsync.

    Builds with publishconf.py into a temporary folder, refuses on any problem
    or an empty build, then rsyncs over SSH (PUBLISH_SSH_* settings or
    environment variables) or into a local folder (--target / PUBLISH_TARGET).
    """
    from blogtools.publish import PublishError, publish as publish_site

    try:
        publish_site(ROOT, SETTINGS_PUBLISH, target=target, dry_run=dry_run,
                     send_linkbacks=send_linkbacks)
    except PublishError as exc:
        raise Exit(str(exc), code=1)


@task(help={"remote": "git remote (default: GITHUB_PAGES_REMOTE, origin)",
            "branch": "branch (default: GITHUB_PAGES_BRANCH, gh-pages)",
            "message": "commit message"})
def gh_pages(c, remote=None, branch=None, message=None):
    """Push a checked production build to GitHub Pages.

    Builds with publishconf.py, refuses on any problem, then runs ghp-import
    (-n -p) to GITHUB_PAGES_REMOTE / GITHUB_PAGES_BRANCH.
    """
    from blogtools.publish import PublishError, gh_pages as push_pages

    try:
        push_pages(ROOT, SETTINGS_PUBLISH, remote=remote, branch=branch, message=message)
    except PublishError as exc:
        raise Exit(str(exc), code=1)


@task(help={"title": "the film's title, e.g. \"Her\"", "year": "the film's release year",
            "rewatch": "a second review of a film: slug ends in -rewatch, Rewatch: yes"})
def new(c, title, year=None, rewatch=False):
    """Start a draft review: invoke new "Her" --year 2013."""
    from blogtools.new_review import NewReviewError, new_review

    try:
        path = new_review(title, year, rewatch=rewatch, root=ROOT)
    except NewReviewError as exc:
        raise Exit(str(exc), code=1)
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
# even where its dependencies are missing.

def _linkbacks_db():
    return str(ROOT / _settings().get("FILMREVIEWS_LINKBACKS_DB", "linkbacks.sqlite3"))


def _linkbacks_cli():
    try:
        from filmreviews.linkbacks import cli
    except ImportError as exc:
        raise Exit(f"The linkbacks tools cannot be loaded ({exc}); "
                   "run the bootstrap to install the requirements.", code=1)
    return cli


@task(name="serve", help={"host": "address to listen on (default 127.0.0.1)", "port": "port (default 8001)",
                          "db": "SQLite database", "reviews-json": "reviews.json of the live site",
                          "site-url": "the live site's address"})
def linkbacks_serve(c, host="127.0.0.1", port=8001, db=None, reviews_json=None, site_url=None):
    """Run the trackback/pingback/webmention receiver."""
    settings = _settings(SETTINGS_PUBLISH)
    _linkbacks_cli().serve(host, int(port), db or _linkbacks_db(),
                           reviews_json or str(_output_path() / "reviews.json"),
                           site_url or settings["SITEURL"])


@task(name="list", help={"status": "pending, approved, rejected or spam (default: all)", "db": "SQLite database"})
def linkbacks_list(c, status=None, db=None):
    """List received linkbacks."""
    for line in _linkbacks_cli().list_linkbacks(db or _linkbacks_db(), status=status):
        print(line)


def _moderate(status):
    def moderate(c, id, db=None):
        try:
            _linkbacks_cli().set_status(db or _linkbacks_db(), int(id), status)
        except (LookupError, ValueError) as exc:
            raise Exit(f"Linkback {id}: {exc}", code=1)
        print(f"Linkback {id}: {status}")

    moderate.__doc__ = f"Mark a linkback as {status}."
    name = {"approved": "approve", "rejected": "reject", "spam": "spam"}[status]
    return task(moderate, name=name,
                help={"id": "the linkback's number (see linkbacks.list)", "db": "SQLite database"})


@task(name="export", help={"db": "SQLite database"})
def linkbacks_export(c, db=None):
    """Write approved linkbacks into content/linkbacks/."""
    settings = _settings()
    for line in _linkbacks_cli().export(db or _linkbacks_db(), str(settings["PATH"]),
                                        str(_output_path() / "reviews.json"),
                                        subdir=settings.get("FILMREVIEWS_LINKBACKS_PATH", "linkbacks")):
        print(line)


@task(name="send", help={"allow-loopback": "also send to local addresses (testing only)"})
def linkbacks_send(c, allow_loopback=False):
    """Send linkbacks for the external links in output/."""
    settings = _settings(SETTINGS_PUBLISH)
    cache = ROOT / settings.get("FILMREVIEWS_LINKBACKS_SENT_CACHE", ".linkbacks-sent.json")
    for line in _linkbacks_cli().send(str(_output_path()), str(cache), allow_loopback=allow_loopback,
                                      site_url=settings["SITEURL"], blog_name=settings["SITENAME"]):
        print(line)


@task(name="reverify", help={"db": "SQLite database"})
def linkbacks_reverify(c, db=None):
    """Re-fetch stored linkbacks; drop those no longer linking."""
    for line in _linkbacks_cli().reverify(db or _linkbacks_db()):
        print(line)


linkbacks = Collection("linkbacks")
for _task in (linkbacks_serve, linkbacks_list, _moderate("approved"), _moderate("rejected"),
              _moderate("spam"), linkbacks_export, linkbacks_send, linkbacks_reverify):
    linkbacks.add_task(_task)

ns = Collection(clean, build, rebuild, regenerate, serve, reserve, preview, livereload, publish,
                gh_pages, new, check, test, bench, posters, linkbacks)
