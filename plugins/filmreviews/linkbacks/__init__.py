"""Linkbacks for the film reviews: TrackBack 1.2, Pingback 1.0 and Webmention.

The pieces, in the order a linkback travels through them:

* ``receiver`` / ``server`` -- a plain WSGI service accepting the three
  protocols; every source is fetched (``fetch``, global addresses only) and
  checked to link to the review (``verify``) before it is stored as pending.
* ``store`` -- the SQLite database of received linkbacks and their status.
* ``moderation`` -- approve / reject / spam, ``export`` of the approved ones
  into ``content/linkbacks/<slug>.json`` and ``reverify``.
* ``records`` -- the ``Linkback`` record, the data-file format, the loader the
  Pelican plugin calls (``load_linkbacks``) and the TrackBack RDF helper.
* ``sender`` -- sends linkbacks for the external links of published reviews.
* ``targets`` -- URL checks and comparison, and ``reviews.json`` (the
  reviews that accept linkbacks).
* ``cli`` -- thin functions for the invoke tasks.
* ``wsgi`` -- the receiver as a WSGI ``application`` configured by
  environment variables, for a production server behind a proxy.
"""
