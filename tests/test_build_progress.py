"""What a build shows while it runs: phase lines, and on a terminal a bar for the poster encodes."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from blogtools.build import build_site
from tests.site_copy import copy_site, shared_poster_cache

PHASES = ("Reading the reviews", "Read 14 published reviews", "Writing the pages",
          "Wrote the review pages, lists and feeds", "Search index: 14 review pages", "Posters: 14 placed")


def test_off_a_terminal_each_phase_is_one_plain_line(tmp_path, tmp_path_factory, capsys):
    site = copy_site(tmp_path / "site", shared_poster_cache(tmp_path_factory))
    result = build_site(site / "pelicanconf.py", site / "output", root=site)
    assert result.ok, result.problems
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("[")]
    for phase in PHASES:
        assert [line for line in lines if phase in line], f"no {phase!r} line in:\n{err}"
    assert all(re.match(r"^\[\s*\d+\.\d s\] \S", line) for line in lines)
    assert "\x1b[" not in err  # no terminal control codes in a log file


def test_quiet_when_asked(tmp_path, tmp_path_factory, capsys):
    site = copy_site(tmp_path / "site", shared_poster_cache(tmp_path_factory))
    build_site(site / "pelicanconf.py", site / "output", root=site, progress=False)
    assert "Reading the reviews" not in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("script") is None, reason="needs util-linux's script for a terminal")
def test_on_a_terminal_poster_encodes_show_a_bar_with_count_rate_and_time_left(tmp_path):
    site = copy_site(tmp_path / "site")  # an empty poster cache: every poster is encoded
    program = (f"from blogtools.build import build_site\n"
               f"if __name__ == '__main__':\n"
               f"    build_site({str(site / 'pelicanconf.py')!r}, {str(site / 'output')!r}, root=__import__('pathlib')"
               f".Path({str(site)!r}))\n")
    (tmp_path / "cold_build.py").write_text(program, encoding="utf-8")
    run = subprocess.run(["script", "-qec", f"{sys.executable} {tmp_path / 'cold_build.py'}", "/dev/null"],
                         capture_output=True, text=True, timeout=600, cwd=tmp_path,
                         env={"PATH": "/usr/bin:/bin", "COLUMNS": "120", "TERM": "xterm"})
    assert run.returncode == 0, run.stdout[-2000:]
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", run.stdout)
    bars = re.findall(r"Posters .*?(\d+)/(\d+)\s+(\d+)%.*?left\s+(\S+)", screen)
    assert bars, screen[-3000:]
    done, total = int(bars[-1][0]), int(bars[-1][1])
    assert done == total and total >= 14  # a job per poster, and one per extra card
    assert re.search(r"\d+(\.\d+)?/s", screen)  # the rate
    for phase in ("Reading the reviews", "Posters: encoding", "Writing the pages", "Posters: 14 placed"):
        assert phase in screen, screen[-3000:]
