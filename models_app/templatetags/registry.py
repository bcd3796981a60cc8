import json

from django import template
from django.http import QueryDict

from models_app.rendering import markdown_html
from models_app.validation import redact_uri as _redact_uri

register = template.Library()


@register.filter
def get_item(mapping, key):
    """mapping[key] in a template, or None."""
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.filter
def pyrepr(value):
    """A value as Python source, for copyable snippets."""
    return repr(value)


@register.filter
def redact_uri(value):
    """A URI without its user-info: credentials are never shown."""
    return _redact_uri(value)


@register.filter
def markdown(value):
    """Markdown rendered to sanitised HTML (no raw HTML, no script, only safe links)."""
    return markdown_html(value)


@register.filter
def query_pairs(query: str, leave_out: str = "page,per_page"):
    """(key, value) of a query string without the keys in `leave_out`, for hidden inputs."""
    dropped = set(leave_out.split(","))
    return [
        (key, value)
        for key, values in QueryDict(query or "").lists()
        if key not in dropped
        for value in values
    ]


@register.filter
def audit_value(value):
    """One before/after value of the audit log, short: "—" for nothing, JSON otherwise."""
    if value is None:
        return "—"
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= 200 else text[:199] + "…"
