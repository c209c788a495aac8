"""Wires the plugin into Pelican: the whole life cycle in one list, in the order
Pelican runs it. Handlers on the same signal must not depend on each other:
blinker does not promise an order among them."""

from pelican import signals

from . import (
    browse,
    catalog,
    content_cache,
    feeds,
    fragments,
    linkbacks,
    output,
    posters,
    progress,
    redirects,
    search,
    stats,
    structured_data,
)


def register():
    # Reading: one validated Review per article, clear errors for bad front matter,
    # summaries read as text; an unchanged source's reading comes from the cache.
    signals.initialized.connect(content_cache.start)
    signals.readers_init.connect(content_cache.cache_readers)
    signals.article_generator_init.connect(content_cache.read_ahead)
    signals.readers_init.connect(catalog.guard_metadata)
    signals.readers_init.connect(catalog.summaries_as_text)
    signals.content_object_init.connect(catalog.attach_review)
    # Posters: encoding starts as each review is read and goes on in worker
    # processes; every review has its article.poster before the articles are
    # final; the files are placed once everything else is written.
    signals.initialized.connect(posters.start)
    catalog.review_attached.connect(posters.request_early)
    signals.article_generator_pretaxonomy.connect(posters.attach_posters)
    # All reviews known: rewatches, responses, browse and stats pages, previous/next/related.
    signals.article_generator_finalized.connect(catalog.link_rewatches)
    signals.article_generator_finalized.connect(linkbacks.attach_linkbacks)
    signals.get_generators.connect(browse.get_generators)
    signals.get_generators.connect(stats.get_generators)
    signals.static_generator_finalized.connect(catalog.drop_unpublished_posters)
    signals.static_generator_finalized.connect(output.keep_unchanged_static)
    signals.all_generators_finalized.connect(content_cache.save)
    signals.all_generators_finalized.connect(catalog.pin_urls)
    signals.all_generators_finalized.connect(redirects.remember_drafts)
    # Writing: head metadata per page, feeds, the reviews index.
    signals.generator_init.connect(structured_data.add_template_helpers)
    signals.generator_init.connect(fragments.prepare_templates)
    # Cards rendered once per build: never from a previous build or half-read data.
    signals.initialized.connect(fragments.forget)
    signals.all_generators_finalized.connect(fragments.forget)
    signals.article_generator_write_article.connect(structured_data.attach_structured_data)
    signals.get_writer.connect(feeds.provide_writer)
    signals.article_writer_finalized.connect(feeds.write_genre_feeds)
    signals.article_writer_finalized.connect(feeds.write_responses_feeds)
    signals.article_writer_finalized.connect(catalog.write_reviews_index)
    # Search: Pagefind starts before the first page is written and indexes each
    # page as it is written; the bundle is written once the review pages are out.
    signals.all_generators_finalized.connect(search.start_index)
    signals.content_written.connect(search.page_written)
    output.written_elsewhere.connect(search.pages_written_elsewhere)
    # Pages are rendered by two processes when the build asks for it (output.py).
    signals.initialized.connect(output.start)
    signals.article_writer_finalized.connect(search.review_pages_written)
    # Last: old addresses from content/redirects.csv, the search bundle, posters placed.
    signals.finalized.connect(redirects.write_redirects)
    signals.finalized.connect(search.finish_index)
    signals.finalized.connect(posters.finish_posters)
    signals.finalized.connect(fragments.forget)
    signals.finalized.connect(content_cache.finish)
    # What a long build is doing (shown by blogtools.progress).
    signals.initialized.connect(progress.reading)
    signals.article_generator_finalized.connect(progress.read)
    signals.all_generators_finalized.connect(progress.writing)
    signals.article_writer_finalized.connect(progress.reviews_written)
