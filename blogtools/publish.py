"""Deploying the site: `invoke publish` (rsync) and `invoke gh-pages` (ghp-import).

Owns the rule that only a checked build goes online. Every deploy builds
with publishconf.py into a fresh temporary folder, runs the same checks as
`invoke check`, and refuses when there is any problem or when the build is
empty (no index.html or no review page). Only then does rsync or ghp-import
run, so a failed or empty build never touches the live site.

Where `publish` sends the site, each value read from the settings
(pelicanconf.py, through publishconf.py) and overridden by an environment
variable of the same name:

* ``PUBLISH_SSH_HOST``, ``PUBLISH_SSH_PORT``, ``PUBLISH_SSH_USER``,
  ``PUBLISH_SSH_PATH`` -- rsync over SSH to ``USER@HOST:PATH``.
* ``PUBLISH_SSH_OPTIONS`` -- extra ssh arguments, e.g.
  ``-i ~/.ssh/reelnotes -o UserKnownHostsFile=~/.ssh/known_hosts_reelnotes``.
* ``PUBLISH_TARGET`` -- a local folder (a mounted share, a test folder)
  instead of SSH; PUBLISH_SSH_HOST must then be empty. The ``target``
  argument (``invoke publish --target DIR``) wins over both. A local folder
  must lie outside the site's root: rsync --delete makes the folder an exact
  copy of the build, so anything else in it would be deleted.
"""

from __future__ import annotations

import datetime as dt
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from blogtools.check import SiteCheck, check_site
from blogtools.site_settings import ROOT, SettingsError, read_site_settings, setting

SSH_SETTINGS = ("PUBLISH_SSH_HOST", "PUBLISH_SSH_PORT", "PUBLISH_SSH_USER", "PUBLISH_SSH_PATH")
# -rlptz: recursive, symlinks, permissions, times, compressed; no owner or
# group, which a web host's account cannot set anyway. --checksum because
# every build rewrites every file, so size and mtime alone would say "all changed".
# --delay-updates/--delete-after: changed files land together at the end of the
# transfer and old ones go only after that, so a dropped connection leaves the
# live site as it was instead of half old, half new.
RSYNC_OPTIONS = ("-rlptz", "--delete", "--delete-after", "--delay-updates", "--checksum",
                 "--itemize-changes")


class PublishError(Exception):
    """A refused or failed deploy; the message says why and what to do."""


@dataclass(frozen=True)
class Destination:
    """Where rsync puts the site: a local folder, or PATH on HOST over SSH."""

    path: str
    host: str = ""
    port: int = 22
    user: str = ""
    ssh_options: tuple[str, ...] = ()
    # The option or setting the path came from, so a refusal names what to change.
    origin: str = field(default="PUBLISH_TARGET", compare=False)

    @property
    def is_remote(self) -> bool:
        return bool(self.host)

    def rsync_target(self) -> str:
        # rsync reads "host:path" as remote; an IPv6 address needs brackets.
        host = f"[{self.host}]" if ":" in self.host else self.host
        path = self.path.rstrip("/") + "/"
        return f"{self.user}@{host}:{path}" if self.is_remote else path

    def ssh_command(self) -> str:
        return shlex.join(["ssh", "-p", str(self.port), *self.ssh_options])

    def __str__(self) -> str:
        if self.is_remote:
            return f"{self.user}@{self.host}:{self.path} (port {self.port})"
        return self.path


def _missing(names: list[str], settings_file: str) -> PublishError:
    listed = ", ".join(names)
    example = " ".join(f"{name}=..." for name in names)
    return PublishError(
        f"Publishing over SSH needs {listed}: set {'it' if len(names) == 1 else 'them'} in "
        f"{settings_file} or in the environment ({example} invoke publish); "
        "or deploy to a local folder with --target DIR or PUBLISH_TARGET=DIR."
    )


def destination_from(settings: dict, environ=None, target: str | None = None,
                     settings_file: str = "publishconf.py") -> Destination:
    """The deploy destination from settings, environment and --target, or a PublishError."""
    if target:
        return Destination(path=str(Path(target).expanduser().resolve()), origin="--target")
    host = setting(settings, "PUBLISH_SSH_HOST", environ)
    local = setting(settings, "PUBLISH_TARGET", environ)
    if local and host:
        raise PublishError(
            f"Both PUBLISH_TARGET ({local!r}) and PUBLISH_SSH_HOST ({host!r}) are set: "
            "empty one of them, e.g. PUBLISH_SSH_HOST= invoke publish"
        )
    if local:
        return Destination(path=str(Path(local).expanduser().resolve()))
    values = {name: setting(settings, name, environ) for name in SSH_SETTINGS}
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise _missing(missing, settings_file)
    port = values["PUBLISH_SSH_PORT"]
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise PublishError(f"PUBLISH_SSH_PORT: {port!r}: expected a port number from 1 to 65535, e.g. 22")
    options = setting(settings, "PUBLISH_SSH_OPTIONS", environ)
    try:
        ssh_options = tuple(shlex.split(options))
    except ValueError as exc:
        raise PublishError(f"PUBLISH_SSH_OPTIONS: {options!r}: expected ssh arguments ({exc})") from None
    return Destination(
        path=values["PUBLISH_SSH_PATH"],
        host=values["PUBLISH_SSH_HOST"],
        port=int(port),
        user=values["PUBLISH_SSH_USER"],
        ssh_options=ssh_options,
        origin="PUBLISH_SSH_PATH",
    )


