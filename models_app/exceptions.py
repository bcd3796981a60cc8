"""The registry's domain errors and the one mapping every surface formats them from.

Services raise Django's ValidationError and PermissionDenied, and the RegistryError family
below. `describe_error` turns any of them into `{field: [messages]}` plus a status class
(`ErrorKind`); pages, forms, admin, CLI, REST and the MLflow-compatible API only format that.
A new domain error is one subclass of RegistryError here, naming its kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError


class ErrorKind(StrEnum):
    """The status class of a domain error; each surface maps a kind to its own status."""

    INVALID = "invalid"
    PERMISSION_DENIED = "permission_denied"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    NOT_SUPPORTED = "not_supported"
    BACKEND_ERROR = "backend_error"

    @property
    def http_status(self) -> int:
        return _HTTP_STATUS[self]


_HTTP_STATUS = {
    ErrorKind.INVALID: 400,
    ErrorKind.PERMISSION_DENIED: 403,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.NOT_SUPPORTED: 405,
    ErrorKind.BACKEND_ERROR: 502,
}


class RegistryError(Exception):
    """Base for the registry's own errors; the message is meant for the user."""

    kind = ErrorKind.INVALID


class NotFound(RegistryError):
    kind = ErrorKind.NOT_FOUND


class Conflict(RegistryError):
    """The request clashes with existing state (a name already taken, ...)."""

    kind = ErrorKind.CONFLICT


class CapabilityNotSupported(RegistryError):
    """The registry's flavor cannot do this operation."""

    kind = ErrorKind.NOT_SUPPORTED


class BackendError(RegistryError):
    """The flavor's backend (e.g. an MLflow server) failed or refused; nothing local changed."""

    kind = ErrorKind.BACKEND_ERROR


class ApprovalRequested(RegistryError):
    """A move to Production became a request for an approver (it is saved; nothing moved).

    Surfaces that can answer "accepted" (REST 202, the pages, the CLI) show the request;
    the others (MLflow-compatible API, admin) report it as a refusal naming the request."""

    kind = ErrorKind.PERMISSION_DENIED

    def __init__(self, request):
        self.request = request
        super().__init__(
            f"Request #{request.pk} sent for approval: moving '{request.registration.name}' "
            f"version {request.version_number} to {request.to_stage} needs an approver."
        )


class GateFailed(RegistryError):
    """A version's metrics fail its registration's promotion gate."""

    kind = ErrorKind.CONFLICT


# Every exception a service raises for the user to read; entry points catch exactly these.
DOMAIN_ERRORS = (ValidationError, PermissionDenied, RegistryError)

_DEFAULT_MESSAGE = {
    ErrorKind.INVALID: "Invalid input.",
    ErrorKind.PERMISSION_DENIED: "You do not have permission to do this.",
    ErrorKind.NOT_FOUND: "Not found.",
    ErrorKind.CONFLICT: "This clashes with the registry's current state.",
    ErrorKind.NOT_SUPPORTED: "This registry's flavor cannot do this.",
    ErrorKind.BACKEND_ERROR: "The registry's backend failed.",
}


@dataclass(frozen=True)
class ErrorReport:
    """A domain error as data: its kind and its messages by field (NON_FIELD for none)."""

    kind: ErrorKind
    errors: dict[str, list[str]]

    NON_FIELD = NON_FIELD_ERRORS

    @property
    def messages(self) -> list[str]:
        return [message for messages in self.errors.values() for message in messages]

    @property
    def message(self) -> str:
        """All messages in one sentence, without field names (pages, forms)."""
        return " ".join(self.messages)

    @property
    def first(self) -> str:
        return self.messages[0]

    def line(self) -> str:
        """One line naming each field: `name: msg; other: msg` (CLI, admin, MLflow)."""
        return "; ".join(
            " ".join(messages) if field == NON_FIELD_ERRORS else f"{field}: {' '.join(messages)}"
            for field, messages in self.errors.items()
        )


def describe_error(exc: BaseException) -> ErrorReport | None:
    """The report for a domain error, or None when `exc` is not one (a bug: let it raise)."""
    if isinstance(exc, ValidationError):
        if hasattr(exc, "error_dict"):
            errors = {field: list(messages) for field, messages in exc.message_dict.items()}
        else:
            errors = {NON_FIELD_ERRORS: list(exc.messages)}
        kind = ErrorKind.INVALID
    elif isinstance(exc, PermissionDenied):
        kind, errors = ErrorKind.PERMISSION_DENIED, {NON_FIELD_ERRORS: [str(exc)]}
    elif isinstance(exc, RegistryError):
        kind, errors = exc.kind, {NON_FIELD_ERRORS: [str(exc)]}
    else:
        return None
    errors = {field: messages for field, messages in errors.items() if messages}
    if not any(message for messages in errors.values() for message in messages):
        errors = {NON_FIELD_ERRORS: [_DEFAULT_MESSAGE[kind]]}
    return ErrorReport(kind=kind, errors=errors)
