"""The benchmark tools: the synthetic corpus, the build bench and the page budgets."""

import re
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


def test_bench_runs_both_sites_end_to_end_and_prints_figures(tmp_path, capsys):
    status = bench.main(["--reviews", "5", "--workdir", str(tmp_path), "--poster-sample", "2"])
    out = capsys.readouterr().out
    assert status == 0, out
    for kind in ("cold", r"rebuild \(1 edit\)"):
        for site in ("ours", "stock"):
            row = re.search(rf"^{kind}\s+{site}\s+([\d.]+)\s+([\d.]+)\s+[\d.]+\s+\d+\s+5\s", out, re.M)
            assert row, f"no {site} {kind} row in:\n{out}"
            assert float(row.group(1)) >= float(row.group(2)) > 0
    assert re.search(r"ours/stock, cold: [\d.]+× wall", out)
    assert re.search(r"ours/stock, rebuild \(1 edit\): [\d.]+× wall", out)
    # The stats pages are timed inside our builds, as a share of each.
    for kind in ("cold", r"rebuild \(1 edit\)"):
        share = re.search(rf"^stats pages, {kind}: ([\d.]+) s of the ([\d.]+) s build \(([\d.]+)%\)$",
                          out, re.M)
        assert share, out
        seconds, build, percent = map(float, share.groups())
        # The figures are printed rounded, so the share is only checked to a tenth of itself.
        assert 0 < seconds < build and percent == pytest.approx(100 * seconds / build, rel=0.1)
    assert "Poster derivatives" in out
    # The rebuild really rebuilt: the changed sentence is in both sites' pages,
    # and the corpus was put back as generated.
    for output in ("output-ours", "output-stock"):
        pages = "".join(p.read_text(encoding="utf-8")
                        for p in (tmp_path / output / "reviews").glob("*/index.html"))
        assert CHANGED in pages
    content = tmp_path / "content"
    assert CHANGED not in "".join(p.read_text(encoding="utf-8") for p in content.rglob("*.md"))
    fresh = tmp_path / "fresh"
    corpus.generate_corpus(fresh, reviews=5)
    assert _files(fresh) == _files(content)


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