def refuse_dangerous(destination: Destination, root: Path) -> None:
    """rsync --delete empties whatever it is pointed at: never the sources or a whole disk."""
    path = destination.path.rstrip("/")
    if destination.is_remote:
        if path in ("", "~", ".") or path.strip("/") == "":
            raise PublishError(
                f"PUBLISH_SSH_PATH: {destination.path!r}: expected the web root folder, "
                "e.g. /var/www/reelnotes (rsync --delete would empty this one)"
            )
        return
    target = Path(destination.path)
    if target.is_relative_to(root) or target in root.parents:
        # Inside the root there is nothing rsync may safely replace: content/,
        # theme/, .git/ and output/ all belong to the sources or the preview.
        raise PublishError(
            f"{destination.origin}: {destination.path!r}: expected a folder outside the site "
            f"({root}); rsync --delete makes the target an exact copy of the build, so it "
            "would delete the blog's sources"
        )
    if target == Path.home() or target == Path(target.anchor):
        raise PublishError(
            f"{destination.origin}: {destination.path!r}: expected a folder for the site only; "
            "rsync --delete would remove everything else in it"
        )


def rsync_command(build_dir: Path, destination: Destination, dry_run: bool = False) -> list[str]:
    command = ["rsync", *RSYNC_OPTIONS]
    if dry_run:
        command.append("--dry-run")
    if destination.is_remote:
        command += ["-e", destination.ssh_command()]
    # The trailing slash copies the folder's contents, not the folder itself.
    return command + [str(build_dir).rstrip("/") + "/", destination.rsync_target()]


# Outputs that differ between two builds of the same sources: Pagefind's index
# files (named by content hash) and sitemap.xml (pages without a date get the
# build time as lastmod). They are still transferred; the report only keeps
# them apart, so a writer sees the pages that really changed.
REGENERATED = ("pagefind/", "sitemap.xml")


@dataclass
class Changes:
    """What rsync --itemize-changes reported, sorted for the reader."""

    content: list[str] = field(default_factory=list)  # pages, feeds, images...
    regenerated: int = 0  # search index and sitemap files
    touched: int = 0  # only the timestamp differs


def itemized_changes(itemized: str) -> Changes:
    """rsync --itemize-changes output split into real changes, regenerated files and
    timestamp-only updates.

    Every build rewrites every file, so -t refreshes the time of each one;
    listing those would bury the few files whose content changed.
    """
    changes = Changes()
    for line in itemized.splitlines():
        if not line.strip():
            continue
        # Eleven flag characters and a space ("*deleting" and its padding too).
        path = line[12:]
        # "." first means no transfer: only attributes (here: times) differ.
        if line.startswith("."):
            changes.touched += 1
        elif path.startswith(REGENERATED):
            changes.regenerated += 1
        else:
            changes.content.append(line)
    return changes


@contextmanager
def _work_folder(workdir: Path | None):
    """A fresh folder for the build: `workdir` if given (kept), else a temporary one."""
    if workdir is not None:
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        yield workdir
        return
    with tempfile.TemporaryDirectory(prefix="filmreviews-publish-") as folder:
        yield Path(folder)


def checked_build(root: Path, settings_file: str, folder: Path) -> SiteCheck:
    """Build into `folder`/site and refuse unless it is clean and non-empty."""
    # A subfolder, because the temporary folder itself is private (0700) and
    # rsync -p would copy that mode onto the live site's root.
    output = Path(folder) / "site"
    if output.exists():
        shutil.rmtree(output)
    check = check_site(root, settings_file, output_path=output)
    if not check.ok:
        raise PublishError(
            f"Not publishing: the build has problems; the live site is untouched.\n{check.report()}"
        )
    empty = check.emptiness()
    if empty:
        raise PublishError(f"Not publishing: {empty}; the live site is untouched.")
    return check


def _settings(settings_file: str, root: Path) -> dict:
    try:
        return read_site_settings(settings_file, root)
    except (FileNotFoundError, SettingsError) as exc:
        raise PublishError(f"Cannot publish: {exc}") from None


