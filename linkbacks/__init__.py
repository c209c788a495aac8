"""The linkbacks service: TrackBack 1.2, Pingback 1.0 and Webmention for the
film reviews, received, moderated and sent, and readers' replies left with
the review pages' form -- apart from the site builder.

It never imports Pelican, the filmreviews plugin or Pillow: a WSGI worker
loads only this package, the standard library, ``reelnotes`` and the few
libraries it parses with (defusedxml, BeautifulSoup, mf2py). What it shares
with the build is data, whose format is ``reelnotes.contract``: it reads the
build's ``reviews.json`` and writes the approved-records files the build reads.

The pieces, in the order a linkback travels through them:

* ``app`` -- the WSGI receiver: routing, and what the three protocols share
  (store, fetcher, reviews index, rate limits, queue);
  ``protocols.trackback`` / ``protocols.pingback`` / ``protocols.webmention``
  -- one module per protocol, and ``protocols.reply`` -- readers' replies
  (form, preview, send), answered with ``pages`` in the site's look and
  signed with ``secret`` (LINKBACKS_SECRET); ``web`` -- request bodies,
  forms and responses;
  ``xmlrpc_codec`` -- Pingback's XML-RPC; ``limits`` -- rate limiting;
  ``workers`` -- the queue of webmentions waiting for verification.
* ``fetch`` -- fetching sources (public addresses only) and ``verify`` --
  does the source link to the review, and what does it say.
* ``store`` -- the database of received linkbacks and their status, and
  the outbox of e-mail notices: an SQLite file, or PostgreSQL shared by
  several instances (``database``: what differs between the two);
  ``notices`` -- sending the notices.
* ``moderation`` -- approve / reject / spam, ``export`` of the approved ones
  into ``content/linkbacks/<slug>.json`` and ``reverify``; ``queue`` -- the
  moderation queue as JSON data; ``listing`` -- how it is shown in a
  terminal; ``remote`` -- the queue on the web server, over SSH;
  ``replies`` -- answering as the author, and forgetting a person.
* ``sender`` -- sends linkbacks for the external links of published reviews.
* ``targets`` -- URL comparison, and the reviews that accept linkbacks.
* ``server`` -- the receiver in a threaded ``wsgiref`` server;
  ``cli`` -- thin functions for the invoke tasks, and ``python -m
  linkbacks.cli``, the moderation commands the tasks run on the server;
  ``wsgi`` -- the receiver as a WSGI ``application`` configured by
  environment variables, for a production server behind a proxy.
"""
