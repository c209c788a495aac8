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
GITHUB_PAGES_REMOTE = "origin"
GITHUB_PAGES_BRANCH = "gh-pages"

# The linkbacks receiver (`invoke linkbacks.serve`) behind the production host.
FILMREVIEWS_LINKBACKS_ENDPOINT = SITEURL + "/linkbacks"
