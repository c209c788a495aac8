"""Production settings: everything in pelicanconf.py, plus what differs online."""

import os
import sys

sys.path.append(os.curdir)
from pelicanconf import *  # noqa: E402,F403

SITEURL = os.environ.get("SITEURL", "https://reelnotes.example.org")
RELATIVE_URLS = False
FEED_DOMAIN = SITEURL

DELETE_OUTPUT_DIRECTORY = True

# Where `invoke publish` sends the site (environment variables override these).
PUBLISH_SSH_HOST = ""
PUBLISH_SSH_PORT = 22
PUBLISH_SSH_USER = ""
PUBLISH_SSH_PATH = ""
PUBLISH_SSH_OPTIONS = ""  # extra ssh arguments, e.g. "-i ~/.ssh/reelnotes_deploy"
PUBLISH_TARGET = ""  # a local folder instead of SSH (PUBLISH_SSH_HOST must be empty)

# The linkbacks receiver (`invoke linkbacks.serve`) behind the production host.
FILMREVIEWS_LINKBACKS_ENDPOINT = SITEURL + "/linkbacks"
