"""Forms of the dashboard. They parse what a person types; the services judge it."""

from django import forms
from django.core.exceptions import ValidationError
from django.urls import reverse_lazy

from models_app import selectors
from models_app.exceptions import describe_error
from models_app.models import CARD_SECTIONS, ModelVersionStage, WebhookEvent
from models_app.services import ACTIVE_STAGES
from models_app.validation import (
    INSTANT_EXAMPLE,
    INSTANT_MAX_LENGTH,
    clean_instant,
    limit_message,
)


class BoundedJSONField(forms.JSONField):
    """JSON typed into a form: nesting beyond what the parser can follow is refused as too
    deep (json raises RecursionError there, a 500); the services check the depth limit."""

    def to_python(self, value):
        try:
            return super().to_python(value)
        except RecursionError:
            raise ValidationError(limit_message("Nested too deeply", "MODEL_REGISTRY_MAX_DEPTH"))

    def bound_data(self, data, initial):
        try:
            return super().bound_data(data, initial)
        except RecursionError:
            return forms.fields.InvalidJSONInput(data)


class KeyValueField(forms.CharField):
    """One `key=value` per line (blank lines ignored) into a dict of strings."""

    widget = forms.Textarea(attrs={"rows": 3, "placeholder": "key=value, one per line"})

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_python(self, value):
        text = super().to_python(value) or ""
        parsed = {}
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            key, sep, item = line.partition("=")
            if not sep or not key.strip():
                raise ValidationError(f"Line {number} is not key=value: {line.strip()[:60]!r}.")
            parsed[key.strip()] = item.strip()
        return parsed

    def prepare_value(self, value):
        if isinstance(value, dict):
            return "\n".join(f"{key}={item}" for key, item in value.items())
        return value


class ServiceErrorsMixin:
    def add_service_error(self, exc: Exception) -> None:
        """Show a service's refusal next to the field it names, or above the form."""
        add_report(self, exc)


def add_report(form: forms.BaseForm, exc: Exception) -> None:
    """Put a domain error's messages on `form`'s fields (or above it); re-raise anything else."""
    report = describe_error(exc)
    if report is None:
        raise exc
    for field, messages in report.errors.items():
        for message in messages:
            form.add_error(field if field in form.fields else None, message)


class TransitionForm(forms.Form):
    stage = forms.ChoiceField(choices=ModelVersionStage.choices)
    archive_existing = forms.BooleanField(
        required=False, initial=True, label="Archive the versions now in this stage"
    )
    comment = forms.CharField(required=False, max_length=5000, strip=True)
    confirm_production = forms.BooleanField(required=False)

    def __init__(self, *args, version=None, live_version: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.version = version
        self.live_version = live_version

    def leaves_production(self, stage: str, archive_existing: bool) -> int | None:
        """The version this move would take out of Production, if any."""
        if self.version is None:
            return None
        production = ModelVersionStage.PRODUCTION
        if self.version.stage == production and stage != production:
            return self.version.version
        if (
            stage == production
            and archive_existing
            and self.live_version not in (None, self.version.version)
        ):
            return self.live_version
        return None

    def clean(self):
        data = super().clean()
        # The checkbox is on by default; it only means something for a move into an active stage.
        if data.get("stage") not in ACTIVE_STAGES:
            data["archive_existing"] = False
        # The page's own rule (the APIs keep theirs): leaving Production is never one click.
        leaving = self.leaves_production(data.get("stage") or "", data.get("archive_existing"))
        if leaving is not None and not data.get("confirm_production"):
            self.add_error(
                "confirm_production",
                f"This takes version {leaving} out of Production: confirm it to go ahead.",
            )
        return data


class RegistrationEditForm(ServiceErrorsMixin, forms.Form):
    description = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), strip=False
    )
    tags = KeyValueField()

    @classmethod
    def from_registration(cls, registration):
        return cls(initial={"description": registration.description, "tags": registration.tags})

    def tag_patch(self, current: dict) -> dict:
        """The merge patch that turns `current` into the tags typed in."""
        wanted = self.cleaned_data["tags"]
        return {**{key: None for key in current if key not in wanted}, **wanted}


