"""Charts as inline SVG, drawn at build time: no script and no chart library in the browser.

Owns the drawing of a stats.Chart: a column chart (months, ratings) or a
chart of labelled rows (years, decades, genres...), and the same numbers as
a table in a <details>, so every figure is text for a screen reader.

The SVG has no viewBox: positions across are percentages of its width and
heights are pixels, so bars stretch with the page while text keeps the
page's own size, readable from a 320 px phone to a wide screen. Colours come
from classes styled in site.css with the theme's custom properties, so light,
dark and print follow. Every value is escaped here; the result is Markup.
"""

from __future__ import annotations

from markupsafe import Markup, escape

# Column charts: room for the counts above the bars, the plot, the month or rating below.
COLUMN_TOP, COLUMN_PLOT, COLUMN_BOTTOM = 22, 120, 24
COLUMN_BAR_SHARE = 0.7  # of each column's slot; the rest is the gap
# Row charts: the label and count on one line, the bar under them.
ROW_HEIGHT, ROW_TEXT, ROW_BAR_TOP, ROW_BAR = 38, 15, 22, 10
MIN_BAR_PERCENT = 0.6  # a count of 1 among hundreds still shows


def _pct(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") + "%"


def _link(siteurl: str, url: str) -> str:
    return f"{siteurl}/{url}"


def _open_svg(chart, height: int, interactive: bool) -> list[str]:
    ids = f"chart-{chart.key}"
    # With links inside, the chart is not one image: screen readers may walk it.
    role = "" if interactive else ' role="img"'
    return [
        f'<svg class="chart-svg chart-{chart.kind}" width="100%" height="{height}"{role} '
        f'aria-labelledby="{ids}-title" aria-describedby="{ids}-desc">',
        f'<title id="{ids}-title">{escape(chart.title)}</title>',
        f'<desc id="{ids}-desc">{escape(chart.description)}</desc>',
    ]


def column_chart(chart, siteurl: str = "") -> Markup:
    """Vertical bars side by side, each with its count above and its short label below."""
    bars = chart.bars
    height = COLUMN_TOP + COLUMN_PLOT + COLUMN_BOTTOM
    baseline = COLUMN_TOP + COLUMN_PLOT
    most = max((bar.count for bar in bars), default=0) or 1
    slot = 100 / max(len(bars), 1)
    parts = _open_svg(chart, height, interactive=False)
    for index, bar in enumerate(bars):
        centre = _pct(slot * (index + 0.5))
        tall = round(COLUMN_PLOT * bar.count / most, 1)
        css = "chart-bar chart-bar-unknown" if bar.unknown else "chart-bar"
        if bar.count:
            parts.append(f'<rect class="{css}" x="{_pct(slot * (index + (1 - COLUMN_BAR_SHARE) / 2))}" '
                         f'y="{baseline - tall:g}" width="{_pct(slot * COLUMN_BAR_SHARE)}" height="{tall:g}"/>')
        parts.append(f'<text class="chart-value" x="{centre}" y="{baseline - tall - 6:g}" '
                     f'text-anchor="middle">{bar.count}</text>')
        label = f'<text class="chart-label{{}}" x="{centre}" y="{height - 6}" text-anchor="middle">{{}}</text>'
        if bar.tiny:  # site.css shows one of the two, by the width of the screen
            parts.append(label.format(" chart-label-tiny", escape(bar.tiny)))
            parts.append(label.format(" chart-label-wide", escape(bar.short or bar.label)))
        else:
            parts.append(label.format("", escape(bar.short or bar.label)))
    parts.append(f'<line class="chart-axis" x1="0" x2="100%" y1="{baseline + 0.5}" y2="{baseline + 0.5}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def row_chart(chart, siteurl: str = "") -> Markup:
    """One row per label: the label (a link when it has a page) and count, a bar beneath."""
    bars = chart.bars
    most = max((bar.count for bar in bars), default=0) or 1
    interactive = any(bar.url for bar in bars)
    parts = _open_svg(chart, max(len(bars), 1) * ROW_HEIGHT, interactive)
    for index, bar in enumerate(bars):
        top = index * ROW_HEIGHT
        label = f'<text class="chart-label" x="0" y="{top + ROW_TEXT}">{escape(bar.label)}</text>'
        if bar.url:
            label = f'<a href="{escape(_link(siteurl, bar.url))}">{label}</a>'
        parts.append(label)
        parts.append(f'<text class="chart-value" x="100%" y="{top + ROW_TEXT}" '
                     f'text-anchor="end">{bar.count}</text>')
        parts.append(f'<rect class="chart-track" x="0" y="{top + ROW_BAR_TOP}" width="100%" '
                     f'height="{ROW_BAR}"/>')
        if bar.count:
            width = max(100 * bar.count / most, MIN_BAR_PERCENT)
            css = "chart-bar chart-bar-unknown" if bar.unknown else "chart-bar"
            parts.append(f'<rect class="{css}" x="0" y="{top + ROW_BAR_TOP}" width="{_pct(width)}" '
                         f'height="{ROW_BAR}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def data_table(chart, siteurl: str = "") -> Markup:
    """The chart's numbers as a table, folded in a <details> under the chart."""
    rows = []
    for bar in chart.bars:
        label = escape(bar.label)
        if bar.url:
            label = Markup(f'<a href="{escape(_link(siteurl, bar.url))}">{label}</a>')
        css = ' class="chart-row-unknown"' if bar.unknown else ""
        rows.append(f'<tr{css}><th scope="row">{label}</th><td>{bar.count}</td></tr>')
    return Markup(
        f'<details class="chart-data"><summary>{escape(chart.title)} as a table</summary>'
        f'<table><caption class="visually-hidden">{escape(chart.title)}</caption>'
        f'<thead><tr><th scope="col">{escape(chart.label_heading)}</th>'
        f'<th scope="col">{escape(chart.value_heading)}</th></tr></thead>'
        f'<tbody>{"".join(rows)}</tbody></table></details>'
    )


def figure(chart, siteurl: str = "") -> Markup:
    """The whole chart for a template: `{{ chart_figure(chart, SITEURL) }}`."""
    draw = column_chart if chart.kind == "columns" else row_chart
    return Markup(f'<figure class="chart" id="chart-{escape(chart.key)}" data-chart="{escape(chart.key)}">'
                  f'{draw(chart, siteurl)}{data_table(chart, siteurl)}</figure>')
