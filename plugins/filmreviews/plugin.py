"""Wires the plugin into Pelican: the whole life cycle in one list."""

from pelican import signals

from . import catalog


def register():
    signals.content_object_init.connect(catalog.attach_review)
    signals.article_generator_finalized.connect(catalog.link_rewatches)
    signals.article_writer_finalized.connect(catalog.write_reviews_index)
