"""Wires the plugin into Pelican: the whole life cycle in one list, in the order
Pelican runs it. Handlers on the same signal must not depend on each other:
blinker does not promise an order among them."""

from pelican import signals

from . import browse, catalog, feeds, linkbacks, posters, redirects, search, stats, structured_data


def register():
    # Reading: one validated Review per article, clear errors for bad front matter,
    # summaries read as text.
    signals.readers_init.connect(catalog.guard_metadata)
    signals.readers_init.connect(catalog.summaries_as_text)
    signals.content_object_init.connect(catalog.attach_review)
    # Before the articles are final, so every later handler can read article.poster.
    signals.article_generator_pretaxonomy.connect(posters.attach_posters)
    # All reviews known: rewatches, responses, browse and stats pages, previous/next/related.
    signals.article_generator_finalized.connect(catalog.link_rewatches)
    signals.article_generator_finalized.connect(linkbacks.attach_linkbacks)
    signals.get_generators.connect(browse.get_generators)
    signals.get_generators.connect(stats.get_generators)
    signals.static_generator_finalized.connect(catalog.drop_unpublished_posters)
    signals.all_generators_finalized.connect(redirects.remember_drafts)
    # Writing: head metadata per page, feeds, derivatives, the reviews index.
    signals.generator_init.connect(structured_data.add_template_helpers)
    signals.article_generator_write_article.connect(structured_data.attach_structured_data)
    signals.get_writer.connect(feeds.provide_writer)
    signals.article_writer_finalized.connect(feeds.write_genre_feeds)
    signals.article_writer_finalized.connect(feeds.write_responses_feeds)
    signals.article_writer_finalized.connect(posters.write_posters)
    signals.article_writer_finalized.connect(catalog.write_reviews_index)
    # Last: old addresses from content/redirects.csv, and Pagefind over the finished output.
    signals.finalized.connect(redirects.write_redirects)
    signals.finalized.connect(search.index_site)
