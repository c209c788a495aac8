"""Wires the plugin into Pelican: the whole life cycle in one list."""

from pelican import signals

from . import browse, catalog, feeds, structured_data
from . import posters
from . import search
from .linkbacks import listing as linkbacks


def register():
    signals.readers_init.connect(catalog.guard_metadata)
    signals.content_object_init.connect(catalog.attach_review)
    # Before article_generator_finalized, so handlers there can read article.poster.
    signals.article_generator_pretaxonomy.connect(posters.attach_posters)
    signals.article_writer_finalized.connect(posters.write_posters)
    signals.article_generator_finalized.connect(catalog.link_rewatches)
    signals.article_generator_finalized.connect(linkbacks.attach_linkbacks)
    signals.article_writer_finalized.connect(catalog.write_reviews_index)
    signals.get_generators.connect(browse.get_generators)
    signals.generator_init.connect(structured_data.add_template_helpers)
    signals.article_generator_write_article.connect(structured_data.attach_structured_data)
    signals.get_writer.connect(feeds.provide_writer)
    signals.article_writer_finalized.connect(feeds.write_genre_feeds)
    # Last: Pagefind indexes the finished output.
    signals.finalized.connect(search.index_site)
