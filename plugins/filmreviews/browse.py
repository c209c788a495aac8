"""Browsing reviews by film: genre, director, release year and decade.

Owns the browse pages (a paginated grid of poster cards for each genre,
director, release year and decade, and an index page listing each kind with
counts), the `browse_indexes` nav links in the shared context, and the
links between reviews: `article.browse` (the facets a review belongs to),
`article.prev_review` / `article.next_review` (publication order) and
`article.related_reviews`.

Only published reviews appear anywhere here: drafts and reviews dated in the
future have no pages of their own to link to.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass
from operator import attrgetter

from pelican.generators import Generator
from pelican.settings import DEFAULT_CONFIG
from pelican.utils import slugify

from reelnotes.settings import browse_patterns, setting

from . import output
from .catalog import display_path
from .problems import Problem, report, report_settings

FACET_KINDS = ("genre", "director", "year", "decade")
# Keys of `article.browse`, in the order a review page shows them.
BROWSE_KEYS = {"genre": "genres", "director": "directors", "year": "year", "decade": "decade"}
# Index pages: (settings key, label for the nav, kinds listed, section headings).
INDEXES = (
    ("genres", "Genres", (("genre", "Genres"),)),
    ("directors", "Directors", (("director", "Directors"),)),
    ("years", "Years", (("decade", "Decades"), ("year", "Years"))),
)


@dataclass(frozen=True)
class Facet:
    """One genre, director, release year or decade, and where its page is."""

    kind: str  # "genre", "director", "year" or "decade"
    name: str  # as shown: "Science Fiction", "Agnès Varda", "1962", "1960s"
    slug: str  # as in URLs: "science-fiction", "agnes-varda", "1962", "1960s"
    url: str  # relative to the site root; "" when pages of this kind are off
    save_as: str = ""


def browse_settings(settings) -> dict:
    """FILMREVIEWS_BROWSE merged over the defaults; bad entries are reported and ignored."""
    problems = []
    merged = browse_patterns(settings, problems)
    report_settings(problems, "Browse setting")
    return merged


def related_count(settings) -> int:
    """FILMREVIEWS_RELATED_REVIEWS, or the default when it is not a whole number from 0 up."""
    problems = []
    count = setting(settings, "FILMREVIEWS_RELATED_REVIEWS", problems)
    report_settings(problems, "Browse setting")
    return count


class FacetMaker:
    """Turns names into Facets with stable slugs and URLs from the settings."""

    def __init__(self, settings):
        self.browse = browse_settings(settings)
        self.regex_subs = settings.get("SLUG_REGEX_SUBSTITUTIONS",
                                       DEFAULT_CONFIG["SLUG_REGEX_SUBSTITUTIONS"])
        self.use_unicode = settings.get("SLUGIFY_USE_UNICODE", False)
        self.slugs: dict[str, str] = {}  # a director or genre is named on many reviews

    def slug(self, name: str) -> str:
        if name not in self.slugs:
            self.slugs[name] = slugify(name, regex_subs=self.regex_subs, use_unicode=self.use_unicode)
        return self.slugs[name]

    def make(self, kind: str, name: str) -> Facet | None:
        slug = name if kind in ("year", "decade") else self.slug(name)
        if not slug:
            return None
        url = self.browse[f"{kind}_url"].format(slug=slug)
        save_as = self.browse[f"{kind}_save_as"].format(slug=slug)
        return Facet(kind, name, slug, url, save_as)


def newest_first(articles) -> list:
    return sorted(articles, key=attrgetter("date", "slug"), reverse=True)


def facet_names(article) -> dict[str, list[tuple[str, str]]]:
    """(field, name) pairs per facet kind, straight from the review record."""
    review = article.review
    return {
        "genre": [("Genre", name) for name in review.genres],
        "director": [("Director", name) for name in review.directors],
        "year": [("Year", str(review.year))] if review.year else [],
        "decade": [("Year", f"{review.decade}s")] if review.decade else [],
    }


def related_keys(article, maker: FacetMaker) -> dict[str, set[str]]:
    """What two reviews can share, compared by slug so spelling variants match."""
    review = article.review
    return {
        "director": {maker.slug(name) for name in review.directors} - {""},
        "genre": {maker.slug(name) for name in review.genres} - {""},
        "tag": {tag.slug for tag in getattr(article, "tags", None) or ()},
    }


# What two reviews can share, most telling first; and shared counts above
# MOST_COUNTED count as that many. The index holds every combination of up to
# that many directors, genres and tags of each review, so a review with many
# tags costs a bounded number of index entries.
SHARED = ("director", "genre", "tag")
MOST_COUNTED = 3


def _combinations(values: set[str]) -> list[frozenset]:
    """Every set of at most MOST_COUNTED of `values`, the empty set included."""
    ordered = sorted(values)
    return [frozenset(chosen) for size in range(min(len(ordered), MOST_COUNTED) + 1)
            for chosen in itertools.combinations(ordered, size)]


class RelatedIndex:
    """Finds the reviews related to a review in time linear in the number of reviews.

    Every review is filed under each combination of its directors, genres and
    tags, in lists kept newest first. The reviews sharing exactly so many
    directors, genres and tags with a review are near the heads of the lists
    for those combinations, so a review reads the heads of a bounded number
    of lists, never every review of its genre or director.
    """

    def __init__(self, articles, maker: FacetMaker):
        self.keys = {id(a): related_keys(a, maker) for a in articles}
        newest_first_order = sorted(articles, key=lambda a: (-a.date.timestamp(), a.slug))
        self.rank = {id(a): position for position, a in enumerate(newest_first_order)}
        self.lists = defaultdict(list)  # (directors, genres, tags) -> reviews having all of them
        for article in newest_first_order:
            for key in self._combinations_of(article):
                self.lists[key].append(article)

    def _combinations_of(self, article) -> list[tuple[frozenset, ...]]:
        mine = self.keys[id(article)]
        return [key for key in itertools.product(*(_combinations(mine[what]) for what in SHARED))
                if any(key)]

    def level(self, article, other) -> tuple[int, ...]:
        """How much two reviews share: directors, genres, tags (each up to MOST_COUNTED)."""
        mine, theirs = self.keys[id(article)], self.keys[id(other)]
        return tuple(min(len(mine[what] & theirs[what]), MOST_COUNTED) for what in SHARED)

    def related(self, article, count: int) -> list:
        """The `count` best related reviews, best first."""
        film = article.review.film_key
        by_level = defaultdict(list)
        for key in self._combinations_of(article):
            by_level[tuple(len(part) for part in key)].append(key)
        chosen = []
        taken = {id(article)}
        # Highest level first: anyone sharing more outranks anyone sharing less.
        for level in sorted(by_level, reverse=True):
            need = count - len(chosen)
            if need <= 0:
                break
            found = {}
            for key in by_level[level]:
                found.update(self._newest_at(article, level, key, taken, film, need))
            for other in sorted(found.values(), key=lambda other: self.rank[id(other)])[:need]:
                chosen.append(other)
                taken.add(id(other))
        return chosen

    def _newest_at(self, article, level, key, taken, film, need) -> dict:
        """The newest `need` reviews of one list that share exactly `level` with `article`.

        Every review in the list shares at least that much. The ones sharing
        more belong to a higher level, which was read first: had one of them
        been left out, `count` reviews would already be chosen. So only the
        chosen ones and other reviews of the same film are ever skipped.
        """
        found = {}
        for other in self.lists.get(key, ()):
            if len(found) >= need:
                break
            if id(other) not in taken and other.review.film_key != film and self.level(article, other) == level:
                found[id(other)] = other
        return found


def choose_related(articles, maker: FacetMaker, count: int) -> dict:
    """Up to `count` related reviews per review, keyed by id(article).

    Ranked by shared directors, then shared genres, then shared tags (each
    outranks any amount of the next, and each counts up to MOST_COUNTED),
    then newest first, then slug. Other reviews of the same
    film are left out: the rewatch links cover those.
    """
    index = RelatedIndex(articles, maker)
    return {id(article): index.related(article, count) for article in articles}


class BrowseGenerator(Generator):
    """Browse pages by genre, director, release year and decade (get_generators)."""

    def generate_context(self):
        self.maker = FacetMaker(self.settings)
        # Browse pages paginate like tag pages unless the settings say otherwise.
        self.settings["PAGINATED_TEMPLATES"].setdefault("browse", None)
        published = [a for a in self.context.get("articles", [])
                     if a.status == "published" and hasattr(a, "review")]
        chronological = sorted(published, key=attrgetter("date", "slug"))
        self.facets, self.members = self.collect_facets(chronological)
        self.attach_links(chronological)
        self.context["browse_indexes"] = [
            (label, self.maker.browse[f"{key}_url"])
            for key, label, _ in INDEXES if self.maker.browse[f"{key}_url"]
        ]

    def collect_facets(self, chronological):
        """Every facet of every published review; the first spelling seen names it."""
        facets: dict[tuple[str, str], Facet] = {}
        members: dict[Facet, list] = defaultdict(list)
        for article in chronological:
            article.browse = {key: [] for key in BROWSE_KEYS.values()}
            for kind, names in facet_names(article).items():
                seen = set()  # the same genre given twice counts once
                for field, name in names:
                    facet = self.maker.make(kind, name)
                    if facet is None:
                        report(Problem(display_path(article, self.settings), field, name,
                                       "a name with at least one letter or digit"))
                        continue
                    if facet.slug in seen:
                        continue
                    seen.add(facet.slug)
                    facet = facets.setdefault((kind, facet.slug), facet)
                    members[facet].append(article)
                    article.browse[BROWSE_KEYS[kind]].append(facet)
        return facets, members

    def attach_links(self, chronological):
        for before, article in zip([None, *chronological], chronological, strict=False):
            article.prev_review = before
            if before is not None:
                before.next_review = article
        if chronological:
            chronological[-1].next_review = None
        related = choose_related(chronological, self.maker, related_count(self.settings))
        for article in chronological:
            article.related_reviews = related[id(article)]

    def sorted_facets(self, kind):
        facets = [f for f in self.facets.values() if f.kind == kind]
        if kind in ("year", "decade"):
            return sorted(facets, key=lambda f: f.slug)
        return sorted(facets, key=lambda f: (self.maker.slug(f.name), f.name))

    def generate_output(self, writer):
        relative_urls = self.settings["RELATIVE_URLS"]
        newest_first_archives = self.settings.get("NEWEST_FIRST_ARCHIVES", True)
        template = self.get_template("browse")
        for facet, articles in self.members.items():
            if not facet.save_as:
                continue
            articles = newest_first(articles)
            dates = sorted(articles, key=attrgetter("date", "slug"), reverse=newest_first_archives)
            writer.write_file(
                facet.save_as, template, self.context,
                relative_urls=relative_urls,
                paginated={"articles": articles, "dates": dates},
                template_name="browse", url=facet.url,
                facet=facet, articles=articles, dates=dates,
                page_name=facet.save_as.removesuffix(".html"),
                browse_index_url=self.index_url_for(facet.kind),
            )
        index_template = self.get_template("browse_index")
        for key, label, sections in INDEXES:
            save_as = self.maker.browse[f"{key}_save_as"]
            if not save_as:
                continue
            listed = [
                (heading, [(f, len(self.members[f])) for f in self.sorted_facets(kind)])
                for kind, heading in sections
            ]
            writer.write_file(
                save_as, index_template, self.context,
                relative_urls=relative_urls, url=self.maker.browse[f"{key}_url"],
                kind=key, title=label, sections=listed,
                facets=[pair for _, pairs in listed for pair in pairs],
            )
        # The last pages rendered from templates: the list writer's share ends here.
        output.join_list_writer()

    def index_url_for(self, kind: str) -> str:
        for key, _, sections in INDEXES:
            if any(kind == listed for listed, _ in sections):
                return self.maker.browse[f"{key}_url"]
        return ""


def get_generators(pelican):
    """get_generators: add the browse pages to the build."""
    return BrowseGenerator