class ModelCardForm(ServiceErrorsMixin, forms.Form):
    """One Markdown box per model-card section; fields are named as the service reports
    errors (`card.<section>`), so a refusal shows next to its box."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for key, label in CARD_SECTIONS.items():
            self.fields[f"card.{key}"] = forms.CharField(
                label=label,
                required=False,
                strip=False,
                widget=forms.Textarea(attrs={"rows": 3, "placeholder": "Markdown"}),
            )

    @classmethod
    def from_registration(cls, registration):
        return cls(initial={f"card.{key}": text for key, text in registration.card.items()})

    def card_patch(self) -> dict[str, str]:
        return {key: self.cleaned_data[f"card.{key}"] for key in CARD_SECTIONS}


class WorkflowForm(ServiceErrorsMixin, forms.Form):
    """The owner's settings of a registration's way to Production."""

    approval_required = forms.BooleanField(
        required=False, label="A contributor's move to Production needs an approver"
    )
    promotion_gate = forms.CharField(
        required=False,
        max_length=1000,
        label="Promotion gate",
        help_text="Metric conditions a version must meet to reach Production, e.g. "
        "accuracy >= 0.9, loss < 0.2 (empty: none).",
    )

    @classmethod
    def from_registration(cls, registration):
        return cls(
            initial={
                "approval_required": registration.approval_required,
                "promotion_gate": registration.promotion_gate,
            }
        )


class RegisterVersionForm(ServiceErrorsMixin, forms.Form):
    # Required by the service, which judges them with the rest; marked as required on the page.
    marked_required = frozenset({"name", "model_source_uri"})

    registry = forms.ModelChoiceField(
        queryset=selectors.registry_list(), to_field_name="name", empty_label=None
    )
    # Not required here: the service judges every field at once, so all errors show together.
    name = forms.CharField(
        label="Model",
        strip=False,
        max_length=1000,
        required=False,
        help_text="An existing model, or a new name to create it.",
        widget=forms.TextInput(
            attrs={
                "list": "model-names",
                "autocomplete": "off",
                # Warn (without blocking) when the name looks like an existing one.
                "hx-get": reverse_lazy("similar_names"),
                "hx-trigger": "input changed delay:400ms, change",
                "hx-target": "#similar-names",
                "hx-include": "[name=registry]",
                "aria-required": "true",
            }
        ),
    )
    model_source_uri = forms.CharField(
        label="Artifact URI",
        strip=False,
        max_length=5000,
        required=False,
        help_text="Where the model is: s3://…, runs:/<run>/model, models:/…, or a path.",
        widget=forms.TextInput(attrs={"aria-required": "true"}),
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    metrics = KeyValueField(help_text="Numbers, e.g. accuracy=0.93")
    parameters = KeyValueField(help_text="The training configuration, e.g. learning_rate=0.01")
    tags = KeyValueField()
    metadata = KeyValueField()
    model_format = forms.CharField(required=False, max_length=100, help_text="e.g. mlflow, onnx")
    model_library = forms.CharField(
        required=False, max_length=100, help_text="e.g. sklearn, pytorch"
    )
    pipeline_name = forms.CharField(required=False, max_length=1000)
    pipeline_run_id = forms.CharField(required=False, max_length=1000)
    step_name = forms.CharField(required=False, max_length=1000)
    experiment_run_id = forms.CharField(required=False, max_length=1000, label="Experiment run id")
    code_version = forms.CharField(required=False, max_length=1000, help_text="e.g. a git commit")


class LedgerForm(forms.Form):
    """The stage ledger's question: which version held a stage (or an alias) at a time."""

    at = forms.CharField(
        label="At",
        max_length=INSTANT_MAX_LENGTH,
        widget=forms.TextInput(attrs={"placeholder": INSTANT_EXAMPLE}),
    )
    stage = forms.ChoiceField(
        choices=ModelVersionStage.choices, required=False, initial=ModelVersionStage.PRODUCTION
    )
    alias = forms.CharField(
        required=False, max_length=255, label="or alias", help_text="Asked instead of the stage."
    )

    def clean(self):
        data = super().clean()
        if "at" in data:
            try:
                data["at"] = clean_instant(data["at"])
            except ValidationError as exc:
                add_report(self, exc)
        if data.get("alias"):
            data["stage"] = None  # an alias given is the question; the stage is not
        return data


