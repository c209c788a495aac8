"""The benchmark tools: the synthetic corpus, the build bench and the page budgets."""

import re
import sys
from pathlib import Path

import pytest
from PIL import Image

from benchmarks import bench, budgets, corpus

ROOT = Path(__file__).resolve().parent.parent
CHANGED = "This sentence was changed to time a rebuild after one edit"


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("corpus") / "content"
    corpus.generate_corpus(folder, reviews=5)
    return folder


def test_same_seed_gives_byte_identical_corpus(small_corpus, tmp_path):
    again = tmp_path / "again"
    corpus.generate_corpus(again, reviews=5)
    assert _files(again) == _files(small_corpus)


def test_another_seed_gives_other_reviews(small_corpus, tmp_path):
    other = tmp_path / "other"
    corpus.generate_corpus(other, reviews=5, seed="another seed", posters=False)
    assert _files(other / "reviews") != _files(small_corpus / "reviews")


def test_corpus_reviews_pass_the_review_model(small_corpus):
    from pelican.readers import MarkdownReader
    from pelican.settings import read_settings

    from filmreviews.review import parse_review

    settings = read_settings(str(ROOT / "pelicanconf.py"), override={"PATH": str(small_corpus)})
    reader = MarkdownReader(settings)
    reviews = sorted((small_corpus / "reviews").glob("*.md"))
    assert len(reviews) == 5
    for path in reviews:
        html, metadata = reader.read(str(path))
        review = parse_review(metadata, path.name, content_root=small_corpus)
        assert review.problems == ()
        assert review.rating is not None and review.runtime and review.genres and review.cast
        assert metadata["summary"] and metadata["tags"]
        with Image.open(small_corpus / review.poster) as poster:
            assert (poster.format, poster.size) == ("JPEG", corpus.POSTER_SIZE)
        words = len(re.sub(r"<[^>]+>", " ", html).split())
        assert 450 <= words <= 800, f"{path.name} has {words} words"


def test_corpus_prose_has_the_typography_typogrify_works_on(small_corpus):
    text = "".join(p.read_text(encoding="utf-8") for p in (small_corpus / "reviews").glob("*.md"))
    for mark in ("„", "”", " — ", "…", "*"):
        assert mark in text
    assert re.search(r"\b[A-Z]{3,}\b", text.split("\n\n", 1)[1])
    assert text.count("\n\n") >= 5 * 4  # several paragraphs per review


def test_large_corpus_has_rewatches_and_directors_with_many_films(tmp_path):
    folder = tmp_path / "content"
    corpus.generate_corpus(folder, reviews=200, posters=False)
    fronts = [p.read_text(encoding="utf-8").split("\n\n", 1)[0]
              for p in sorted((folder / "reviews").glob("*.md"))]
    assert len(fronts) == 200
    rewatches = [f for f in fronts if "Rewatch: yes" in f]
    assert len(rewatches) == 10
    posters = {re.search(r"^Poster: (.+)$", f, re.M).group(1) for f in fronts}
    first_reviews = [f for f in fronts if "Rewatch: no" in f]
    for front in rewatches:
        poster = re.search(r"^Poster: (.+)$", front, re.M).group(1)
        assert any(f"Poster: {poster}\n" in f for f in first_reviews)
    assert len(posters) == 190
    directors = [re.search(r"^Director: (.+)$", f, re.M).group(1) for f in fronts]
    assert max(directors.count(d) for d in set(directors)) >= 5


def _builds_row(out: str, reviews: int, site: str, label: str) -> re.Match | None:
    return re.search(rf"^\s*{reviews}\s+{site}\s+{re.escape(label)}\s+([\d.]+) s\s+([\d.]+)\s+(\d+)",
                     out, re.M)


