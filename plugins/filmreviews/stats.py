"""Stats pages: the numbers behind the diary, counted at build time.

Owns what a stats page knows: reviews per month and per year of watching,
the rating distribution and average, release decades, the most reviewed
genres, directors, countries and languages, time watched, rewatches, and the
highest-rated films. It writes one page for all years (`stats/`) and one per
year of watching (`stats/2024/`), and puts `stats_url` in the shared context
for the navigation. charts.py draws the numbers; this module only counts.

Everything is counted from the validated `Review` records (review.py), never
from metadata strings. Only published reviews count: drafts and reviews
dated in the future are not on the site. The year of watching is the
`Watched` date, or the publication date when a review has none. A review
without the field a chart needs is counted as "Unknown" there, never dropped.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from operator import attrgetter

from markupsafe import Markup, escape
from pelican.generators import Generator

from reelnotes.settings import stats_patterns

from . import charts

# The other modules this one leans on, in one place: browse pages for links
# (and their slugs, so spelling variants count once), the rating scale, problems.
from .browse import FacetMaker
from .problems import report_settings
from .review import MAX_RATING, RATING_STEP

TOP_NAMES = 10  # bars in a ranked chart (genres, directors, countries, languages)
TOP_FILMS = 6  # poster cards of the highest-rated films: one row on a wide screen
UNKNOWN = "Unknown"
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")


# --- Settings -------------------------------------------------------------------------

@dataclass(frozen=True)
class StatsSettings:
    url: str  # the page for every year, "" when off
    save_as: str
    year_url: str  # a pattern with {year}, "" when year pages are off
    year_save_as: str

    def year_page(self, year: int) -> tuple[str, str]:
        if not (self.url and self.year_url):
            return "", ""
        return self.year_url.format(year=year), self.year_save_as.format(year=year)


def stats_settings(settings) -> StatsSettings:
    """FILMREVIEWS_STATS_URL / _SAVE_AS and the _YEAR_ variants; a bad one is reported, its default used."""
    problems = []
    patterns = stats_patterns(settings, problems)
    report_settings(problems, "Stats setting")
    return StatsSettings(**patterns)


# --- What a page shows -------------------------------------------------------------------

@dataclass(frozen=True)
class Bar:
    """One bar of a chart and one row of its table."""

    label: str  # plain text, e.g. "Science Fiction", "March", "1960s", "Unknown"
    count: int
    url: str = ""  # the page this bar links to, relative to the site root; "" for none
    short: str = ""  # the label under a column, when `label` is too long for it
    tiny: str = ""  # the label under a column on the narrowest screens, e.g. "J" for January
    unknown: bool = False


@dataclass(frozen=True)
class Chart:
    """A chart's numbers and the words around them; charts.py draws it."""

    key: str  # unique on the page: element ids and test hooks ("months", "genres"...)
    kind: str  # "columns" (months, ratings) or "rows" (everything ranked or long)
    title: str
    description: str  # one sentence with the main figures, for <desc>
    label_heading: str  # the table's first column, e.g. "Genre"
    bars: tuple[Bar, ...]
    value_heading: str = "Reviews"
    more: int = 0  # names left out of a ranked chart
    more_url: str = ""  # the browse index that lists them all, "" for none

    @property
    def total(self) -> int:
        return sum(bar.count for bar in self.bars)


@dataclass(frozen=True)
class FilmFact:
    """One film named on the page (the longest, the oldest...), ready for a template."""

    movie: Markup  # escaped, so templates print it as it is with or without autoescape
    url: str
    year: int | None
    detail: str  # e.g. "187 min", "1958"


@dataclass
class Stats:
    """Everything one stats page shows, for all years (`year` None) or one year of watching."""

    year: int | None
    reviews: int
    charts: dict[str, Chart] = field(default_factory=dict)
    average_rating: float | None = None
    rated: int = 0
    minutes: int = 0
    without_runtime: int = 0
    rewatches: int = 0
    by_publication_date: int = 0  # reviews with no Watched date, counted by publication date
    longest: FilmFact | None = None
    shortest: FilmFact | None = None
    oldest: FilmFact | None = None
    newest: FilmFact | None = None
    top_rated: list = field(default_factory=list)  # articles, for partials/poster_card.html

    @property
    def hours(self) -> str:
        """Time watched as words, e.g. "41 h 20 min"."""
        hours, minutes = divmod(self.minutes, 60)
        return f"{hours} h {minutes} min" if hours else f"{minutes} min"

    @property
    def average_label(self) -> str:
        return f"{self.average_rating:.1f}" if self.average_rating is not None else ""


# --- Counting ----------------------------------------------------------------------------

def watched_on(article):
    """The day a review's film was watched: Watched, or the publication date."""
    return article.review.watched or article.date.date()