class WebhookForm(ServiceErrorsMixin, forms.Form):
    name = forms.CharField(required=False, max_length=100, label="Name")
    url = forms.CharField(
        max_length=1000,
        label="URL",
        help_text="http(s) address that receives each event as a signed JSON POST.",
        widget=forms.TextInput(
            attrs={"placeholder": "https://ci.example.com/hooks/registry", "inputmode": "url"}
        ),
    )
    events = forms.MultipleChoiceField(
        choices=[(e.value, e.label) for e in WebhookEvent if e != WebhookEvent.TEST],
        widget=forms.CheckboxSelectMultiple,
    )
    registry = forms.CharField(required=False, max_length=100, initial="default")
    model = forms.CharField(
        required=False,
        max_length=1000,
        label="Model",
        help_text="Only this model's events (you must own it); empty for every model "
        "(administrators).",
    )


class RegistryForm(forms.Form):
    """A new registry: its name, flavor, and the chosen flavor's own settings. Every flavor's
    fields are on the form (named `<flavor>.<key>`); only the chosen flavor's are read."""

    marked_required = frozenset({"name"})  # judged by the service, marked on the page

    name = forms.CharField(max_length=200, required=False, strip=False)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    flavor = forms.ChoiceField()
    case_insensitive_names = forms.BooleanField(
        required=False, label="Refuse a model name that differs from another only by case"
    )

    def __init__(self, *args, flavors: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.flavors = flavors
        self.fields["flavor"].choices = [(name, name) for name in flavors]
        self.fieldsets = []
        for name, cls in flavors.items():
            keys = []
            for field in cls.config_fields:
                key = f"{name}.{field.key}"
                self.fields[key] = forms.CharField(
                    label=field.label,
                    required=False,
                    help_text=field.help,
                    max_length=2000,
                    widget=forms.URLInput(attrs={"placeholder": field.help[:60]})
                    if field.kind == "url"
                    else forms.TextInput(),
                )
                keys.append((key, field.required))
            if not cls.config_fields:
                key = f"{name}.config"
                self.fields[key] = forms.JSONField(
                    label="Config (JSON)", required=False, help_text="The flavor's settings."
                )
                keys.append((key, False))
            self.fieldsets.append(
                {
                    "flavor": name,
                    "description": cls.description,
                    "fields": [(self[key], required) for key, required in keys],
                }
            )

    def config(self) -> dict:
        """The chosen flavor's settings: the keys filled in (or its JSON object)."""
        flavor = self.cleaned_data["flavor"]
        cls = self.flavors[flavor]
        if not cls.config_fields:
            return self.cleaned_data.get(f"{flavor}.config") or {}
        return {
            field.key: self.cleaned_data[f"{flavor}.{field.key}"].strip()
            for field in cls.config_fields
            if self.cleaned_data[f"{flavor}.{field.key}"].strip()
        }

    def add_service_error(self, exc: Exception) -> None:
        """A refusal next to its box: config keys map to the chosen flavor's fields."""
        report = describe_error(exc)
        if report is None:
            raise exc
        flavor = self.cleaned_data.get("flavor", "")
        for field, messages in report.errors.items():
            target = None
            if field in self.fields and "." not in field:
                target = field
            elif f"{flavor}.{field}" in self.fields:
                target = f"{flavor}.{field}"
            for message in messages:
                where = target
                # A flavor's config check says "<key>: ..." under "config".
                key = message.split(":", 1)[0] if field == "config" else ""
                if where is None and key and f"{flavor}.{key}" in self.fields:
                    where = f"{flavor}.{key}"
                self.add_error(where, message)
