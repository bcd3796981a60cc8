"""The one mapping from domain errors to messages, and every surface formatting it."""

import pytest
from django import forms
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import CommandError

from models_app.api.errors import exception_handler
from models_app.api.mlflow import mlflow_exception_handler
from models_app.exceptions import (
    DOMAIN_ERRORS,
    BackendError,
    CapabilityNotSupported,
    Conflict,
    ErrorKind,
    NotFound,
    RegistryError,
    describe_error,
)
from models_app.forms import add_report


class ApprovalRequired(RegistryError):
    """A domain error added later: one subclass, nothing else edited."""

    kind = ErrorKind.PERMISSION_DENIED


def test_it_maps_field_errors_with_their_fields():
    report = describe_error(ValidationError({"name": ["Taken."], "tags": ["Bad.", "Worse."]}))
    assert report.kind == ErrorKind.INVALID
    assert report.errors == {"name": ["Taken."], "tags": ["Bad.", "Worse."]}
    assert report.message == "Taken. Bad. Worse."
    assert report.line() == "name: Taken.; tags: Bad. Worse."


def test_it_maps_a_plain_validation_error_to_no_field():
    report = describe_error(ValidationError(["One.", "Two."]))
    assert report.errors == {"__all__": ["One.", "Two."]}
    assert report.line() == "One. Two."


@pytest.mark.parametrize(
    "exc, kind",
    [
        (NotFound("No model."), ErrorKind.NOT_FOUND),
        (Conflict("Taken."), ErrorKind.CONFLICT),
        (CapabilityNotSupported("Cannot."), ErrorKind.NOT_SUPPORTED),
        (BackendError("Down."), ErrorKind.BACKEND_ERROR),
        (PermissionDenied("No."), ErrorKind.PERMISSION_DENIED),
        (ApprovalRequired("Ask a reviewer."), ErrorKind.PERMISSION_DENIED),
    ],
)
def test_it_gives_each_error_its_kind(exc, kind):
    report = describe_error(exc)
    assert report.kind == kind
    assert report.message == str(exc)


def test_it_gives_a_message_when_the_error_has_none():
    assert describe_error(PermissionDenied()).message == "You do not have permission to do this."


def test_it_leaves_bugs_alone():
    assert describe_error(KeyError("x")) is None
    assert not isinstance(KeyError("x"), DOMAIN_ERRORS)


def test_a_new_domain_error_reaches_every_surface_without_other_edits(admin_user):
    exc = ApprovalRequired("Ask a reviewer.")
    assert isinstance(exc, DOMAIN_ERRORS)

    rest = exception_handler(exc, {})
    assert rest.status_code == 403
    assert rest.data == {
        "status": 403,
        "code": "permission_denied",
        "detail": "Ask a reviewer.",
        "errors": {},
    }

    mlflow = mlflow_exception_handler(exc, {})
    assert (mlflow.status_code, mlflow.data) == (
        403,
        {
            "error_code": "PERMISSION_DENIED",
            "message": "Ask a reviewer.",
            # As MLflow's server serialises its errors.
            "sqlstate": "KAM00",
            "error_class": "PERMISSION_DENIED",
        },
    )

    class Form(forms.Form):
        name = forms.CharField()

    form = Form({"name": "x"})
    assert form.is_valid()
    add_report(form, exc)
    assert form.non_field_errors() == ["Ask a reviewer."]


def test_rest_names_fields_of_invalid_input():
    response = exception_handler(ValidationError({"name": ["Taken."], "__all__": ["Both."]}), {})
    assert response.status_code == 400
    assert response.data["errors"] == {"name": ["Taken."], "non_field_errors": ["Both."]}
    assert response.data["detail"] == "Taken."


def test_the_cli_prints_one_line(db):
    from django.core.management import call_command

    with pytest.raises(CommandError, match="No registry named 'nope'|nope"):
        call_command("model_registry", "models", "list", "--registry", "nope")