def watch_year(article) -> int:
    return watched_on(article).year


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def _leaders(bars) -> tuple[int, str]:
    """The highest count among the known bars, and who has it, in words:
    "March", "2023 and 2025", "Drama, Comedy and War", "Drama, Comedy, War and 4 more"."""
    known = [bar for bar in bars if not bar.unknown]
    most = max((bar.count for bar in known), default=0)
    names = [bar.label for bar in known if bar.count == most]
    if len(names) > 3:
        return most, f"{', '.join(names[:3])} and {len(names) - 3} more"
    if len(names) > 1:
        return most, f"{', '.join(names[:-1])} and {names[-1]}"
    return most, "".join(names)


def _rating_label(value: float) -> str:
    return f"{value:g}"


def film_fact(article, detail: str) -> FilmFact:
    review = article.review
    return FilmFact(escape(review.movie), article.url, review.year, detail)


def _ranked(articles, names_of, maker: FacetMaker, kind: str | None, title: str,
            key: str, heading: str, missing: str) -> Chart:
    """The most frequent names (each review counts once per name), then Unknown."""
    counts: Counter = Counter()
    shown: dict[str, str] = {}
    unknown = 0
    for article in articles:
        names = {}
        for name in names_of(article.review):
            names.setdefault(maker.slug(name) or name.casefold(), name)
        if not names:
            unknown += 1
        for slug, name in names.items():
            counts[slug] += 1
            shown.setdefault(slug, name)  # the first spelling seen names it, as on browse pages
    ranked = sorted(counts.items(), key=lambda item: (-item[1], shown[item[0]].casefold()))
    bars = []
    for slug, count in ranked[:TOP_NAMES]:
        facet = maker.make(kind, shown[slug]) if kind else None
        bars.append(Bar(shown[slug], count, facet.url if facet else ""))
    if unknown:
        bars.append(Bar(UNKNOWN, unknown, unknown=True))
    more = max(len(ranked) - TOP_NAMES, 0)
    if ranked:
        most, leaders = _leaders(Bar(shown[slug], count) for slug, count in ranked)
        kinds = title.lower() if len(ranked) != 1 else heading.lower()
        description = (f"{title}, most reviewed first: the most, {_plural(most, 'review')}, "
                       f"for {leaders}; {len(ranked):,} {kinds} in all")
        if more:
            description += f", the top {TOP_NAMES} shown"
    else:
        description = f"{title}: none recorded"
    if unknown:
        description += f". {UNKNOWN}: {_plural(unknown, 'review')} {missing}"
    more_url = maker.browse.get(f"{kind}s_url", "") if kind else ""
    return Chart(key, "rows", title, description + ".", heading, tuple(bars), more=more,
                 more_url=more_url)


def month_chart(articles, year: int | None) -> Chart:
    per_month = Counter(watched_on(a).month for a in articles)
    bars = tuple(Bar(name, per_month[number], short=name[:3], tiny=name[0])
                 for number, name in enumerate(MONTHS, start=1))
    most, leaders = _leaders(bars)
    when = f"in {year}" if year else "across all years"
    title = f"Reviews per month of watching {when}"
    if most:
        description = f"{title}: {_plural(len(articles), 'review')}; the most, {most}, in {leaders}."
    else:
        description = f"{title}: none."
    return Chart("months", "columns", title, description, "Month", bars)


def year_chart(articles, settings: StatsSettings, with_pages: set[int]) -> Chart:
    per_year = Counter(watch_year(a) for a in articles)
    years = range(min(per_year), max(per_year) + 1) if per_year else ()
    # Every year from the first to the last, so a year without reviews shows as 0.
    bars = tuple(Bar(str(y), per_year[y], settings.year_page(y)[0] if y in with_pages else "")
                 for y in years)
    title = "Reviews per year of watching"
    if bars:
        most, leaders = _leaders(bars)
        description = f"{title}, {bars[0].label} to {bars[-1].label}: the most, {most}, in {leaders}."
    else:
        description = f"{title}: none."
    return Chart("years", "rows", title, description, "Year", bars)


def rating_chart(articles) -> Chart:
    ratings = Counter(a.review.rating for a in articles)
    steps = int(MAX_RATING / RATING_STEP)
    bars = [Bar(_rating_label(RATING_STEP * step), ratings[RATING_STEP * step])
            for step in range(1, steps + 1)]
    unrated = ratings[None]
    if unrated:
        bars.append(Bar(UNKNOWN, unrated, short="?", unknown=True))
    rated = len(articles) - unrated
    title = "Ratings"
    if rated:
        most, leaders = _leaders(bars)
        each = " each" if " and " in leaders else ""
        description = (f"How many reviews gave each rating from 0.5 to 5: {_plural(rated, 'rated review')}, "
                       f"most often {leaders} ({most}{each})")
    else:
        description = "How many reviews gave each rating from 0.5 to 5: none is rated"
    if unrated:
        description += f"; {UNKNOWN}: {unrated} without a rating"
    return Chart("ratings", "columns", title, description + ".", "Rating", tuple(bars))


