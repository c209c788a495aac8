"""The theme in a real browser: accessible in both schemes, responsive, keyboard-usable,
searchable, and complete without JavaScript.

One Chromium per module, driven by Playwright against the sample site served
from 127.0.0.1. axe-core (axe-playwright-python) checks WCAG 2.1 A/AA on the
main kinds of page, in the light and dark schemes, both as the system
preference and as chosen with the header toggle. Screenshots at 375 px and
1280 px go to test-artifacts/screenshots/ for people to look at. Posters are
measured against their `sizes` attribute, and the print stylesheet is checked
with print media emulated.
"""

from __future__ import annotations

import re
import statistics
from pathlib import Path

import pytest

from tests.browser import (
    BACKGROUND_LUMINANCE,
    DESKTOP,
    PHONE,
    SCREENSHOTS,
    SMALLEST_PHONE,
    load_lazy_images,
    violations,
)
from tests.site_fixture import serve

ROOT = Path(__file__).resolve().parent.parent
PAGES = {
    "home": "",
    "review": "reviews/her-2013/",
    "archive": "archives/",
    "tag": "tags/loneliness/",
    "director": "directors/spike-jonze/",
    "search": "search/",
    "404": "404.html",
}
# Phones small and common, a phone turned sideways, a tablet (the grid's 48rem step) and a laptop.
POSTER_VIEWPORTS = (320, 375, 640, 768, 1280)

# For every poster in <main>: its rendered width and the slot width its `sizes`
# attribute selects, both in CSS px. The page's own matchMedia and CSS engine
# evaluate the media conditions and lengths (calc() included).
POSTER_SLOTS = """() => {
  const probe = document.createElement('div');
  probe.style.cssText = 'position: absolute; left: 0; top: 0; height: 0; visibility: hidden';
  document.body.append(probe);
  const measure = length => { probe.style.width = length; return probe.getBoundingClientRect().width; };
  const topLevel = text => {  // split at commas outside parentheses
    const parts = []; let depth = 0, start = 0;
    [...text].forEach((c, i) => {
      if (c === '(') depth++;
      else if (c === ')') depth--;
      else if (c === ',' && depth === 0) { parts.push(text.slice(start, i).trim()); start = i + 1; }
    });
    return [...parts, text.slice(start).trim()];
  };
  const slot = sizes => {
    for (const entry of topLevel(sizes)) {
      if (CSS.supports('width', entry)) return measure(entry);
      // "(media condition) length": the condition ends at a ")" followed by the length.
      const cut = [...entry.matchAll(/\\)\\s+/g)].map(m => m.index + 1)
        .find(i => CSS.supports('width', entry.slice(i).trim()));
      if (cut === undefined) return null;  // not a sizes value we can read: fail loudly
      if (matchMedia(entry.slice(0, cut)).matches) return measure(entry.slice(cut).trim());
    }
    return innerWidth;  // no entry matched: the browser uses 100vw
  };
  const found = [...document.querySelectorAll('main picture img')].map(img => ({
    alt: img.alt, rendered: img.getBoundingClientRect().width, slot: slot(img.sizes)}));
  probe.remove();
  return found;
}"""
# Characters on each rendered line of an element's text.
CHARACTERS_PER_LINE = """(selector) => {
  const block = document.querySelector(selector);
  const range = document.createRange();
  const lines = new Map();
  const walker = document.createTreeWalker(block, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (let i = 0; i < node.length; i++) {
      range.setStart(node, i);
      range.setEnd(node, i + 1);
      const rect = range.getClientRects()[0];
      if (!rect) continue;
      const top = Math.round(rect.top);
      lines.set(top, (lines.get(top) || 0) + 1);
    }
  }
  return [...lines.entries()].sort((a, b) => a[0] - b[0]).map(entry => entry[1]);
}"""


@pytest.fixture(scope="module")
def site(preview_build):
    assert preview_build.ok, preview_build.problems
    with serve(preview_build.output_path) as url:
        yield url


