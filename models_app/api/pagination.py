from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


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
