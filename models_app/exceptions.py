"""Errors the service layer raises besides Django's ValidationError and PermissionDenied.

Each entry point maps them once: API to 404/409/405/502, CLI to CommandError, pages to messages.
"""


class RegistryError(Exception):
    """Base for the registry's own errors; the message is meant for the user."""


class NotFound(RegistryError):
    pass


class Conflict(RegistryError):
    """The request clashes with existing state (a name already taken, ...)."""


class CapabilityNotSupported(RegistryError):
    """The registry's flavor cannot do this operation."""


class BackendError(RegistryError):
    """The flavor's backend (e.g. an MLflow server) failed or refused; nothing local changed."""