def open_page(context, url):
    page = context.new_page()
    page.goto(url, wait_until="load")
    return page


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_main_pages_pass_axe_fit_a_phone_and_are_captured(browser, site, axe, scheme):
    """axe finds nothing; no sideways scrolling at 320 or 375 px; screenshots at 375 and 1280 px."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(color_scheme=scheme, viewport={"width": DESKTOP, "height": 900})
    page = context.new_page()
    found, too_wide = [], []
    for name, path in PAGES.items():
        page.set_viewport_size({"width": DESKTOP, "height": 900})
        page.goto(site + path, wait_until="load")
        luminance = page.evaluate(BACKGROUND_LUMINANCE)
        assert (luminance < 0.05) if scheme == "dark" else (luminance > 0.8), (name, scheme, luminance)
        found += violations(axe, page)
        load_lazy_images(page)
        page.screenshot(path=SCREENSHOTS / f"{name}-{scheme}-{DESKTOP}.png", full_page=True)
        for phone in (SMALLEST_PHONE, PHONE):
            page.set_viewport_size({"width": phone, "height": 800})
            widths = page.evaluate("[document.documentElement.scrollWidth, innerWidth]")
            if widths[0] > widths[1]:
                too_wide.append((name, widths))
        page.screenshot(path=SCREENSHOTS / f"{name}-{scheme}-{PHONE}.png", full_page=True)
    context.close()
    assert not found, "\n".join(found)
    assert not too_wide


def test_pages_pass_axe_in_the_scheme_chosen_with_the_toggle(browser, site, axe):
    context = browser.new_context(color_scheme="light", viewport={"width": DESKTOP, "height": 900})
    page = open_page(context, site)
    toggle = page.locator("button.scheme-toggle")
    assert toggle.is_visible() and toggle.get_attribute("aria-pressed") == "false"
    toggle.click()
    assert page.get_attribute("html", "data-scheme") == "dark"
    assert toggle.get_attribute("aria-pressed") == "true"
    found = []
    for name, path in PAGES.items():
        page.goto(site + path, wait_until="load")
        assert page.evaluate(BACKGROUND_LUMINANCE) < 0.05, name  # the stored choice, on every page
        found += violations(axe, page)
    context.close()
    assert not found, "\n".join(found)


def test_scheme_choice_survives_a_reload(browser, site):
    context = browser.new_context(color_scheme="dark")
    page = open_page(context, site + PAGES["review"])
    assert page.evaluate(BACKGROUND_LUMINANCE) < 0.05
    page.click("button.scheme-toggle")
    assert page.evaluate(BACKGROUND_LUMINANCE) > 0.8
    page.reload(wait_until="load")
    assert page.get_attribute("html", "data-scheme") == "light"
    assert page.evaluate(BACKGROUND_LUMINANCE) > 0.8
    assert page.get_attribute("button.scheme-toggle", "aria-pressed") == "false"
    context.close()


def test_pages_do_not_shift_while_they_load(browser, site):
    """Cumulative layout shift 0: every image has its size, the toggle keeps its place."""
    context = browser.new_context(viewport={"width": DESKTOP, "height": 900})
    page = context.new_page()
    shifts = {}
    for name in ("home", "review", "director"):
        page.goto(site + PAGES[name], wait_until="load")
        page.mouse.wheel(0, 20000)  # bring the lazy posters in
        page.wait_for_function("[...document.images].every(img => img.complete)")
        shifts[name] = page.evaluate("""() => new Promise(resolve => {
            let total = 0;
            new PerformanceObserver(list => {
                for (const entry of list.getEntries()) if (!entry.hadRecentInput) total += entry.value;
            }).observe({type: "layout-shift", buffered: true});
            requestAnimationFrame(() => requestAnimationFrame(() => resolve(total)));
        })""")
    context.close()
    assert shifts == {"home": 0, "review": 0, "director": 0}


def test_keyboard_focus_is_always_visible(browser, site):
    context = browser.new_context()
    page = open_page(context, site)
    page.keyboard.press("Tab")
    first = page.evaluate("""() => { const el = document.activeElement, s = getComputedStyle(el);
        return [el.getAttribute('href'), s.outlineStyle, s.outlineWidth, s.boxShadow]; }""")
    assert first[0] == "#main"
    assert first[1] != "none" and first[2] != "0px" or first[3] != "none", first
    # Poster cards draw their focus ring around the whole card (the link's ::after).
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("!!document.activeElement.closest('.poster-card')"):
            break
    ring = page.evaluate("""() => { const s = getComputedStyle(document.activeElement, '::after');
        return [s.outlineStyle, s.outlineWidth]; }""")
    assert ring[0] != "none" and ring[1] != "0px", ring
    context.close()


def test_skip_link_moves_focus_to_the_main_content(browser, site):
    context = browser.new_context()
    page = open_page(context, site + PAGES["review"])
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    assert page.locator(".skip-link").is_visible()  # shown when focused
    page.keyboard.press("Enter")
    page.wait_for_function("location.hash === '#main'")
    assert page.evaluate("document.activeElement.id") == "main"
    page.keyboard.press("Tab")  # the next stop is inside the review, not the header
    assert page.evaluate("!!document.activeElement.closest('main')")
    context.close()


def test_search_for_an_actor_finds_the_review(browser, site, axe):
    context = browser.new_context()
    page = open_page(context, site + PAGES["search"])
    assert not page.locator(".search-no-js").is_visible()
    page.fill("#search-query", "Phoenix")
    page.press("#search-query", "Enter")
    page.wait_for_selector(".search-result")
    titles = page.locator(".search-result-title").all_inner_texts()
    assert "Her (2013)" in titles
    her = page.locator(".search-result", has_text="Her (2013)")
    assert her.locator("a").get_attribute("href").endswith("/reviews/her-2013/")
    assert "Phoenix" in her.locator("mark").first.inner_text()
    thumbnail = her.locator("img")
    thumbnail.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumbnail.element_handle())
    assert re.fullmatch(r"\d+ reviews? match(es)? “Phoenix”\.", page.inner_text(".search-status"))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"search-results-light-{DESKTOP}.png", full_page=True)
    # The query is in the address, so a result page can be shared or reloaded.
    assert not violations(axe, page)  # the results, too, are accessible
    page.reload(wait_until="load")
    page.wait_for_selector(".search-result")
    assert "Her (2013)" in page.locator(".search-result-title").all_inner_texts()
    context.close()


def test_search_for_a_cast_member_named_only_in_the_front_matter_finds_the_review(browser, site):
    """Rooney Mara is in Her's Cast field and nowhere in any review's text."""
    texts = {path.name: path.read_text(encoding="utf-8").split("\n\n", 1)
             for path in (ROOT / "content" / "reviews").glob("*.md")}
    assert [name for name, (front, _) in texts.items() if "Rooney Mara" in front] == ["her-2013.md"]
    assert not [name for name, (_, body) in texts.items() if "Rooney" in body or "Mara" in body]
    context = browser.new_context()
    page = open_page(context, site + PAGES["search"])
    page.fill("#search-query", "Rooney Mara")
    page.press("#search-query", "Enter")
    page.wait_for_function("document.querySelector('.search-status').textContent.includes('Rooney Mara')")
    assert page.inner_text(".search-status") == "1 review matches “Rooney Mara”."
    assert page.locator(".search-result-title").all_inner_texts() == ["Her (2013)"]
    link = page.locator(".search-result a").first.get_attribute("href")
    context.close()
    assert link.endswith("/reviews/her-2013/")


@pytest.mark.parametrize("name", ["home", "review"])
def test_posters_are_as_wide_as_their_sizes_attribute_says(browser, site, name):
    """The browser picks a poster file from `sizes` before layout; a wrong slot wastes or blurs."""
    context = browser.new_context()
    page = open_page(context, site + PAGES[name])
    wrong, seen = [], 0
    for width in POSTER_VIEWPORTS:
        page.set_viewport_size({"width": width, "height": 800})
        for poster in page.evaluate(POSTER_SLOTS):
            seen += 1
            if poster["slot"] is None or abs(poster["slot"] / poster["rendered"] - 1) > 0.1:
                wrong.append((width, poster["alt"], round(poster["rendered"]), poster["slot"]))
    context.close()
    assert seen >= len(POSTER_VIEWPORTS) * 4  # the review page has its poster and related ones
    assert not wrong, "(viewport, poster, rendered px, sizes px):\n" + "\n".join(map(str, wrong))


def test_printed_review_is_dark_on_white_without_the_site_furniture(browser, site):
    """Even with the dark scheme chosen, paper gets dark text on white and only the review."""
    context = browser.new_context(color_scheme="dark")
    page = open_page(context, site + PAGES["review"])
    page.evaluate("localStorage.setItem('scheme', 'dark')")
    page.reload(wait_until="load")
    assert page.get_attribute("html", "data-scheme") == "dark"
    assert page.evaluate(BACKGROUND_LUMINANCE) < 0.05
    hidden = [".site-header-tools", ".site-nav", ".scheme-toggle", ".skip-link", ".site-footer",
              ".review-pager", ".related-reviews", "#responses"]
    assert all(page.locator(selector).count() == 1 for selector in hidden)  # all on this page
    page.emulate_media(media="print")
    assert page.evaluate(BACKGROUND_LUMINANCE) > 0.95
    # Every colour token, not only the ones print overrides, takes its light value.
    assert page.evaluate("getComputedStyle(document.documentElement).colorScheme") == "light"
    text = page.evaluate("""() => [document.body, document.querySelector('.review-body p'),
        document.querySelector('h1')].map(el => getComputedStyle(el).color.match(/\\d+/g).map(Number))""")
    assert all(max(rgb) <= 0x33 for rgb in text), text
    assert page.locator(".review-body").is_visible() and page.locator(".poster-card-large img").is_visible()
    shown = [selector for selector in hidden if page.locator(selector).is_visible()]
    context.close()
    assert shown == []


def test_review_text_keeps_a_comfortable_measure(browser, site):
    context = browser.new_context(viewport={"width": DESKTOP, "height": 900})
    page = open_page(context, site + PAGES["review"])
    counts = []
    for paragraph in range(page.locator(".review-body p").count()):
        lines = page.evaluate(CHARACTERS_PER_LINE, f".review-body p:nth-of-type({paragraph + 1})")
        counts += lines[:-1]  # a paragraph's last line is as short as it happens to be
    context.close()
    assert len(counts) >= 8
    assert 60 <= statistics.median(counts) <= 75, counts


def test_without_javascript_reviews_read_fully_and_search_points_to_browse_pages(browser, site):
    context = browser.new_context(java_script_enabled=False)
    page = open_page(context, site + PAGES["review"])
    assert page.locator("h1").inner_text() == "Her"
    body = page.locator(".review-body")
    assert body.is_visible() and "Theodore writes heartfelt letters" in body.inner_text()
    assert page.locator(".poster-card-large img").is_visible()
    assert not page.locator("button.scheme-toggle").is_visible()  # it could not work
    page.goto(site + PAGES["search"], wait_until="load")
    assert not page.locator("form.search-form").is_visible()
    assert page.locator(".search-no-js").is_visible()
    browse = page.locator(".search-browse a")
    assert {"Genres", "Directors", "Years", "Tags", "Archives"} <= set(browse.all_inner_texts())
    page.click("text=Directors")
    assert page.locator("h1").inner_text() == "Directors"
    context.close()
