"""Declare in the OpenAPI schema the error responses the API really gives, in its one shape."""

from models_app.exceptions import ErrorKind

ERROR_REF = {"$ref": "#/components/schemas/Error"}

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "status": {"type": "integer"},
        "code": {"type": "string"},
        "detail": {"type": "string"},
        "errors": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
            "description": "Messages per field; empty when no field is to blame.",
        },
    },
    "required": ["status", "code", "detail", "errors"],
}

DESCRIPTIONS = {
    "400": "Invalid input: `errors` has a message per field.",
    "401": "Not signed in: send `Authorization: Bearer <token>`.",
    "403": "Signed in without the permission this needs (or CSRF failed for a session).",
    "404": "No such registry, model, version, alias or page.",
    "405": "The registry's flavor cannot do this.",
    "409": "Conflicts with existing state (a name or alias already taken).",
    "415": "The body is not JSON.",
    "502": "The registry's backend (e.g. MLflow) failed or refused; nothing changed.",
}

# A write may meet any kind of domain error (exceptions.ErrorKind), or fail authentication.
_DOMAIN = {str(kind.http_status) for kind in ErrorKind}
READ = ("400", "401", "404")
WRITE = tuple(sorted({*_DOMAIN, "401", "415"}))
DELETE = tuple(sorted({*_DOMAIN, "401"}))


def declare_error_responses(result, generator, request, public):
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for _path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            codes = {"get": READ, "delete": DELETE}.get(method, WRITE)
            responses = operation.setdefault("responses", {})
            for code in codes:
                responses.setdefault(
                    code,
                    {
                        "description": DESCRIPTIONS[code],
                        "content": {"application/json": {"schema": ERROR_REF}},
                    },
                )
    return result
