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

# Every build draws social cards: Noto Sans and Noto Sans CJK give them (and the
# sample posters) accented, Cyrillic, Greek, Chinese, Japanese and Korean letters.
apt_install fonts-noto-core fonts-noto-cjk

if [ "$mode" = test ]; then
  # rsync + sshd for the publishing tests, git for gh-pages, Chromium for the
  # browser tests, a Java runtime and npm for the Nu HTML Checker, PostgreSQL's
  # server for the receiver's tests (each run starts a throwaway cluster of its
  # own on 127.0.0.1; the system cluster is not used), nginx for the redirect-map test.
  apt_install rsync openssh-server openssh-client git chromium default-jre-headless fonts-dejavu-core postgresql nginx
  # Debian's npm only when there is none: a Node.js installed another way
  # (nvm, NodeSource) would conflict with it.
  command -v npm >/dev/null 2>&1 || apt_install nodejs npm
fi

if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
# The project itself, editable, with its pinned dependencies (pyproject.toml);
# the test run adds the dev extras.
target=.
[ "$mode" = test ] && target=".[dev]"
.venv/bin/python -m pip install -q --disable-pip-version-check -e "$target"

if [ "$mode" = serve ]; then
  exec .venv/bin/invoke reserve
else
  # The Nu HTML Checker (vnu.jar), at the version tests/package-lock.json pins.
  (cd tests && npm ci --no-audit --no-fund --loglevel=error)
  .venv/bin/ruff check .
  # Two processes (one per core on the CI machine): the suite takes half as long.
  exec .venv/bin/python -m pytest -n auto "${@:2}"
fi