def publish(root: Path = ROOT, settings_file: str = "publishconf.py", *, target: str | None = None,
            dry_run: bool = False, send_linkbacks: bool = False, environ=None,
            workdir: Path | None = None, echo=print) -> SiteCheck:
    """Build, check and rsync the site; raise PublishError instead of deploying a bad build.

    `dry_run` runs rsync with --dry-run and prints what would change.
    `workdir` keeps the build there (tests compare it with the deployed tree).
    """
    root = Path(root).resolve()
    environ = os.environ if environ is None else environ
    settings = _settings(settings_file, root)
    destination = destination_from(settings, environ, target, settings_file)
    refuse_dangerous(destination, root)
    if shutil.which("rsync") is None:
        raise PublishError("Publishing needs rsync: install it (Debian/Ubuntu: apt-get install rsync)")
    with _work_folder(workdir) as folder:
        check = checked_build(root, settings_file, folder)
        echo(f"Built {check.summary()}.")
        command = rsync_command(check.build.output_path, destination, dry_run)
        echo(("Would change on " if dry_run else "Deploying to ") + f"{destination}:")
        completed = subprocess.run(command, capture_output=True, text=True)
        changes = itemized_changes(completed.stdout)
        for line in changes.content:
            echo(line)
        if changes.regenerated:
            echo(f"Search index and sitemap: regenerated ({changes.regenerated} files "
                 f"{'would be' if dry_run else 'were'} replaced; they differ on every build)")
        if changes.touched:
            echo(f"({changes.touched} unchanged files and folders {'would get' if dry_run else 'got'} "
                 "the new build's timestamps)")
        if completed.returncode != 0:
            raise PublishError(
                f"rsync to {destination} failed (exit {completed.returncode}):\n"
                f"{completed.stderr.strip()}\ncommand: {shlex.join(command)}"
            )
        if not changes.content:
            echo("No content changes.")
        if dry_run:
            echo("Dry run: nothing was changed.")
        else:
            echo(f"Published {check.reviews} reviews to {destination}.")
            if send_linkbacks:
                _send_linkbacks(root, settings, check.build.output_path, echo)
    return check


def _send_linkbacks(root: Path, settings: dict, output: Path, echo) -> None:
    """Tell the sites the reviews link to; only ever after a successful deploy."""
    try:
        from linkbacks import cli
    except ImportError as exc:
        raise PublishError(f"The site is published, but linkbacks were not sent: {exc}") from None

    try:
        site = cli.site_files(settings, root)
        lines = cli.send(output, site.sent_cache, site_url=site.site_url, blog_name=site.site_name)
    except cli.LinkbacksError as exc:
        raise PublishError(f"The site is published, but linkbacks were not sent: {exc}") from None
    for line in lines:
        echo(f"Linkbacks: {line}")


def gh_pages(root: Path = ROOT, settings_file: str = "publishconf.py", *, remote: str | None = None,
             branch: str | None = None, message: str | None = None, environ=None,
             workdir: Path | None = None, echo=print) -> SiteCheck:
    """Build, check and push the site to a GitHub Pages branch with ghp-import.

    The remote and branch come from GITHUB_PAGES_REMOTE and GITHUB_PAGES_BRANCH
    (settings, environment winning), unless given here. ghp-import adds
    .nojekyll so GitHub serves folders that start with an underscore.
    """
    root = Path(root).resolve()
    environ = os.environ if environ is None else environ
    settings = _settings(settings_file, root)
    remote_origin = "--remote" if remote else "GITHUB_PAGES_REMOTE"
    remote = remote or setting(settings, "GITHUB_PAGES_REMOTE", environ) or "origin"
    branch = branch or setting(settings, "GITHUB_PAGES_BRANCH", environ) or "gh-pages"
    message = message or f"Publish site on {dt.date.today().isoformat()}"
    if shutil.which("git") is None:
        raise PublishError("gh-pages needs git: install it (Debian/Ubuntu: apt-get install git)")
    known = subprocess.run(["git", "remote"], cwd=root, capture_output=True, text=True)
    if known.returncode != 0:
        raise PublishError(f"gh-pages needs a git repository: {root} is not one ({known.stderr.strip()})")
    if remote not in known.stdout.split():
        raise PublishError(
            f"{remote_origin}: {remote!r}: expected one of this repository's git remotes "
            f"({', '.join(known.stdout.split()) or 'none configured'})"
        )
    with _work_folder(workdir) as folder:
        check = checked_build(root, settings_file, folder)
        echo(f"Built {check.summary()}.")
        command = [sys.executable, "-m", "ghp_import", "-n", "-m", message,
                   "-r", remote, "-b", branch, "-p", str(check.build.output_path)]
        completed = subprocess.run(command, cwd=root, capture_output=True, text=True)
        if completed.returncode != 0:
            raise PublishError(
                f"ghp-import to {remote}/{branch} failed (exit {completed.returncode}):\n"
                f"{(completed.stderr or completed.stdout).strip()}"
            )
        echo(f"Published {check.reviews} reviews to branch {branch} of {remote}.")
    return check
