"""A synthetic review corpus for benchmarks: many realistic reviews, made up.

Owns the made-up films (titles, directors, cast, ratings...), the seeded prose
of each review and the poster drawn for each film. Everything comes from one
`random.Random(seed)`, so the same seed and count give a byte-identical corpus:
timings from two runs are always about the same input.

Usage, from the repository root::

    python -m benchmarks.corpus OUT_DIR --reviews 1000

OUT_DIR becomes a Pelican content folder (reviews/, images/posters/, pages/,
extra/robots.txt, linkbacks/).
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import random
import re
import sys
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

DEFAULT_SEED = "reel-notes-bench"
DEFAULT_REVIEWS = 1000
# Small but real. Narrower than 500 and 780, so each poster yields only the
# 185 and 342 derivatives: encoding figures leave out the two widest sizes.
POSTER_SIZE = (400, 600)
POSTER_JPEG = {"quality": 82, "optimize": True, "progressive": True}
WORDS_PER_REVIEW = 600
# Reviews are spread over a fixed past span, so none is ever held back as a
# future post and the corpus does not depend on today's date.
FIRST_REVIEW = dt.datetime(2010, 1, 4, 20, 0)
LAST_REVIEW = dt.datetime(2025, 6, 28, 20, 0)
REWATCH_SHARE = 0.05

FIRST_NAMES = (
    "Ada", "Bruno", "Celia", "Dmitri", "Elena", "Farid", "Greta", "Hiro", "Ines", "Jonas",
    "Kalina", "Lars", "Maja", "Nadir", "Olga", "Paulo", "Quentin", "Rosa", "Soren", "Tamsin",
    "Umar", "Vera", "Wiktor", "Ximena", "Yusuf", "Zofia", "Amara", "Bartek", "Chiara", "Dario",
    "Edith", "Florian", "Gaia", "Henrik", "Irena", "Jules", "Kasia", "Luca", "Mirela", "Noor",
)
LAST_NAMES = (
    "Abernathy", "Brandt", "Castellano", "Dobrowolski", "Eklund", "Ferreira", "Gallo", "Halvorsen",
    "Ivanova", "Jansen", "Kowal", "Lindqvist", "Moreau", "Nakamura", "Okafor", "Petrescu",
    "Quiroga", "Rasmussen", "Sandoval", "Tanaka", "Urbanek", "Valdez", "Wojcik", "Xu", "Yilmaz",
    "Zielinski", "Achebe", "Bellamy", "Costa", "Duval", "Esposito", "Fontaine", "Grabowski",
    "Hoffmann", "Iglesias", "Jovanovic", "Keller", "Laurent", "Marchetti", "Novak",
)
GENRES = (
    "Drama", "Comedy", "Thriller", "Horror", "Science Fiction", "Romance", "Animation",
    "Documentary", "Adventure", "Crime", "Fantasy", "Mystery", "War", "Western", "Musical",
    "Family", "History", "Action",
)
COUNTRIES = (
    ("United States", "English"), ("United Kingdom", "English"), ("France", "French"),
    ("Poland", "Polish"), ("Japan", "Japanese"), ("Italy", "Italian"), ("Germany", "German"),
    ("Mexico", "Spanish"), ("South Korea", "Korean"), ("Sweden", "Swedish"),
    ("Brazil", "Portuguese"), ("Nigeria", "English"), ("Iran", "Persian"), ("India", "Hindi"),
)
TAGS = (
    "slow cinema", "road movie", "coming of age", "heist", "small town", "space", "memory",
    "family", "friendship", "grief", "revenge", "music", "the sea", "winter", "summer",
    "cities at night", "first love", "old age", "politics", "newsrooms", "trains",
    "dreams", "islands", "monsters", "robots", "ghosts", "cooking", "sport", "war",
    "the desert", "farmland", "immigrants", "twins", "long takes", "silent era",
    "black and white", "hand-drawn", "stop motion", "based on a novel", "true story",
    "ensemble cast", "one location", "courtroom", "prison", "hospitals", "schools",
)
ADJECTIVES = (
    "Silent", "Crimson", "Last", "Hidden", "Broken", "Golden", "Quiet", "Electric", "Distant",
    "Frozen", "Burning", "Paper", "Glass", "Midnight", "Wandering", "Velvet", "Northern",
    "Hollow", "Bright", "Forgotten", "Salt", "Iron", "Little", "Endless", "Second",
)
NOUNS = (
    "Harbour", "Orchard", "Mirror", "Lighthouse", "Garden", "Station", "River", "Letter",
    "Kingdom", "Signal", "Carnival", "Winter", "Island", "Machine", "Choir", "Frontier",
    "Hotel", "Archive", "Bridge", "Tide", "Forest", "Parade", "Window", "Orbit", "Crossing",
)
PLACES = ("Lisbon", "Warsaw", "Osaka", "the Valley", "Marseille", "the North", "Tangier", "Lagos")

# Prose vocabulary: the words a film reviewer reaches for, plus plain glue.
OPENERS = (
    "I went in expecting", "What struck me first was", "For the first half hour", "Somewhere in the middle",
    "By the final act", "On a second viewing", "Honestly", "The longer it runs", "At its best",
    "Even when it stumbles", "What I keep thinking about is", "Nobody warned me that",
)
SUBJECTS = (
    "the camera", "the score", "the lead performance", "the editing", "the script", "the ending",
    "the production design", "the supporting cast", "the cinematography", "the sound design",
    "the pacing", "the dialogue", "the costumes", "the opening shot", "the villain", "the city",
)
VERBS = (
    "lingers on", "circles around", "undercuts", "rescues", "complicates", "frames", "echoes",
    "holds back", "rushes past", "keeps returning to", "softens", "sharpens", "buries", "reveals",
)
OBJECTS = (
    "every small gesture", "the quiet between lines", "a kitchen table argument", "the long drive home",
    "an empty station platform", "the family secret", "a single red coat", "the rain on the windows",
    "a half-remembered song", "the last letter", "a crowded dance floor", "the unfinished house",
    "a face in the crowd", "the final phone call", "an old photograph", "the sound of the sea",
)
FILLER = (
    "and", "but", "so", "yet", "still", "perhaps", "almost", "never", "always", "quietly",
    "strangely", "beautifully", "clumsily", "patiently", "somehow", "finally", "really",
    "mostly", "nearly", "deliberately", "warmly", "coldly", "gently",
)
QUOTES = (
    "we were never meant to stay", "you always leave too early", "the lights go out at nine",
    "nobody remembers the second verse", "tell me where it hurts", "I'm afraid of the quiet",
    "keep the engine running", "this town forgets everything", "look at the water",
)
SHOUTS = ("NEVER", "REALLY", "LOUD", "IMAX", "VHS", "CGI", "BBC", "NASA", "ALL", "TWICE")
VERDICTS = (
    "It earns every minute.", "It is a flawed, generous film.", "I would watch it again tomorrow.",
    "It did not quite work for me.", "It is better than its reputation.", "It stays with you.",
    "Patience is rewarded.", "It is messy, and alive.", "The craft is never in doubt.",
)


@dataclass(frozen=True)
class Film:
    movie: str
    year: int
    directors: tuple[str, ...]
    slug: str


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def _person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def _director_pool(rng: random.Random, size: int = 150) -> list[str]:
    pool: list[str] = []
    while len(pool) < size:
        name = _person(rng)
        if name not in pool:
            pool.append(name)
    return pool


def _pick_director(rng: random.Random, pool: list[str]) -> str:
    # Skewed: a few directors have dozens of films, most have a handful, so
    # browse pages range from one entry to several pages.
    if rng.random() < 0.3:
        return pool[min(int(rng.paretovariate(1.1)) - 1, len(pool) - 1)]
    return pool[rng.randrange(len(pool))]


def _title(rng: random.Random) -> str:
    pattern = rng.randrange(6)
    adj, noun, other = rng.choice(ADJECTIVES), rng.choice(NOUNS), rng.choice(NOUNS)
    if pattern == 0:
        return f"The {adj} {noun}"
    if pattern == 1:
        return f"{noun} of the {other}"
    if pattern == 2:
        return f"{adj} {noun}"
    if pattern == 3:
        return f"{rng.choice(FIRST_NAMES)}'s {noun}"
    if pattern == 4:
        return f"A {noun} in {rng.choice(PLACES)}"
    return f"The {noun}: {adj} {other}"


def _sentence(rng: random.Random, cast: tuple[str, ...], movie: str) -> str:
    kind = rng.randrange(10)
    words = [rng.choice(OPENERS), rng.choice(SUBJECTS), rng.choice(VERBS), rng.choice(OBJECTS)]
    if kind == 0:
        words.append(f"— {rng.choice(FILLER)} {rng.choice(FILLER)} {rng.choice(OBJECTS)} —")
        words.append(f"{rng.choice(FILLER)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}")
    elif kind == 1:
        words.append(f"and when someone says „{rng.choice(QUOTES)}” the film {rng.choice(VERBS)} the silence after it")
    elif kind == 2:
        words.append(f"{rng.choice(FILLER)}… {rng.choice(FILLER)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}")
    elif kind == 3:
        words.append(f"and it is {rng.choice(SHOUTS)} the point")
    elif kind == 4 and cast:
        words.insert(1, f"{rng.choice(cast)} and")
    elif kind == 5:
        words[0] = f"In *{movie}*, {words[0][0].lower()}{words[0][1:]}"
    else:
        words.append(f"{rng.choice(FILLER)} {rng.choice(FILLER)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}")
    text = " ".join(words)
    return text[0].upper() + text[1:] + rng.choice((".", ".", ".", "!", "?"))


def _prose(rng: random.Random, cast: tuple[str, ...], movie: str, words: int) -> str:
    paragraphs: list[str] = []
    count = 0
    # The last paragraph overshoots the target by half a paragraph on average.
    target = rng.randint(words - 100, words)
    while count < target:
        sentences = [_sentence(rng, cast, movie) for _ in range(rng.randint(4, 7))]
        if rng.random() < 0.4:
            sentences.append(rng.choice(VERDICTS))
        paragraph = " ".join(sentences)
        count += len(paragraph.split())
        paragraphs.append(paragraph)
    return "\n\n".join(paragraphs)


def _review_date(index: int, total: int) -> dt.datetime:
    span = LAST_REVIEW - FIRST_REVIEW
    return FIRST_REVIEW + span * index / max(total - 1, 1)


def _front_matter(fields: list[tuple[str, str]]) -> str:
    return "".join(f"{name}: {value}\n" for name, value in fields)


def _review_text(rng: random.Random, film: Film, date: dt.datetime, rewatch: bool,
                 slug: str, poster: str) -> str:
    cast = tuple(dict.fromkeys(_person(rng) for _ in range(rng.randint(2, 5))))
    genres = rng.sample(GENRES, rng.randint(1, 3))
    country, language = rng.choice(COUNTRIES)
    rating = rng.choice((1, 1.5, 2, 2.5, 3, 3, 3.5, 3.5, 3.5, 4, 4, 4, 4.5, 4.5, 5))
    watched = (date - dt.timedelta(days=rng.randint(0, 20))).date()
    title = f"{film.movie} {film.year}, " + ("a rewatch" if rewatch else "online movie review")
    summary = (f"{rng.choice(OPENERS)} {rng.choice(SUBJECTS)} {rng.choice(VERBS)} "
               f"{rng.choice(OBJECTS)} — {rng.choice(VERDICTS).lower()}")
    fields = [
        ("Title", title),
        ("Date", date.strftime("%Y-%m-%d %H:%M")),
        ("Slug", slug),
        ("Movie", film.movie),
        ("Year", str(film.year)),
        ("Director", ", ".join(film.directors)),
        ("Cast", ", ".join(cast)),
        ("Genre", ", ".join(genres)),
        ("Runtime", str(rng.randint(72, 190))),
        ("Country", country),
        ("Language", language),
        ("Rating", f"{rating:g}"),
        ("Poster", poster),
        ("Watched", watched.isoformat()),
        ("Rewatch", "yes" if rewatch else "no"),
        ("IMDb", f"tt{rng.randint(100000, 99999999):07d}"),
        ("TMDB", str(rng.randint(10, 999999))),
        ("Tags", ", ".join(rng.sample(TAGS, rng.randint(2, 4)))),
        ("Summary", summary),
    ]
    return _front_matter(fields) + "\n" + _prose(rng, cast, film.movie, WORDS_PER_REVIEW) + "\n"


def _new_film(rng: random.Random, pool: list[str], taken: set[str], latest_year: int) -> Film:
    """A film not reviewed before, released no later than the review is written."""
    while True:
        movie, year = _title(rng), rng.randint(1925, latest_year)
        slug = f"{slugify(movie)}-{year}"
        if slug not in taken:
            break
    taken.add(slug)
    directors = [_pick_director(rng, pool)]
    if rng.random() < 0.08:
        directors.append(rng.choice(pool))
    return Film(movie, year, tuple(dict.fromkeys(directors)), slug)


def _poster_bytes(film: Film) -> bytes:
    try:
        from blogtools.sample_posters import draw_poster
    except ImportError:
        draw_poster = None
    if draw_poster is not None:
        image = draw_poster(film.movie, film.year, ", ".join(film.directors),
                            size=POSTER_SIZE, seed=film.slug)
    else:
        image = _plain_poster(film)
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", **POSTER_JPEG)
    return buffer.getvalue()


def _plain_poster(film: Film):
    """A stand-in when the sample poster drawer is not available: a two-tone field."""
    from PIL import Image, ImageDraw

    rng = random.Random(film.slug)
    top = tuple(rng.randrange(40, 230) for _ in range(3))
    bottom = tuple(c // 4 for c in top)
    mask = Image.linear_gradient("L").resize(POSTER_SIZE)
    image = Image.composite(Image.new("RGB", POSTER_SIZE, bottom), Image.new("RGB", POSTER_SIZE, top), mask)
    draw = ImageDraw.Draw(image)
    width, height = POSTER_SIZE
    draw.rectangle((24, height // 2, width - 24, height // 2 + 8), fill=(255, 255, 255))
    return image


ABOUT_PAGE = """Title: About
Slug: about

