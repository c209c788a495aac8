#!/usr/bin/env bash
# One entry point for a fresh Debian/Ubuntu machine with Python 3.11+:
#   bash bootstrap.sh serve   install, build the sample site, serve it at http://localhost:8000
#   bash bootstrap.sh test    install everything the tests drive, run the whole suite
# Safe to run again: installs are skipped when already satisfied.
set -euo pipefail
cd "$(dirname "$0")"

mode="${1:-}"
case "$mode" in
  serve|test) ;;
  *) echo "usage: bash bootstrap.sh serve|test" >&2; exit 2 ;;
esac

python="${PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "Python 3.11 or newer is needed (found: $("$python" --version 2>&1))." >&2
  exit 1
fi

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "Installing system packages: ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

# python3-venv is a separate package on Debian/Ubuntu.
"$python" -m venv --help >/dev/null 2>&1 && "$python" -c 'import ensurepip' 2>/dev/null \
  || apt_install python3-venv

if [ "$mode" = test ]; then
  # rsync + sshd for the publishing tests, git for gh-pages, Chromium for the
  # browser tests, a Java runtime for the Nu HTML Checker, nginx for the redirect-map test.
  apt_install rsync openssh-server openssh-client git chromium default-jre-headless fonts-dejavu-core nginx
fi

if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
requirements=requirements.txt
[ "$mode" = test ] && requirements=requirements-dev.txt
.venv/bin/python -m pip install -q --disable-pip-version-check -r "$requirements"

if [ "$mode" = serve ]; then
  exec .venv/bin/invoke reserve
else
  exec .venv/bin/python -m pytest "${@:2}"
fi
