"""Bringing an existing blog over: `invoke import.wordpress` and `invoke import.letterboxd`.

One module per concern:

* `wxr` -- the WordPress export read as a safe stream of items;
* `phpdata` -- PHP-serialized post meta (attachment sizes);
* `wp_content` -- WordPress bodies and comments to Markdown;
* `titles` -- the film and year from a post title, a director from its text;
* `mapping` -- categories and tags to Genre and Tags (default_map.toml, --map);
* `images` -- posters and pictures from the uploads folder, checked, or drawn;
* `responses` -- comments, pingbacks and trackbacks to response records;
* `writer` -- staging, the manifest, and the rules that make a re-run safe;
* `report` -- what the writer reads at the end;
* `site` -- the one place the rest of the project's code is imported from;
* `wordpress`, `letterboxd` -- the two imports, start to end.

A bad input raises `ImportFailed` with a one-line message, and content/ is
left exactly as it was.
"""

from .errors import ImportFailed

__all__ = ["ImportFailed"]
