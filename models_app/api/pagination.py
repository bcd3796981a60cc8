from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
# How many matches of a search are read once, as ordered keys (see SearchPagination).
MATCHES_READ_ONCE = 1000


class Pagination(PageNumberPagination):
    """`?page=N&page_size=M`; a page size over the maximum is capped, and the body says so."""

    page_size = DEFAULT_PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def get_paginated_response(self, data):
        return Response(
            {
                "count": self.page.paginator.count,
                "page_size": self.page.paginator.per_page,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema):
        response = super().get_paginated_response_schema(schema)
        response["properties"]["page_size"] = {
            "type": "integer",
            "description": f"Rows per page actually used (at most {MAX_PAGE_SIZE}).",
        }
        response["required"] = [*response.get("required", []), "page_size"]
        return response


PAGE_PARAMETERS = frozenset({Pagination.page_query_param, Pagination.page_size_query_param})


class _MatchesReadOnce:
    """A filtered listing as a paginator sees it, the filter evaluated once: the ordered keys
    of the first MATCHES_READ_ONCE + 1 matches give the count and the page, whose rows are
    then read by key from `rows` (the same listing, unfiltered). With more matches than
    that, the count is asked as usual, and so is a page beyond them."""

    ordered = True

    def __init__(self, matches, rows):
        self._matches, self._rows, self._keys = matches, rows, None

    def _first_keys(self) -> list:
        if self._keys is None:
            found = self._matches.values_list("pk", flat=True)[: MATCHES_READ_ONCE + 1]
            self._keys = list(found)
        return self._keys

    def _all_read(self) -> bool:
        return len(self._first_keys()) <= MATCHES_READ_ONCE

    def count(self) -> int:
        return len(self._first_keys()) if self._all_read() else self._matches.count()

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, index: slice) -> list:
        keys = self._first_keys()
        if not self._all_read() and (index.stop is None or index.stop > MATCHES_READ_ONCE):
            return list(self._matches[index])
        wanted = keys[index]
        found = {row.pk: row for row in self._rows.filter(pk__in=wanted).order_by()}
        return [found[key] for key in wanted if key in found]


class SearchPagination(Pagination):
    """For a listing whose filters are costly (a text search reads several trigram indexes):
    the count and the page come from one evaluation of the filters instead of two. The same
    pages, counts and links as Pagination; the view's get_queryset() is the unfiltered
    listing."""

    def paginate_queryset(self, queryset, request, view=None):
        if set(request.query_params) <= PAGE_PARAMETERS:
            return super().paginate_queryset(queryset, request, view)  # no filter: as usual
        return super().paginate_queryset(
            _MatchesReadOnce(queryset, view.get_queryset()), request, view
        )
