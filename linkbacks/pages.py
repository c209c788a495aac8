"""The receiver's HTML pages, in the site's look: the Leave a Reply form, the
preview, the thank-you page and the refusals.

The receiver loads neither Pelican nor Jinja, so pages are string templates
filled with ``markupsafe``: every value is escaped unless it is ``Markup``
built here (or the reply's HTML from ``reelnotes.reply_text.render_reply``,
which is sanitised). The stylesheet is the live site's own
(``<site>/theme/css/site.css``) and the header repeats the site's, so a
reader stays on "the same site". No script runs on these pages: the Content
Security Policy allows styles and images from the site and nothing else.

A reply in the preview is the same markup as an approved reply in the
review page's Responses list (``theme/templates/partials/linkbacks.html``):
``response_item`` is its twin, and a test holds them together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from markupsafe import Markup

from reelnotes.contract import AUTHOR_MAX, TEXT_MAX

# Limits the receiver enforces; the form says them up front.
WEBSITE_MAX = 300
EMAIL_MAX = 254
LINKS_MAX = 3
HONEYPOT = "homepage"  # a field people never see; bots fill it in

PAGE = Markup("""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="robots" content="noindex">
<title>{title} · {site_name}</title>
<link rel="stylesheet" href="{site_url}/theme/css/site.css">
<link rel="icon" href="{site_url}/theme/img/favicon.svg" type="image/svg+xml">
</head>
<body>
<a class="skip-link" href="#main">Skip to content</a>
<header class="site-header">
  <p class="site-brand"><a class="site-title" href="{site_url}/">{site_name}</a></p>
