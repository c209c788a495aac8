"""The three ways another blog tells this one it linked to a review, one
module each: ``trackback`` (TrackBack 1.2), ``pingback`` (Pingback 1.0 over
XML-RPC) and ``webmention`` (W3C Webmention, verified in the background).

Each handler takes the receiver (``linkbacks.app.LinkbackApp``: its store,
fetcher, reviews index, rate limiters and queue) and the WSGI environ, and
returns ``(status, headers, body)``. Every source is fetched and must link to
the review before anything is stored, as ``pending``.
"""