def test_bench_runs_both_sites_at_two_sizes_and_prints_every_target(tmp_path, capsys):
    chart = tmp_path / "chart.svg"
    status = bench.main(["--reviews", "6", "3", "--quick", "--workdir", str(tmp_path), "--chart", str(chart)])
    out = capsys.readouterr().out
    assert status == 0, out
    for reviews in (3, 6):
        for label, site in bench.SCENARIOS.values():
            row = _builds_row(out, reviews, site, label)
            assert row, f"no {site} {label!r} row for {reviews} reviews in:\n{out}"
            build_seconds, wall = float(row.group(1)), float(row.group(2))
            assert wall >= build_seconds > 0
    targets = out.split("Targets (issue 9)")[1]
    for reviews in ("3", "6"):
        assert re.search(rf"^1 edit loop: saved edit shown in the browser\s+{reviews}\s+not measured", targets, re.M)
        for target, limit in (("2 whole build, caches warm", "≤ 0.8×"),
                              ("2 whole build, poster cache only", "≤ 1.2×"),
                              ("3 first build vs encode floor", "≤ 1.1×"),
                              ("5 invoke check, unchanged site", "≤ 1.0×")):
            assert re.search(rf"^{re.escape(target)}\s+{reviews}\s+.*\s[\d.]+×\s+{re.escape(limit)}\s+(met|MISSED)",
                             targets, re.M), f"{target} at {reviews}:\n{targets}"
    # Sizes are sorted: the scale target compares the smallest with the largest, linearly (1.1 × 2).
    assert re.search(r"^4 scale: build time, caches warm\s+3→6\s.*≤ 2\.2×\s+(met|MISSED)", targets, re.M)
    assert re.search(r"^4 scale: peak memory, warm build\s+3→6\s", targets, re.M)
    svg = chart.read_text(encoding="utf-8")
    assert svg.startswith("<svg") and svg.count("<polyline") == len(bench.CHART_SERIES)
    # The rebuild really rebuilt: the changed sentence is in both sites' pages,
    # and the corpus was put back as generated.
    for output in ("output-ours", "output-stock"):
        pages = "".join(p.read_text(encoding="utf-8")
                        for p in (tmp_path / "reviews-3" / output / "reviews").glob("*/index.html"))
        assert CHANGED in pages
    content = tmp_path / "reviews-3" / "content"
    assert CHANGED not in "".join(p.read_text(encoding="utf-8") for p in content.rglob("*.md"))
    fresh = tmp_path / "fresh"
    corpus.generate_corpus(fresh, reviews=3)
    assert _files(fresh) == _files(content)


def test_edit_loop_figures_come_from_benchmarks_edit_loop_when_it_exists(monkeypatch, tmp_path):
    import types

    calls = []

    def measure(corpus_root, reviews):
        calls.append((corpus_root, reviews))
        return {"text_edit_shown": {"median": 0.8, "min": 0.6, "max": 1.4, "runs": 10}, "first_build": 9.5}

    monkeypatch.setitem(sys.modules, "benchmarks.edit_loop", types.SimpleNamespace(measure=measure))
    figures = bench.measure_edit_loop(tmp_path, 1000)
    assert calls == [(tmp_path, 1000)] and figures["text_edit_shown"]["median"] == 0.8
    size = bench.SizeResult(1000, 950, edit_loop=figures)
    [row] = [r for r in bench.target_rows([size]) if r.target.startswith("1 edit loop")]
    assert (row.ours, row.limit, row.verdict) == ("0.80 s [0.60–1.40]", "≤ 1.0 s", "met")


def test_a_failing_edit_loop_module_is_reported_not_raised(monkeypatch, tmp_path):
    import types

    def measure(corpus_root, reviews):
        raise RuntimeError("no browser")

    monkeypatch.setitem(sys.modules, "benchmarks.edit_loop", types.SimpleNamespace(measure=measure))
    lines = []
    assert bench.measure_edit_loop(tmp_path, 5, echo=lines.append) == {"error": "RuntimeError: no browser"}
    assert "benchmarks/edit_loop.py failed: RuntimeError: no browser" in lines[0]


