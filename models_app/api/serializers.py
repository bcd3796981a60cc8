"""API shapes. Output serializers read; input serializers only parse JSON into arguments for a
service, which holds every rule (so a rule is never written twice)."""

from urllib.parse import quote

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from models_app import selectors
from models_app.models import (
    CARD_SECTIONS,
    ModelVersion,
    ModelVersionStage,
    PromotionRequest,
    RunDataState,
    WebhookEvent,
)
from models_app.selectors import STAGE_ANNOTATIONS, STAGE_COUNT_ANNOTATIONS, SUMMARY_FIELDS
from models_app.validation import MAX_VERSION_NUMBER, check_key_count


class BoundedMap(serializers.DictField):
    """A map counted against MODEL_REGISTRY_MAX_KEYS before its entries are looked at."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            try:
                check_key_count(data, field=self.field_name)
            except DjangoValidationError as exc:
                raise serializers.ValidationError(exc.messages)
        return super().to_internal_value(data)


# Maps whose values the services check; the schema documents their value types.
@extend_schema_field({"type": "object", "additionalProperties": {"type": "string"}})
class StringMap(BoundedMap):
    pass


@extend_schema_field(
    {"type": "object", "additionalProperties": {"type": "string", "nullable": True}}
)
class StringPatch(BoundedMap):
    """A merge patch: a key set to null is removed."""


@extend_schema_field({"type": "object", "additionalProperties": {"type": "number"}})
class NumberMap(BoundedMap):
    pass


@extend_schema_field(
    {"type": "object", "additionalProperties": {"type": "number", "nullable": True}}
)
class NumberPatch(BoundedMap):
    pass


@extend_schema_field({"type": "object", "additionalProperties": {}})
class AnyMap(BoundedMap):
    pass


def iso(moment) -> str | None:
    """A datetime as DRF writes it (ISO 8601, 'Z' for UTC), without a field object per value."""
    if moment is None:
        return None
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


@extend_schema_field({"type": "array", "items": {"type": "string"}, "nullable": True})
class AliasList(serializers.JSONField):
    """A list of alias names, checked by the service (one message per field)."""


def _text(**kwargs):
    # Services judge whitespace and length, so the message is the same from every entry point.
    return serializers.CharField(trim_whitespace=False, allow_blank=True, **kwargs)


# The serializer field of each JSON field of a version: (whole value, merge patch).
_VERSION_MAPS = {
    "tags": (StringMap, StringPatch),
    "metrics": (NumberMap, NumberPatch),
    "parameters": (StringMap, StringMap),
    "metadata": (AnyMap, AnyMap),
}
_VERSION_HELP = {
    "model_source_uri": "Where the artifact is: a path, s3://, runs:/ or models:/ URI.",
    "parameters": "The training configuration.",
}


def _version_fields(fields, *, patch=False, output=False, **options) -> type:
    """A serializer declaring a group of ModelVersion's fields (ModelVersion.*_FIELDS), for
    the API's version shapes to inherit, so each lists the version's fields once."""
    declared = {}
    for field in fields:
        kwargs = {} if output else {**options, "help_text": _VERSION_HELP.get(field)}
        if field in _VERSION_MAPS:
            if patch:
                kwargs["help_text"] = "Merge patch: a key set to null is removed."
            if not output and "default" in kwargs:
                kwargs["default"] = dict
            declared[field] = _VERSION_MAPS[field][patch](**kwargs)
        else:
            declared[field] = serializers.CharField() if output else _text(**kwargs)
    return type("VersionFields", (serializers.Serializer,), declared)


# Output -------------------------------------------------------------------------------
class ErrorSerializer(serializers.Serializer):
    status = serializers.IntegerField()
    code = serializers.CharField()
    detail = serializers.CharField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class RegistrySerializer(serializers.Serializer):
    name = serializers.CharField()
    flavor = serializers.CharField()
    description = serializers.CharField()
    capabilities = serializers.SerializerMethodField()
    last_synced_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    case_insensitive_names = serializers.BooleanField()

    def get_capabilities(self, registry) -> list[str]:
        try:
            return sorted(registry.get_flavor().capabilities)
        except Exception:  # a flavor that no longer imports still lists its registry
            return []


class RegistryCreateInput(serializers.Serializer):
    name = _text()
    flavor = _text(default="builtin")
    config = AnyMap(
        default=dict,
        help_text='Flavor settings, e.g. {"tracking_uri": "http://mlflow:5000"}. No credentials.',
    )
    description = _text(default="")
    case_insensitive_names = serializers.BooleanField(
        default=False, help_text="Refuse a model name that differs from another only by case."
    )


class RegistryUpdateInput(serializers.Serializer):
    config = AnyMap(required=False)
    description = _text(required=False)
    case_insensitive_names = serializers.BooleanField(required=False)


class SyncRunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    registry = serializers.CharField(source="registry.name")
    status = serializers.ChoiceField(choices=["queued", "running", "succeeded", "failed"])
    requested_by = serializers.CharField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    models_seen = serializers.IntegerField()
    versions_seen = serializers.IntegerField()
    models_created = serializers.IntegerField()
    models_updated = serializers.IntegerField()
    models_removed = serializers.IntegerField()
    versions_created = serializers.IntegerField()
    versions_updated = serializers.IntegerField()
    versions_removed = serializers.IntegerField()
    error = serializers.CharField()
    url = serializers.SerializerMethodField()

    def get_url(self, run) -> str:
        return f"/api/v1/registries/{quote(run.registry.name, safe='')}/syncs/{run.pk}/"


class FlavorSerializer(serializers.Serializer):
    name = serializers.CharField()
    class_path = serializers.CharField()
    description = serializers.CharField()
    capabilities = serializers.ListField(child=serializers.CharField())


# The highest version number in each stage (or null), from the annotations of registration_list.
StagesSerializer = type(
    "LatestVersionsByStage",
    (serializers.Serializer,),
    {
        stage: serializers.IntegerField(source=annotation, allow_null=True, read_only=True)
        for stage, annotation in STAGE_ANNOTATIONS.items()
    },
)


# How many versions each stage holds, from the annotations of registration_list.
StageCountsSerializer = type(
    "VersionCountsByStage",
    (serializers.Serializer,),
    {
        stage: serializers.IntegerField(source=annotation, read_only=True)
        for stage, annotation in STAGE_COUNT_ANNOTATIONS.items()
    },
)


class RegistrationSerializer(serializers.Serializer):
    registry = serializers.CharField(source="registry.name")
    name = serializers.CharField()
    description = serializers.CharField()
    tags = StringMap()
    latest_version = serializers.IntegerField(allow_null=True)
    latest_versions_by_stage = StagesSerializer(source="*")
    version_count = serializers.IntegerField()
    version_count_by_stage = StageCountsSerializer(source="*")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    created_by = serializers.CharField(source="created_by.username", allow_null=True, default=None)
    protected_aliases = serializers.SerializerMethodField(
        help_text="Aliases that only users allowed to promote may set, move or delete."
    )

    card = StringMap(
        help_text="The model card: section -> Markdown source (only sections written so far). "
        "Sections: " + ", ".join(CARD_SECTIONS) + "."
    )
    approval_required = serializers.BooleanField(
        help_text="A contributor's move to Production becomes a request for an approver."
    )
    promotion_gate = serializers.CharField(
        help_text="Metric conditions a version must meet to reach Production ('' for none)."
    )

    def get_protected_aliases(self, registration) -> list[str]:
        return selectors.protected_aliases(registration)

    def to_representation(self, registration):
        # Hand-written: the declared fields document the schema; this is the hot path of
        # lists, which pass plain rows of REGISTRATION_ROW (with the summary fields).
        row = registration if isinstance(registration, dict) else _row(registration)
        return {
            "registry": row["registry__name"],
            "name": row["name"],
            "description": row["description"],
            "tags": row["tags"],
            "latest_version": row["latest_version"],
            "latest_versions_by_stage": {
                stage: row[annotation] for stage, annotation in STAGE_ANNOTATIONS.items()
            },
            "version_count": row["version_count"],
            "version_count_by_stage": {
                stage: row[annotation] for stage, annotation in STAGE_COUNT_ANNOTATIONS.items()
            },
            "created_at": iso(row["created_at"]),
            "updated_at": iso(row["updated_at"]),
            "created_by": row["created_by__username"],
            "protected_aliases": selectors.protected_aliases_of(row["protected_aliases"]),
            "card": row["card"],
            "approval_required": row["approval_required"],
            "promotion_gate": row["promotion_gate"],
        }


# The columns of a registration's JSON, as a plain row of values(); the summary comes from
# the annotations of registration_list or from selectors.summarise.
REGISTRATION_ROW = (
    "id",
    "registry__name",
    "name",
    "description",
    "tags",
    "created_at",
    "updated_at",
    "created_by__username",
    "protected_aliases",
    "card",
    "approval_required",
    "promotion_gate",
)


def _row(registration) -> dict:
    """A registration object as the plain row lists read (a missing creator gives None)."""
    row = {field: getattr(registration, field) for field in SUMMARY_FIELDS}
    for field in REGISTRATION_ROW:
        value = registration
        for part in field.split("__"):
            value = getattr(value, part) if value is not None else None
        row[field] = value
    return row


class VersionSerializer(_version_fields(ModelVersion.REGISTERED_FIELDS, output=True)):
    registry = serializers.CharField(source="registration.registry.name")
    name = serializers.CharField(source="registration.name")
    version = serializers.IntegerField()
    stage = serializers.ChoiceField(choices=ModelVersionStage.choices)
    aliases = serializers.SerializerMethodField()
    run_data_state = serializers.ChoiceField(
        choices=RunDataState.choices,
        help_text="Whether the run's metrics and parameters were copied from the tracking "
        "server: '' (no run to read), 'pending', 'fetched' or 'missing'.",
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    created_by = serializers.CharField(source="created_by.username", allow_null=True, default=None)

    def get_aliases(self, version) -> list[str]:
        return sorted(alias.name for alias in version.aliases.all())

    def to_representation(self, version):
        registration = version.registration
        return {
            "registry": registration.registry.name,
            "name": registration.name,
            "version": version.version,
            "stage": version.stage,
            **{field: getattr(version, field) for field in ModelVersion.REGISTERED_FIELDS},
            "aliases": self.get_aliases(version),
            "run_data_state": version.run_data_state,
            "created_at": iso(version.created_at),
            "updated_at": iso(version.updated_at),
            "created_by": version.created_by.username if version.created_by_id else None,
        }


class TransitionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    registry = serializers.CharField(source="registration.registry.name")
    name = serializers.CharField(source="registration.name")
    version = serializers.IntegerField(source="version_number")
    from_stage = serializers.ChoiceField(choices=ModelVersionStage.choices)
    to_stage = serializers.ChoiceField(choices=ModelVersionStage.choices)
    actor = serializers.CharField(source="actor_name")
    comment = serializers.CharField()
    cause = serializers.CharField()
    alias = serializers.CharField(help_text="For alias changes: the alias set, moved or deleted.")
    alias_from_version = serializers.IntegerField(
        allow_null=True, help_text="For alias changes: the version it pointed at before."
    )
    created_at = serializers.DateTimeField()


class PromotionRequestSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    state = serializers.ChoiceField(choices=PromotionRequest.State.choices)
    stale = serializers.BooleanField(
        source="is_stale",
        help_text="Pending, but the version was deleted or changed stage since: it cannot be "
        "approved.",
    )
    registry = serializers.CharField(source="registration.registry.name")
    name = serializers.CharField(source="registration.name")
    version = serializers.IntegerField(source="version_number")
    from_stage = serializers.ChoiceField(choices=ModelVersionStage.choices)
    to_stage = serializers.ChoiceField(choices=ModelVersionStage.choices)
    archive_existing = serializers.BooleanField()
    comment = serializers.CharField()
    requested_by = serializers.CharField(source="requested_by_name")
    created_at = serializers.DateTimeField()
    decided_by = serializers.CharField(source="decided_by_name")
    decision_comment = serializers.CharField()
    decided_at = serializers.DateTimeField(allow_null=True)


class TrashItemSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=selectors.TRASH_KINDS)
    id = serializers.IntegerField(help_text="Restore or purge it at /api/v1/trash/<kind>/<id>/.")
    registry = serializers.CharField()
    name = serializers.CharField()
    version = serializers.IntegerField(allow_null=True, help_text="For a version: its number.")
    stage = serializers.CharField(help_text="For a version: the stage it comes back in.")
    version_count = serializers.IntegerField(
        allow_null=True, help_text="For a model: the versions that come back with it."
    )
    deleted_at = serializers.DateTimeField()
    deleted_by = serializers.CharField()
    expires_at = serializers.DateTimeField(
        help_text="From then on `model_registry trash purge --expired` deletes it for good."
    )


class TrashRestoredSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=selectors.TRASH_KINDS)
    id = serializers.IntegerField()
    registry = serializers.CharField()
    name = serializers.CharField()
    version = serializers.IntegerField(allow_null=True)
    restored = serializers.BooleanField()


class TrashPurgeInput(serializers.Serializer):
    confirm = serializers.BooleanField(
        help_text="Must be true: a purge deletes for good, in the backend too."
    )

    def validate_confirm(self, value):
        if value is not True:
            raise serializers.ValidationError("A purge deletes for good: send confirm: true.")
        return value


class AliasSerializer(serializers.Serializer):
    alias = serializers.CharField(source="name")
    version = serializers.IntegerField(source="version.version")
    updated_at = serializers.DateTimeField()


class RoleSerializer(serializers.Serializer):
    principal = serializers.CharField(help_text="A username, or @group for a group.")
    kind = serializers.SerializerMethodField()
    role = serializers.CharField()
    granted_by = serializers.CharField()
    granted_at = serializers.DateTimeField()

    def get_kind(self, grant) -> str:
        return "group" if grant.group_id else "user"


class TokenSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    prefix = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)


class NewTokenSerializer(TokenSerializer):
    token = serializers.CharField(help_text="The secret; shown only in this response.")


# Input --------------------------------------------------------------------------------
class RegistrationCreateInput(serializers.Serializer):
    registry = serializers.CharField(default="default")
    name = _text()
    description = _text(default="")
    tags = StringMap(default=dict)


class RegistrationUpdateInput(serializers.Serializer):
    name = _text(required=False, help_text="Rename the model.")
    card = StringPatch(
        required=False,
        help_text="Merge patch of the model card: section -> Markdown (null or empty "
        "removes it). Sections: " + ", ".join(CARD_SECTIONS) + ".",
    )
    description = _text(required=False)
    tags = StringPatch(required=False)
    protected_aliases = AliasList(
        required=False,
        allow_null=True,
        help_text="Replace the protected aliases (null: the server's default). Needs the "
        "promote permission.",
    )
    approval_required = serializers.BooleanField(
        required=False,
        help_text="Whether a contributor's move to Production needs an approver (owner only).",
    )
    promotion_gate = _text(
        required=False,
        help_text="Metric conditions a version must meet to reach Production, e.g. "
        "'accuracy >= 0.9, loss < 0.2'; '' for none (owner only).",
    )


class VersionCreateInput(
    _version_fields(["model_source_uri"]),
    _version_fields(ModelVersion.REGISTERED_FIELDS, default=""),
):
    """The artifact URI is required; every other field has an empty default."""


class VersionUpdateInput(
    _version_fields(ModelVersion.MUTABLE_FIELDS, patch=True, required=False),
    # Accepted only to refuse a change clearly: these never change after registration.
    _version_fields(ModelVersion.IMMUTABLE_FIELDS, required=False),
):
    stage = _text(required=False, help_text="Refused: use the transition action.")

    def validate_stage(self, value):
        raise serializers.ValidationError("The stage changes only through POST .../transition/.")


class TransitionInput(serializers.Serializer):
    stage = _text(help_text="None, Staging, Production or Archived (any case).")
    archive_existing = serializers.BooleanField(default=False)
    comment = _text(default="")


class DecisionInput(serializers.Serializer):
    comment = _text(default="")


class RejectInput(serializers.Serializer):
    comment = _text(help_text="Why the request is rejected (required).")


class AliasInput(serializers.Serializer):
    version = serializers.IntegerField()


class AliasCreateInput(AliasInput):
    alias = _text()


class RoleInput(serializers.Serializer):
    principal = _text(help_text="A username, or @group for a group.", max_length=151)
    role = serializers.ChoiceField(choices=["viewer", "contributor", "approver", "owner"])


class TokenInput(serializers.Serializer):
    name = _text(default="", max_length=100)


class LedgerEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    from_stage = serializers.ChoiceField(choices=ModelVersionStage.choices)
    to_stage = serializers.ChoiceField(choices=ModelVersionStage.choices)
    actor = serializers.CharField(source="actor_name")
    cause = serializers.CharField()
    comment = serializers.CharField()
    created_at = serializers.DateTimeField()


class LedgerAnswerSerializer(serializers.Serializer):
    """selectors.LedgerAnswer: which version held a stage or an alias at a moment."""

    at = serializers.DateTimeField(help_text="The moment asked about, in UTC.")
    stage = serializers.ChoiceField(
        choices=ModelVersionStage.choices, allow_null=True, help_text="The stage asked about."
    )
    alias = serializers.CharField(allow_null=True, help_text="The alias asked about.")
    version = serializers.IntegerField(
        allow_null=True,
        help_text="The version then: for a stage the highest-numbered one in it (as "
        "versions/latest would have answered), for an alias the one it pointed at; null if none.",
    )
    versions = serializers.ListField(
        child=serializers.IntegerField(), help_text="Every version in the stage then, ascending."
    )
    since = serializers.DateTimeField(
        allow_null=True,
        help_text="When `version` entered the stage (or got the alias); null if before the "
        "history began.",
    )
    exists = serializers.BooleanField(help_text="Whether `version` still exists (not deleted).")
    transition = LedgerEntrySerializer(
        allow_null=True, help_text="The history entry that put `version` there, if any."
    )


class TransitionPageSerializer(serializers.Serializer):
    """One page of stage history (the answer of history/ without `at`)."""

    count = serializers.IntegerField()
    page_size = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = TransitionSerializer(many=True)


class RollbackInput(serializers.Serializer):
    comment = _text(default="", help_text="Why (kept in the history with cause rollback).")
    expected_version = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=MAX_VERSION_NUMBER,
        help_text="Refuse (409) unless the rollback would restore this version.",
    )


# Webhooks -------------------------------------------------------------------------------
@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "string", "enum": [e for e in WebhookEvent.values if e != "test"]},
    }
)
class EventList(serializers.JSONField):
    """Event names, checked by the service (one message per field)."""


class WebhookSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    url = serializers.CharField()
    events = serializers.ListField(child=serializers.CharField())
    registry = serializers.CharField(
        source="registration.registry.name", allow_null=True, default=None
    )
    model = serializers.CharField(
        source="registration.name",
        allow_null=True,
        default=None,
        help_text="The model whose events it receives; null for a global webhook.",
    )
    active = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    created_by = serializers.CharField(source="created_by.username", allow_null=True, default=None)
    last_status = serializers.CharField(
        allow_null=True, default=None, help_text="Status of the latest delivery."
    )
    last_delivery_at = serializers.DateTimeField(allow_null=True, default=None)


class NewWebhookSerializer(WebhookSerializer):
    secret = serializers.CharField(
        help_text="The HMAC key of X-Registry-Signature; shown only in this response."
    )


class WebhookInput(serializers.Serializer):
    url = _text(help_text="http(s) URL receiving the events as POSTed JSON.")
    events = EventList(help_text="Events to receive (one or more).")
    name = _text(default="")
    registry = serializers.CharField(default="default", help_text="Registry of `model`.")
    model = serializers.CharField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Receive this model's events only; omit for a global webhook (administrators).",
    )


class WebhookDeliverySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    uuid = serializers.UUIDField(help_text="Sent as X-Registry-Delivery.")
    event = serializers.CharField()
    status = serializers.ChoiceField(choices=["pending", "succeeded", "failed"])
    attempts = serializers.IntegerField()
    response_status = serializers.IntegerField(allow_null=True)
    error = serializers.CharField()
    duration_ms = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    last_attempt_at = serializers.DateTimeField(allow_null=True)
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    payload = serializers.JSONField()


class AuditEventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    actor = serializers.CharField(
        source="actor_name", help_text='Username, "system" (operator) or "sync" (a backend).'
    )
    action = serializers.CharField(
        help_text="create, update, delete, transition, alias, role, sync (more may be added)."
    )
    object_type = serializers.CharField()
    object_id = serializers.CharField()
    object = serializers.CharField(source="object_repr")
    registry = serializers.CharField(source="registry_name")
    model = serializers.CharField(source="registration_name")
    version = serializers.IntegerField(source="version_number", allow_null=True)
    changes = serializers.DictField(
        child=serializers.DictField(),
        help_text='Each changed field: {"before": value, "after": value}.',
    )
    comment = serializers.CharField()