</header>
<main id="main" tabindex="-1" class="reply-page">
{body}
</main>
</body>
</html>
""")

NOTE = Markup(
    '<p class="reply-note">You see a preview first. After you press Send, your reply waits until the '
    "writer approves it; then it appears under the review. Stored: your name, website and reply, the "
    "time, and a keyed hash of your network address to stop floods &mdash; never the address itself. "
    "An e-mail address, if you give one, is only used to tell you once that your reply is online; it is "
    "never shown or published.</p>"
)


@dataclass(frozen=True)
class Site:
    """What the pages need to look like the site."""

    url: str  # absolute, no trailing slash; "" when unknown (the stylesheet is then missing)
    name: str

    @property
    def origin(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


@dataclass(frozen=True)
class ReplyFields:
    """A reply as the reader typed it (or as the preview carries it on)."""

    name: str = ""
    website: str = ""
    email: str = ""
    text: str = ""
    parent: str = ""  # the record id of the response it answers, or ""


def content_security_policy(site: Site) -> str:
    source = site.origin or "'self'"
    return (f"default-src 'none'; style-src {source}; img-src {source}; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'")


def page(site: Site, status: str, title: str, body: Markup, extra_headers=()):
    """A whole page as (status, headers, body bytes)."""
    html = PAGE.format(title=title, site_name=site.name, site_url=site.url.rstrip("/"), body=body)
    headers = [("Content-Type", "text/html; charset=utf-8"),
               ("Content-Security-Policy", content_security_policy(site)), *extra_headers]
    return status, headers, str(html).encode("utf-8")


# --- Pieces ---------------------------------------------------------------------


def response_item(*, name: str, link: str | None, when: datetime, body_html: str, by_author: bool = False,
                  item_id: str = "reply-preview") -> Markup:
    """One reply as the review page lists it (see the module docstring)."""
    name_markup = (Markup('<a class="linkback-title" href="{}" rel="nofollow ugc">{}</a>').format(link, name)
                   if link else Markup('<span class="linkback-title">{}</span>').format(name))
    badge = Markup(' <span class="badge linkback-author-badge">Author</span>') if by_author else Markup("")
    return Markup(
        '<li class="linkback linkback-reply{author_class}" id="linkback-{item_id}">\n'
        '      <span class="linkback-kind">Reply</span>\n'
        "      {name}{badge}\n"
        '      <time datetime="{iso}">{label}</time>\n'
        '      <div class="reply-text">{body}</div>\n'
        "    </li>"
    ).format(author_class=" linkback-by-author" if by_author else "", item_id=item_id, name=name_markup,
             badge=badge, iso=when.isoformat(), label=f"{when.day} {when:%B %Y}", body=Markup(body_html))


def _hidden(name: str, value: str) -> Markup:
    return Markup('<input type="hidden" name="{}" value="{}">').format(name, value)


def reply_form(action: str, fields: ReplyFields, *, heading: str = "Leave a Reply",
               button: str = "Preview") -> Markup:
    """The editable form: the same fields, names and limits as the form on
    the review page (theme/templates/partials/reply_form.html)."""
    parent = _hidden("parent", fields.parent) if fields.parent else Markup("")
    return Markup("""<form class="reply-form" method="post" action="{action}">
  <h2 id="reply-form-heading">{heading}</h2>
  {parent}
  <p class="reply-field"><label for="reply-name">Name</label>
    <input id="reply-name" name="name" required maxlength="{name_max}" autocomplete="name" value="{name}"></p>
  <p class="reply-field"><label for="reply-website">Website <span class="reply-optional">(optional)</span></label>
    <input id="reply-website" name="website" inputmode="url" maxlength="{website_max}" autocomplete="url"
      value="{website}"></p>
  <p class="reply-field"><label for="reply-email">E-mail <span class="reply-optional">(optional, never shown:
    one notice when your reply is online)</span></label>
    <input id="reply-email" name="email" type="email" maxlength="{email_max}" autocomplete="email"
      value="{email}"></p>
  <p class="reply-field"><label for="reply-text">Reply</label>
    <textarea id="reply-text" name="text" required rows="7" maxlength="{text_max}"
      aria-describedby="reply-text-help">{text}</textarea>
    <span class="reply-help" id="reply-text-help">Plain text; *emphasis*, **strong** and
      [links](https://example.org) work, at most {links_max} links.</span></p>
  <div class="reply-trap" aria-hidden="true"><label for="reply-{honeypot}">Leave this field empty</label>
    <input id="reply-{honeypot}" name="{honeypot}" tabindex="-1" autocomplete="off"></div>
  <p><button class="reply-button" type="submit" name="step" value="preview">{button}</button></p>
  {note}
</form>""").format(action=action, heading=heading, parent=parent, name=fields.name, website=fields.website,
                   email=fields.email, text=fields.text, name_max=AUTHOR_MAX, website_max=WEBSITE_MAX,
                   email_max=EMAIL_MAX, text_max=TEXT_MAX, links_max=LINKS_MAX, honeypot=HONEYPOT,
                   button=button, note=NOTE)


def send_form(action: str, fields: ReplyFields, token: str) -> Markup:
    """The "Send" button: the previewed fields and the signed time token, hidden."""
    hidden = Markup("\n  ").join(
        _hidden(name, value) for name, value in (
            ("name", fields.name), ("website", fields.website), ("email", fields.email),
            ("text", fields.text), ("parent", fields.parent), ("token", token)))
    return Markup("""<form class="reply-send" method="post" action="{action}">
  {hidden}
  <p><button class="reply-button" type="submit" name="step" value="send">Send</button></p>
</form>""").format(action=action, hidden=hidden)


def _review_link(review_url: str, review_title: str) -> Markup:
    return Markup('<a href="{}#responses">{}</a>').format(review_url, review_title)


def _problems(problems) -> Markup:
    if not problems:
        return Markup("")
    items = Markup("").join(Markup("<li>{}</li>").format(p) for p in problems)
    return Markup('<div class="reply-problems" role="alert"><p>Please fix this first:</p><ul>{}</ul></div>'
                  ).format(items)


def _replying_to(parent_name: str | None) -> Markup:
    if not parent_name:
        return Markup("")
    return Markup('<p class="reply-context">In reply to {}.</p>').format(parent_name)


# --- Pages ------------------------------------------------------------------------------


def form_page(site: Site, action: str, review_title: str, review_url: str, fields: ReplyFields, *,
              parent_name: str | None = None, problems=(), status: str = "200 OK"):
    """The form on its own page: for "Reply" links and for fixing a refused reply."""
    body = Markup("""<h1>Reply to the review of {title}</h1>
<p>Back to {link}.</p>
{replying}{problems}{form}""").format(title=review_title, link=_review_link(review_url, review_title),
                                      replying=_replying_to(parent_name), problems=_problems(problems),
                                      form=reply_form(action, fields))
    return page(site, status, f"Reply to {review_title}", body)


def preview_page(site: Site, action: str, review_title: str, review_url: str, fields: ReplyFields, *,
                 body_html: str, link: str | None, when: datetime, token: str,
                 parent_name: str | None = None):
    body = Markup("""<h1>Preview your reply</h1>
<p>This is how your reply to {link} will appear once the writer approves it.</p>
{replying}<section class="linkbacks reply-preview" aria-labelledby="reply-preview-heading">
  <h2 id="reply-preview-heading">Your reply</h2>
  <ol class="linkback-list">
    {item}
  </ol>
</section>
{send}
{form}""").format(link=_review_link(review_url, review_title), replying=_replying_to(parent_name),
                  item=response_item(name=fields.name, link=link, when=when, body_html=body_html),
                  send=send_form(action, fields, token),
                  form=reply_form(action, fields, heading="Change it", button="Preview again"))
    return page(site, "200 OK", "Preview your reply", body)


def thanks_page(site: Site, review_title: str, review_url: str):
    body = Markup("""<h1>Thanks &mdash; your reply is waiting for approval</h1>
<p>The writer reads every reply before it appears. Once approved, yours will be listed under the
review of {title}.</p>
<p><a class="reply-back" href="{url}#responses">Back to the review of {title}</a></p>""").format(
        title=review_title, url=review_url)
    return page(site, "200 OK", "Thanks for your reply", body)


def refusal_page(site: Site, status: str, heading: str, reason: str, *, review_title: str = "",
                 review_url: str = "", form: Markup | None = None, extra_headers=()):
    """A reply that cannot be taken, saying why (and, where it helps, the
    form to try again); never anything from a stack trace."""
    back = (Markup("<p>Back to {}.</p>").format(_review_link(review_url, review_title))
            if review_url else Markup('<p><a href="{}/">Back to the site</a>.</p>').format(site.url))
    body = Markup("""<h1>{heading}</h1>
<p class="reply-refusal">{reason}</p>
{back}
{form}""").format(heading=heading, reason=reason, back=back, form=form or Markup(""))
    return page(site, status, heading, body, extra_headers)
