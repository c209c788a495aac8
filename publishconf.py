"""Production settings: everything in pelicanconf.py, plus what differs online."""

import os
from pathlib import Path

from pelican.settings import load_source

# Pelican reads settings files by path; the preview settings are read the same
# way, so this works from any working directory without touching sys.path.
_preview = load_source("pelicanconf", str(Path(__file__).with_name("pelicanconf.py")))
globals().update({name: value for name, value in vars(_preview).items() if name.isupper()})

SITEURL = os.environ.get("SITEURL", "https://reelnotes.example.org")
RELATIVE_URLS = False
FEED_DOMAIN = SITEURL

DELETE_OUTPUT_DIRECTORY = True

# --- Deployment: where `invoke publish` and `invoke gh-pages` send the site.
# Environment variables of the same names win, so secrets need not live here.
PUBLISH_SSH_HOST = ""  # e.g. "reelnotes.example.org"
PUBLISH_SSH_PORT = 22
PUBLISH_SSH_USER = ""  # e.g. "deploy"
PUBLISH_SSH_PATH = ""  # e.g. "/var/www/reelnotes" (never a folder of the site itself)
PUBLISH_SSH_OPTIONS = ""  # extra ssh arguments, e.g. "-i ~/.ssh/reelnotes_deploy"
PUBLISH_TARGET = ""  # a local folder outside the site instead of SSH (PUBLISH_SSH_HOST must be empty)
# `invoke publish --s3`: object storage (AWS S3, Cloudflare R2, MinIO, Backblaze B2...).
# Credentials come from the usual AWS sources (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY,
# AWS_PROFILE and ~/.aws/credentials), never from this file.
PUBLISH_S3_BUCKET = ""  # e.g. "reelnotes-site"
PUBLISH_S3_PREFIX = ""  # a folder in the bucket for the site, e.g. "reelnotes/"; empty: the whole bucket
PUBLISH_S3_REGION = ""  # e.g. "eu-west-1"; "auto" for Cloudflare R2; empty: the AWS default
PUBLISH_S3_ENDPOINT_URL = ""  # empty for AWS; e.g. "https://ACCOUNT.r2.cloudflarestorage.com"
GITHUB_PAGES_REMOTE = "origin"
GITHUB_PAGES_BRANCH = "gh-pages"

# The linkbacks receiver (`invoke linkbacks.serve`) behind the production host.
FILMREVIEWS_LINKBACKS_ENDPOINT = SITEURL + "/linkbacks"

# --- Moderation from this machine: with both set, `invoke linkbacks.list/approve/reject/spam/
# forget/export/reverify` run `python -m linkbacks.cli` on the server over the PUBLISH_SSH_*
# access above and read the receiver's database there (`--local` uses FILMREVIEWS_LINKBACKS_DB here).
LINKBACKS_REMOTE_PYTHON = ""  # e.g. "/srv/reelnotes/.venv/bin/python" (the receiver's virtualenv)
LINKBACKS_REMOTE_DB = ""  # e.g. "/srv/reelnotes/linkbacks.sqlite3" (the receiver's LINKBACKS_DB)

# --- Notices of new responses by e-mail. `invoke linkbacks.serve` reads them here; on the server
# the receiver and the `python -m linkbacks.cli notify` cron job read the same names from their
# environment. The password only ever comes from the environment: LINKBACKS_SMTP_PASSWORD.
LINKBACKS_SMTP_HOST = ""  # empty: no mail (notices wait in the outbox); e.g. "smtp.example.org"
LINKBACKS_SMTP_PORT = 587
LINKBACKS_SMTP_USER = ""  # empty: no login
LINKBACKS_SMTP_SECURITY = "starttls"  # starttls, ssl (port 465) or none (a relay on localhost)
LINKBACKS_NOTIFY_FROM = ""  # e.g. "Reel Notes <notices@reelnotes.example.org>"
LINKBACKS_NOTIFY_TO = ""  # the writer, e.g. "marta@example.org" (several: comma-separated)
LINKBACKS_NOTIFY_MODE = "each"  # each: a mail per new response; daily: one digest a day
