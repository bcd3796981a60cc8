"""The REST framework's JSON parser, within the input limits."""

from django.conf import settings
from rest_framework import parsers

from models_app.validation import check_depth, too_deep

# A body wraps the objects that the services check (a version in a list in a body object).
ENVELOPE_DEPTH = 3


class JSONParser(parsers.JSONParser):
    """JSON nested deeper than MODEL_REGISTRY_MAX_DEPTH is refused. json's own recursion guard
    stops a body nested thousands deep (a RecursionError, which would answer 500); a walk
    without recursion measures the rest."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise too_deep("body")
        check_depth(
            data, field="body", max_depth=settings.MODEL_REGISTRY_MAX_DEPTH + ENVELOPE_DEPTH
        )
        return data
