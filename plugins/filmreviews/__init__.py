"""Film reviews for Pelican: validated film records, poster cards, browse pages,
structured data, feeds and linkbacks. `register` is the whole public surface."""

from .plugin import register

__all__ = ["register"]