def test_targets_are_judged_on_medians(tmp_path):
    def builds(scenario, *seconds):
        return [bench.Build(scenario, s + 0.5, s, s, 100.0, 10, [], 0, None) for s in seconds]

    size = bench.SizeResult(10, 10, builds={
        "stock-cold": builds("stock-cold", 10, 11, 30), "warm": builds("warm", 7, 8, 9),
        "posters-only": builds("posters-only", 12, 13, 40), "cold": builds("cold", 50, 52, 90),
        "floor": builds("floor", 48, 50, 51), "check": builds("check", 7.5, 7.9, 8.1)})
    rows = {r.target: r for r in bench.target_rows([size])}
    assert rows["2 whole build, caches warm"].ratio == pytest.approx(8 / 11)
    assert rows["2 whole build, caches warm"].verdict == "met"
    assert rows["2 whole build, poster cache only"].ratio == pytest.approx(13 / 11)
    assert rows["3 first build vs encode floor"].ratio == pytest.approx(52 / 50)
    assert rows["5 invoke check, unchanged site"].ratio == pytest.approx(7.9 / 8)
    assert rows["2 whole build, caches warm"].ours == "8.00 s [7.00–9.00]"


def test_bench_refuses_a_size_that_is_not_a_whole_number(capsys):
    with pytest.raises(SystemExit):
        bench.main(["--reviews", "1000", "many"])
    assert "'many': expected a whole number of at least 1" in capsys.readouterr().err


def test_page_weight_counts_same_site_css_and_js_once(tmp_path):
    base = "http://127.0.0.1:8000"
    (tmp_path / "theme" / "css").mkdir(parents=True)
    (tmp_path / "theme" / "css" / "site.css").write_text('@import url("extra.css");\nbody{margin:0}')
    (tmp_path / "theme" / "css" / "extra.css").write_text("p{color:red}")
    (tmp_path / "theme" / "app.js").write_text("console.log(1)")
    (tmp_path / "index.html").write_text(
        '<link rel="stylesheet" href="theme/css/site.css">'
        '<link rel="stylesheet" href="https://fonts.example.net/f.css">'
        '<script src="theme/app.js"></script><script src="/theme/app.js"></script>'
        '<script src="theme/gone.js"></script><p>Hello</p>')
    weight = budgets.page_weight(tmp_path, base, "Home page", "index.html")
    assert [(r.kind, r.path) for r in weight.resources] == [
        ("HTML", "index.html"), ("CSS", "theme/css/site.css"), ("JS", "theme/app.js"),
        ("CSS", "theme/css/extra.css")]
    assert weight.raw == sum((tmp_path / r.path).stat().st_size for r in weight.resources)
    assert weight.missing == ["JS theme/gone.js (no theme/gone.js in the output)"]
    assert not weight.passes  # a missing file fails the budget whatever the size


def test_phone_picks_the_smallest_poster_wide_enough_for_its_slot():
    sizes = "(min-width: 64rem) 12rem, (min-width: 40rem) 25vw, 45vw"
    assert budgets.slot_width(sizes, 412) == pytest.approx(412 * 0.45)
    assert budgets.slot_width(sizes, 1280) == 12 * 16
    srcset = "a-185.avif 185w, a-342.avif 342w, a-500.avif 500w"
    needed = budgets.slot_width(sizes, 412) * 1.75  # about 324 device px
    assert budgets._pick(budgets._candidates(srcset), needed) == "a-342.avif"
    assert budgets._pick(budgets._candidates(srcset), 900) == "a-500.avif"


def test_slot_width_reads_calc_and_falls_back_to_the_viewport_on_anything_else():
    sizes = "(min-width: 62.5rem) calc(18.4vw - 1rem), (min-width: 19.5rem) calc(50vw - 1.5rem), 100vw"
    assert budgets.slot_width(sizes, 1280) == pytest.approx(1280 * 0.184 - 16)
    assert budgets.slot_width(sizes, 412) == pytest.approx(206 - 24)
    assert budgets.slot_width("calc(100vw - 2rem + 4px)", 300) == 272
    assert budgets.slot_width("min(17rem, calc(100vw - 2rem))", 412) == 412
    assert budgets.slot_width("calc(2 * 10vw), 10rem", 412) == 412  # not the next entry
    assert budgets.slot_width("(min-width: 30rem) max(1rem, 2vw), 10rem", 412) == 160


def test_the_real_poster_sizes_are_all_readable_by_the_phone_estimate():
    from filmreviews.posters import SIZES

    # 999 px wide would be 100vw: every entry gave a length, none was skipped as unreadable.
    for variant, sizes in SIZES.items():
        for viewport in (300, 412, 700, 770, 900, 1100, 1280):
            assert budgets.slot_width(sizes, viewport) < viewport * 0.9, (variant, viewport)


