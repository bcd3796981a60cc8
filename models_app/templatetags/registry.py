from django import template

register = template.Library()


@register.filter
def get_item(mapping, key):
    """mapping[key] in a template, or None."""
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.filter
def pyrepr(value):
    """A value as Python source, for copyable snippets."""
    return repr(value)
