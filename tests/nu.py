"""The Nu HTML Checker (npm's vnu-jar, pinned in tests/package.json), run once for many files."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
VNU_JAR = ROOT / "tests" / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"


def nu_errors(files, css=()) -> list[str]:
    """Every error the checker reports for `files` (HTML) and `css` (stylesheets),
    as "path:line: message". One Java start for all: the checker takes seconds
    to start."""
    if shutil.which("java") is None:
        pytest.fail("Java is needed for the Nu HTML Checker (Debian: default-jre-headless)")
    if not VNU_JAR.is_file():
        pytest.fail("The Nu HTML Checker is not installed: run `npm ci` in tests/")
    command = ["java", "-Xss1024k", "-jar", str(VNU_JAR), "--errors-only", "--format", "json", "--stdout"]
    if css:
        command.append("--also-check-css")
    run = subprocess.run([*command, *map(str, files), *map(str, css)],
                         capture_output=True, text=True, timeout=600)
    try:
        messages = json.loads(run.stdout)["messages"]
    except ValueError:
        pytest.fail(f"The Nu HTML Checker gave no report (exit {run.returncode}): {run.stderr.strip()}")
    return [f"{urlsplit(m.get('url', '')).path}:{m.get('lastLine', '?')}: {m['message']}"
            for m in messages if m.get("type") in ("error", "non-document-error")]