A benchmark corpus: every review here is made up by a seeded generator.
"""
# The site's own robots.txt template, so the corpus builds it the same way.
ROBOTS = Path(__file__).resolve().parent.parent / "content" / "extra" / "robots.txt"


def generate_corpus(dest: str | Path, reviews: int = DEFAULT_REVIEWS, seed: str = DEFAULT_SEED,
                    posters: bool = True) -> list[Path]:
    """Write a Pelican content folder with `reviews` reviews into `dest`; return the review files.

    About REWATCH_SHARE of the reviews revisit an earlier film (same Movie, Year
    and Poster, Rewatch: yes), so rewatch links are exercised too.
    """
    if reviews < 1:
        raise ValueError(f"reviews: {reviews!r}: expected a whole number of at least 1")
    dest = Path(dest)
    rng = random.Random(seed)
    pool = _director_pool(rng)
    rewatches = int(reviews * REWATCH_SHARE) if reviews >= 20 else 0
    # Which review slots revisit a film: chosen up front so order is fixed.
    rewatch_slots = set(rng.sample(range(reviews // 2, reviews), rewatches)) if rewatches else set()

    for folder in ("reviews", "images/posters", "pages", "extra", "linkbacks"):
        (dest / folder).mkdir(parents=True, exist_ok=True)
    (dest / "pages" / "about.md").write_text(ABOUT_PAGE, encoding="utf-8")
    (dest / "extra" / "robots.txt").write_bytes(ROBOTS.read_bytes())

    written: list[Path] = []
    taken: set[str] = set()
    seen: list[Film] = []
    rewatch_counts: dict[str, int] = {}
    for index in range(reviews):
        date = _review_date(index, reviews)
        if index in rewatch_slots:
            film = rng.choice(seen)
            rewatch_counts[film.slug] = rewatch_counts.get(film.slug, 1) + 1
            slug, rewatch = f"{film.slug}-rewatch-{rewatch_counts[film.slug]}", True
        else:
            film = _new_film(rng, pool, taken, date.year)
            seen.append(film)
            slug, rewatch = film.slug, False
        poster = f"images/posters/{film.slug}.jpg"
        text = _review_text(rng, film, date, rewatch, slug, poster)
        path = dest / "reviews" / f"{slug}.md"
        path.write_text(text, encoding="utf-8")
        written.append(path)
        if posters and not rewatch:
            (dest / poster).write_bytes(_poster_bytes(film))
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Write a synthetic, seeded review corpus.")
    parser.add_argument("dest", help="content folder to create")
    parser.add_argument("--reviews", type=int, default=DEFAULT_REVIEWS,
                        help="number of reviews (default: %(default)s)")
    parser.add_argument("--seed", default=DEFAULT_SEED, help="seed (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.reviews < 1:
        parser.error(f"--reviews {args.reviews}: expected a whole number of at least 1")
    started = time.perf_counter()
    written = generate_corpus(args.dest, args.reviews, args.seed)
    print(f"{len(written)} reviews written to {args.dest} in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
