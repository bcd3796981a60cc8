"""Markdown for descriptions and model cards, rendered safe.

markdown-it-py parses with raw HTML off (HTML in the text shows as text), then nh3 (the
Rust ammonia sanitiser) keeps only an allow-list of tags and attributes and only http(s),
mailto and relative links. Two layers: a parser bug alone cannot run a script.
"""

from __future__ import annotations

import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

# Longer text is cut before parsing; the form and API refuse longer input anyway.
RENDER_MAX_LENGTH = 20_000

_ALLOWED_TAGS = {
    *("p", "br", "hr", "strong", "em", "del", "code", "pre", "blockquote"),
    *("ul", "ol", "li", "a", "h1", "h2", "h3", "h4", "h5", "h6"),
    *("table", "thead", "tbody", "tr", "th", "td"),
}
_ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "code": {"class"}}

_parser = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_parser.enable(["table", "strikethrough"])


def markdown_html(text: str | None) -> SafeString:
    """Sanitised HTML for Markdown `text` (empty for none)."""
    if not text:
        return mark_safe("")
    rendered = _parser.render(text[:RENDER_MAX_LENGTH])
    clean = nh3.clean(
        rendered,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
    return mark_safe(clean)  # sanitised by nh3 just above
