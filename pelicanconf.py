"""Settings for the local preview (`invoke build`, `invoke livereload`).

Read top to bottom: who writes, where content lives, how URLs look, what gets
generated, and how it is rendered. `publishconf.py` overrides only what
production needs.
"""

# --- The site and its author ------------------------------------------------
AUTHOR = "Marta Kowalczyk"
SITENAME = "Reel Notes"
SITESUBTITLE = "Film reviews, one poster at a time"
SITEURL = ""  # empty for the preview: every link is relative
RELATIVE_URLS = True
DEFAULT_LANG = "en"
TIMEZONE = "Europe/Warsaw"  # explicit, so dates never depend on the machine
DEFAULT_DATE_FORMAT = "%-d %B %Y"

# --- Where content lives -----------------------------------------------------
PATH = "content"
ARTICLE_PATHS = ["reviews"]  # every article is a film review
PAGE_PATHS = ["pages"]
STATIC_PATHS = ["images"]
# Pelican renders robots.txt as a template so it can name the sitemap URL.
TEMPLATE_PAGES = {"extra/robots.txt": "robots.txt"}
# Approved trackbacks, pingbacks and webmentions (one JSON file per review).
FILMREVIEWS_LINKBACKS_PATH = "linkbacks"
# Old addresses (old,new per line) the build keeps working: redirect pages,
# _redirects, redirects.nginx.conf and .htaccess. invoke import.wordpress fills it.
FILMREVIEWS_REDIRECTS = "redirects.csv"

# --- What is published --------------------------------------------------------
WITH_FUTURE_DATES = False  # a review dated in the future waits for its day
DRAFT_SAVE_AS = ""  # drafts are never written, not even to /drafts/
DRAFT_PAGE_SAVE_AS = ""
DEFAULT_CATEGORY = "Reviews"
# Given explicitly: with category pages off, Pelican would leave drafts without one.
DEFAULT_METADATA = {"category": "Reviews"}
CATEGORY_SAVE_AS = ""  # films are browsed by genre, director and year instead
CATEGORIES_SAVE_AS = ""
DIRECT_TEMPLATES = ["index", "archives", "tags", "authors", "search"]

# --- URLs: clean, folder-style ------------------------------------------------
ARTICLE_URL = "reviews/{slug}/"
ARTICLE_SAVE_AS = "reviews/{slug}/index.html"
PAGE_URL = "{slug}/"
PAGE_SAVE_AS = "{slug}/index.html"
TAG_URL = "tags/{slug}/"
TAG_SAVE_AS = "tags/{slug}/index.html"
TAGS_SAVE_AS = "tags/index.html"
AUTHOR_URL = "authors/{slug}/"
AUTHOR_SAVE_AS = "authors/{slug}/index.html"
AUTHORS_SAVE_AS = "authors/index.html"
ARCHIVES_SAVE_AS = "archives/index.html"
YEAR_ARCHIVE_URL = "archives/{date:%Y}/"
YEAR_ARCHIVE_SAVE_AS = "archives/{date:%Y}/index.html"
SEARCH_SAVE_AS = "search/index.html"

# --- Lists ----------------------------------------------------------------------
DEFAULT_PAGINATION = 12
PAGINATION_PATTERNS = (
    (1, "{url}", "{save_as}"),
    (2, "{base_name}/page/{number}/", "{base_name}/page/{number}/index.html"),
)

# --- Feeds ------------------------------------------------------------------------
# Feeds need absolute links even in the preview, or readers cannot resolve them.
FEED_DOMAIN = "http://localhost:8000"
FEED_ALL_ATOM = "feeds/all.atom.xml"
FEED_ALL_RSS = "feeds/all.rss.xml"
FEED_ATOM = None
FEED_RSS = None
CATEGORY_FEED_ATOM = None
CATEGORY_FEED_RSS = None
AUTHOR_FEED_ATOM = None
AUTHOR_FEED_RSS = None
TAG_FEED_ATOM = None
TAG_FEED_RSS = None
TRANSLATION_FEED_ATOM = None
TRANSLATION_FEED_RSS = None
RSS_FEED_SUMMARY_ONLY = False  # subscribers get the whole review
FEED_MAX_ITEMS = 50
# One Atom and one RSS feed per genre ({slug} as on the genre's browse page);
# entries are built by plugins/filmreviews/feeds.py for these and the feeds above.
FILMREVIEWS_GENRE_FEED_ATOM = "feeds/genres/{slug}.atom.xml"
FILMREVIEWS_GENRE_FEED_RSS = "feeds/genres/{slug}.rss.xml"

# --- Rendering ----------------------------------------------------------------------
THEME = "theme"
# Templates escape every value they print. What really is HTML says so: the
# plugin builds its markup as markupsafe.Markup, and the theme prints Pelican's
# rendered content, summaries and titles with |safe. The other keys are
# Pelican's defaults, spelled out so this dict reads complete.
JINJA_ENVIRONMENT = {
    "autoescape": True,
    "trim_blocks": True,
    "lstrip_blocks": True,
    "extensions": [],
}
TYPOGRIFY = True  # curly quotes, dashes, ellipses, widows, small caps
# Poster derivatives in AVIF and WebP at these widths, never wider than the
# source; encoded once into the cache folder (relative to the project root, gitignored).
FILMREVIEWS_POSTER_WIDTHS = [185, 342, 500, 780]
# The JPEG fallback (old browsers' <img>, feeds, structured data): one width.
# Every browser that reads srcset also shows WebP, so more widths would only
# be encoded and uploaded, never fetched.
FILMREVIEWS_POSTER_JPEG_WIDTHS = [500]
FILMREVIEWS_POSTER_CACHE = "cache/posters"
MARKDOWN = {
    "extension_configs": {
        "markdown.extensions.extra": {},
        "markdown.extensions.meta": {},
    },
    "output_format": "html5",
}

# --- Plugins ------------------------------------------------------------------------
PLUGIN_PATHS = ["plugins"]
PLUGINS = ["sitemap", "filmreviews"]
# Full-text search: Pagefind indexes the review pages after every build
# (plugins/filmreviews/search.py). False skips it; the search page then points
# readers to the browse pages.
FILMREVIEWS_SEARCH = True

SITEMAP = {
    "format": "xml",
    # Only real pages: no feeds, data files, robots.txt or pages 2..n of lists.
    "exclude": [r"\.(xml|txt|json)$", r"(^|/)page/\d+/"],
    "priorities": {"articles": 0.8, "indexes": 0.5, "pages": 0.3},
    "changefreqs": {"articles": "monthly", "indexes": "daily", "pages": "monthly"},
}

# --- Linkbacks receiver (empty: the site advertises no endpoints) ------------------
FILMREVIEWS_LINKBACKS_ENDPOINT = ""