def test_budgets_report_home_review_and_stats_pages_of_the_real_site(capsys):
    status = budgets.main(["--settings", "pelicanconf.py", "--no-lighthouse"])
    out = capsys.readouterr().out
    assert "Build FAILED" not in out, out
    for heading in ("Home page (index.html)", "Review page (reviews/her-2013/index.html)",
                    "Stats page (stats/index.html)"):
        assert heading in out
    verdicts = re.findall(r"of 20,480 B budget \(\d+%\): (PASS|FAIL)", out)
    assert verdicts == ["PASS", "PASS", "PASS"], out
    assert status == 0
    assert re.search(r"posters \(not in the budget\): \d+ images, \d+ lazy", out)


def test_budgets_exit_1_and_say_why_when_a_page_is_over_budget(monkeypatch, capsys):
    monkeypatch.setattr(budgets, "BUDGET_BYTES", 1024)
    status = budgets.main(["--settings", "pelicanconf.py", "--no-lighthouse"])
    out = capsys.readouterr().out
    assert status == 1
    assert re.search(r"FAILED:\n  Home page: [\d,]+ B gzip of a 1,024 B budget\n"
                     r"  Review page: [\d,]+ B gzip of a 1,024 B budget\n"
                     r"  Stats page: [\d,]+ B gzip of a 1,024 B budget", out), out


def test_missing_lighthouse_fails_only_when_it_is_required(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(budgets, "LIGHTHOUSE", tmp_path / "no-lighthouse-here")
    assert budgets.main(["--settings", "pelicanconf.py"]) == 0
    assert "Lighthouse is not installed: run `npm install" in capsys.readouterr().out
    assert budgets.main(["--settings", "pelicanconf.py", "--require-lighthouse"]) == 1
    out = capsys.readouterr().out
    assert "Lighthouse is required (--require-lighthouse)" in out.split("FAILED:")[1]


def _lighthouse_report(scores: dict, cls: float) -> dict:
    return {"categories": {key: {"score": scores.get(key, 1)} for key, _ in budgets.CATEGORIES},
            "audits": {"cumulative-layout-shift": {"numericValue": cls}}}


@pytest.mark.parametrize("outcome, expected", [
    ({"performance": 0.99}, "Home page: Lighthouse Performance 99, expected 100"),
    ({"seo": None}, "Home page: Lighthouse SEO no score, expected 100"),
    ({"cls": 0.02}, "Home page: cumulative layout shift 0.0200, expected 0"),
    ({"error": "lighthouse exited with 1: Chrome crashed"},
     "Home page: the Lighthouse run failed (lighthouse exited with 1: Chrome crashed)"),
])
def test_lighthouse_below_the_bar_exits_1_with_the_reason(monkeypatch, capsys, outcome, expected):
    """Lighthouse itself is stood in for: the rule under test is what its report leads to."""
    monkeypatch.setattr(budgets, "LIGHTHOUSE", Path(__file__))  # "installed"
    calls = []

    def fake_lighthouse(url, report_path, preset):
        calls.append(url)
        if len(calls) > 1:  # the review and stats pages are perfect
            return _lighthouse_report({}, 0)
        if "error" in outcome:
            raise RuntimeError(outcome["error"])
        return _lighthouse_report({k: v for k, v in outcome.items() if k != "cls"}, outcome.get("cls", 0))

    monkeypatch.setattr(budgets, "run_lighthouse", fake_lighthouse)
    status = budgets.main(["--settings", "pelicanconf.py"])
    out = capsys.readouterr().out
    assert len(calls) == 3
    assert status == 1
    assert out.split("FAILED:\n")[1].splitlines() == [f"  {expected}"]


def test_perfect_lighthouse_results_exit_0(monkeypatch, capsys):
    monkeypatch.setattr(budgets, "LIGHTHOUSE", Path(__file__))
    monkeypatch.setattr(budgets, "run_lighthouse", lambda url, path, preset: _lighthouse_report({}, 0))
    assert budgets.main(["--settings", "pelicanconf.py"]) == 0
    assert "Every check passed." in capsys.readouterr().out