def decade_chart(articles, maker: FacetMaker) -> Chart:
    decades = Counter(a.review.decade for a in articles)
    known = sorted(d for d in decades if d is not None)
    span = range(known[0], known[-1] + 10, 10) if known else ()
    bars = []
    for decade in span:
        facet = maker.make("decade", f"{decade}s") if decades[decade] else None
        bars.append(Bar(f"{decade}s", decades[decade], facet.url if facet else ""))
    if decades[None]:
        bars.append(Bar(UNKNOWN, decades[None], unknown=True))
    title = "Release decades"
    if known:
        most, leaders = _leaders(bars)
        if known[0] == known[-1]:
            description = f"{title} of the films reviewed: {most} known, all from the {leaders}"
        else:
            description = (f"{title} of the films reviewed, {known[0]}s to {known[-1]}s: the most, "
                           f"{most}, from the {leaders}")
    else:
        description = f"{title}: none known"
    if decades[None]:
        description += f". {UNKNOWN}: {_plural(decades[None], 'review')} without a release year"
    return Chart("decades", "rows", title, description + ".", "Decade", tuple(bars))


def count_stats(articles, year: int | None, maker: FacetMaker, settings: StatsSettings,
                with_pages: set[int]) -> Stats:
    """The numbers of one stats page from its published reviews (oldest first)."""
    stats = Stats(year=year, reviews=len(articles))
    charts_ = [month_chart(articles, year)]
    if year is None:
        charts_.insert(0, year_chart(articles, settings, with_pages))
    charts_ += [
        rating_chart(articles),
        decade_chart(articles, maker),
        _ranked(articles, attrgetter("genres"), maker, "genre", "Genres", "genres", "Genre",
                "without a genre"),
        _ranked(articles, attrgetter("directors"), maker, "director", "Directors", "directors",
                "Director", "without a director"),
        _ranked(articles, attrgetter("countries"), maker, None, "Countries", "countries",
                "Country", "without a country"),
        _ranked(articles, attrgetter("languages"), maker, None, "Languages", "languages",
                "Language", "without a language"),
    ]
    stats.charts = {chart.key: chart for chart in charts_}

    rated = [a for a in articles if a.review.rating is not None]
    stats.rated = len(rated)
    if rated:
        stats.average_rating = sum(a.review.rating for a in rated) / len(rated)
    timed = [a for a in articles if a.review.runtime]
    stats.minutes = sum(a.review.runtime for a in timed)
    stats.without_runtime = len(articles) - len(timed)
    stats.rewatches = sum(1 for a in articles if a.review.rewatch)
    stats.by_publication_date = sum(1 for a in articles if a.review.watched is None)
    if timed:
        # Ties go to the film watched first: `articles` is in order of watching.
        longest = max(timed, key=lambda a: a.review.runtime)
        shortest = min(timed, key=lambda a: a.review.runtime)
        stats.longest = film_fact(longest, f"{longest.review.runtime} min")
        stats.shortest = film_fact(shortest, f"{shortest.review.runtime} min")
    dated = [a for a in articles if a.review.year]
    if dated:
        oldest = min(dated, key=lambda a: a.review.year)
        newest = max(dated, key=lambda a: a.review.year)
        stats.oldest = film_fact(oldest, str(oldest.review.year))
        stats.newest = film_fact(newest, str(newest.review.year))
    # Highest rating first; among equals the most recently watched, then by slug.
    stats.top_rated = sorted(rated, key=lambda a: (-a.review.rating, -watched_on(a).toordinal(),
                                                   a.slug))[:TOP_FILMS]
    return stats


# --- The pages ---------------------------------------------------------------------------

class StatsGenerator(Generator):
    """The stats pages: all years, and one per year of watching (get_generators)."""

    def generate_context(self):
        self.stats_settings = stats_settings(self.settings)
        self.context["stats_url"] = self.stats_settings.url
        if not self.stats_settings.url:
            return
        maker = FacetMaker(self.settings)
        published = [a for a in self.context.get("articles", [])
                     if a.status == "published" and hasattr(a, "review")]
        # In order of watching, so "first watched" breaks ties the same way on every build.
        published.sort(key=lambda a: (watched_on(a), a.date, a.slug))
        by_year: dict[int, list] = {}
        for article in published:
            by_year.setdefault(watch_year(article), []).append(article)
        with_pages = set(by_year) if self.stats_settings.year_url else set()
        self.years = [(year, len(by_year[year]), self.stats_settings.year_page(year)[0])
                      for year in sorted(by_year)]
        self.pages = [(self.stats_settings.url, self.stats_settings.save_as,
                       count_stats(published, None, maker, self.stats_settings, with_pages))]
        for year in sorted(with_pages):
            url, save_as = self.stats_settings.year_page(year)
            self.pages.append((url, save_as, count_stats(by_year[year], year, maker,
                                                         self.stats_settings, with_pages)))

    def generate_output(self, writer):
        if not self.stats_settings.url:
            return
        template = self.get_template("stats")
        for url, save_as, stats in self.pages:
            writer.write_file(
                save_as, template, self.context,
                relative_urls=self.settings["RELATIVE_URLS"], url=url,
                template_name="stats", stats=stats, stats_years=self.years,
                stats_all_url=self.stats_settings.url, chart_figure=charts.figure,
            )


def get_generators(pelican):
    """get_generators: add the stats pages to the build."""
    return StatsGenerator
