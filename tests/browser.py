"""Driving Debian's Chromium for the tests: launch settings, viewports, axe, screenshots.

The `browser` and `axe` fixtures (tests/conftest.py) use these; any test module
that looks at pages in a real browser imports what it needs from here.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
WCAG_21_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
              "resultTypes": ["violations"]}
PHONE, DESKTOP = 375, 1280
SMALLEST_PHONE = 320

# Relative luminance of the page background: tells which scheme is really on screen.
BACKGROUND_LUMINANCE = """() => {
  const [r, g, b] = getComputedStyle(document.body).backgroundColor.match(/\\d+/g).map(Number);
  const lin = c => (c /= 255) <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}"""


def load_lazy_images(page) -> None:
    """Full-page screenshots do not scroll, so lazy posters would show as empty boxes."""
    page.evaluate("document.querySelectorAll('img[loading=lazy]').forEach(img => { img.loading = 'eager'; })")
    page.wait_for_function("[...document.images].every(img => img.complete)")


def violations(axe, page) -> list[str]:
    results = axe.run(page, options=WCAG_21_AA).response["violations"]
    return [f"{page.url}: {v['id']}: {v['help']} at {', '.join(t for n in v['nodes'] for t in n['target'])}"
            for v in results]
