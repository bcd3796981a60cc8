"""The registry's tables. Writes go through services.py; these classes hold no business rules."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from models_app.names import name_key

NAME_MAX_LENGTH = 255
DEFAULT_REGISTRY = "default"


class ModelVersionStage(models.TextChoices):
    NONE = "None", "None"
    STAGING = "Staging", "Staging"
    PRODUCTION = "Production", "Production"
    ARCHIVED = "Archived", "Archived"


class TransitionCause(models.TextChoices):
    DIRECT = "direct", "Direct"
    ARCHIVED_BY_PROMOTION = "archived_by_promotion", "Archived because another version was promoted"
    SYNC = "sync", "Changed in the backend, found by a sync"
    VERSION_DELETED = "version_deleted", "Version deleted (moved to the trash)"
    VERSION_RESTORED = "version_restored", "Version restored from the trash"
    VERSION_PURGED = "version_purged", "Version deleted for good from the trash"
    ALIAS_SET = "alias_set", "Alias set or moved"
    ALIAS_DELETED = "alias_deleted", "Alias deleted"
    ROLLBACK = "rollback", "Rolled back to the previous Production version"


class RunDataState(models.TextChoices):
    """Whether the metrics and parameters of the version's run were copied in."""

    NONE = "", "No run to read"
    PENDING = "pending", "Metrics pending"
    FETCHED = "fetched", "Copied from the run"
    MISSING = "missing", "Run not found on the tracking server"


class Registry(models.Model):
    """A configured registry backend (a stack component): a name and a flavor."""

    name = models.SlugField(max_length=100, unique=True)
    flavor = models.CharField(max_length=255, default="builtin")
    config = models.JSONField(default=dict, blank=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    # Off by default, as MLflow's names are case-sensitive; when on, `Model` and `model`
    # cannot both exist here (enforced by the services under the registry's row lock).
    case_insensitive_names = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "registries"

    def __str__(self) -> str:
        return self.name

    def get_flavor(self):
        from models_app.flavors import flavor_for

        return flavor_for(self)


class RegisteredFlavor(models.Model):
    """A custom flavor an operator added from the shell (`model_registry flavor register`).

    With the built-in flavors and settings.MODEL_REGISTRY_FLAVORS, these are the only
    classes the server ever imports as flavors."""

    name = models.CharField(max_length=255, unique=True)
    class_path = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.class_path})"


class RegistrationQuerySet(models.QuerySet):
    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        for obj in objs:
            obj.name_key = name_key(obj.name)
        return super().bulk_create(objs, *args, **kwargs)


# Sections of a model card, in the order a card shows them (after Model Cards for Model
# Reporting, Mitchell et al. 2019).
CARD_SECTIONS = {
    "intended_use": "Intended use",
    "limitations": "Limitations",
    "training_data": "Training data",
    "evaluation": "Evaluation",
    "ethical_considerations": "Ethical considerations",
}
CARD_SECTION_MAX_LENGTH = 20_000


# The trash: a deleted registration or version keeps its row, with `deleted_at` set, until it
# is restored or purged. `objects` (the default manager, so also every related manager and
# the admin) never shows a trashed row; `all_objects` is for the trash's own services.
class LiveRegistrationManager(models.Manager.from_queryset(RegistrationQuerySet)):
    def get_queryset(self):
        return super().get_queryset().filter(deleted_at__isnull=True)


class AllRowsManager(models.Manager):
    """Every row, trashed ones included."""


class LiveVersionManager(models.Manager):
    """Versions neither trashed themselves nor belonging to a trashed registration."""

    def get_queryset(self):
        return (
            super()
            .get_queryset()
            .filter(deleted_at__isnull=True, registration__deleted_at__isnull=True)
        )


class LiveRegistrationChildManager(models.Manager):
    """Rows of a registration (aliases, history), hidden while the registration is trashed."""

    def get_queryset(self):
        return super().get_queryset().filter(registration__deleted_at__isnull=True)


class ModelRegistration(models.Model):
    """A named group of versions of one model."""

    registry = models.ForeignKey(Registry, on_delete=models.PROTECT, related_name="registrations")
    name = models.CharField(max_length=NAME_MAX_LENGTH)
    # What the name looks like (case-folded, lookalike characters unified): names sharing it
    # differ only by case or confusable characters. Kept in step with `name` on every save.
    name_key = models.CharField(max_length=4 * NAME_MAX_LENGTH, editable=False, default="")
    description = models.TextField(blank=True)
    tags = models.JSONField(default=dict, blank=True)
    # The last number handed out; kept here so numbers of deleted versions are never reused.
    last_version_number = models.PositiveIntegerField(default=0, editable=False)
    # A default rather than auto_now_add, so a sync can keep the backend's creation time.
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Aliases that only a user with the promote permission may set, move or delete;
    # None means settings.MODEL_REGISTRY_PROTECTED_ALIASES.
    protected_aliases = models.JSONField(null=True, blank=True, default=None)
    # The model card: Markdown text per section of CARD_SECTIONS (absent: not written yet).
    # Kept by the dashboard only; no backend has a place for it.
    card = models.JSONField(default=dict, blank=True)
    # When on, a contributor's move to Production becomes a PromotionRequest for an approver.
    approval_required = models.BooleanField(default=True)
    # Metric conditions every version must meet to reach Production (`accuracy >= 0.9`).
    promotion_gate = models.CharField(max_length=500, blank=True)
    # Set while the registration is in the trash (see LiveRegistrationManager).
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    objects = LiveRegistrationManager()
    all_objects = RegistrationQuerySet.as_manager()

    class Meta:
        ordering = ["registry__name", "name"]
        constraints = [
            # A trashed registration does not hold its name: as in MLflow, a model deleted
            # can be created again at once.
            models.UniqueConstraint(
                fields=["registry", "name"],
                condition=Q(deleted_at__isnull=True),
                name="unique_registration_name",
            ),
        ]
        indexes = [
            models.Index(fields=["name"], name="registration_name_idx"),
            # Counting a registry's live models reads this small index alone (lists' counts).
            models.Index(
                fields=["registry"],
                condition=Q(deleted_at__isnull=True),
                name="registration_live_idx",
            ),
            models.Index(fields=["registry", "name_key"], name="registration_name_key_idx"),
            models.Index(fields=["-updated_at"], name="registration_updated_idx"),
            models.Index(fields=["-created_at"], name="registration_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.registry.name}/{self.name}" if self.registry_id else self.name

    def save(self, *args, **kwargs):
        self.name_key = name_key(self.name)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "name" in update_fields:
            kwargs["update_fields"] = {*update_fields, "name_key"}
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("registration_detail", args=[self.registry.name, self.name])


class ModelVersion(models.Model):
    """One version of a registered model. Artifact URI, parameters and lineage never change."""

    registration = models.ForeignKey(
        ModelRegistration, on_delete=models.CASCADE, related_name="versions"
    )
    version = models.PositiveIntegerField()
    description = models.TextField(blank=True)
    tags = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    model_source_uri = models.CharField(max_length=1000)
    # Where the artifacts really are when the source names another version (a copy made with
    # `models:/<name>/<version>`): MLflow answers download-URI requests with it.
    storage_location = models.CharField(max_length=1000, blank=True, editable=False)
    run_data_state = models.CharField(
        max_length=10, choices=RunDataState.choices, blank=True, default="", editable=False
    )
    run_data_error = models.TextField(blank=True, editable=False)
    model_format = models.CharField(max_length=100, blank=True)
    model_library = models.CharField(max_length=100, blank=True)
    stage = models.CharField(
        max_length=20, choices=ModelVersionStage.choices, default=ModelVersionStage.NONE
    )
    # Lineage: where the model came from.
    pipeline_name = models.CharField(max_length=255, blank=True)
    pipeline_run_id = models.CharField(max_length=255, blank=True)
    step_name = models.CharField(max_length=255, blank=True)
    experiment_run_id = models.CharField(max_length=255, blank=True)
    code_version = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Set while the version is in the trash; its number stays taken (numbers are never reused).
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    objects = LiveVersionManager()
    all_objects = AllRowsManager()

    # Field groups: the one list of a version's fields that services, sync, forms, the API,
    # the CLI and the pages follow. Lineage says where the model came from; immutable fields
    # are fixed at registration; mutable ones change by merge patch (description replaced).
    LINEAGE_FIELDS = (
        "pipeline_name",
        "pipeline_run_id",
        "step_name",
        "experiment_run_id",
        "code_version",
    )
    IMMUTABLE_FIELDS = (
        "model_source_uri",
        "parameters",
        "model_format",
        "model_library",
        *LINEAGE_FIELDS,
    )
    MUTABLE_FIELDS = ("description", "tags", "metrics", "metadata")
    # Everything a caller gives when registering a version (its number and stage excluded).
    REGISTERED_FIELDS = (*IMMUTABLE_FIELDS, *MUTABLE_FIELDS)
    # Filled by the registry, never by a caller: where a copy's artifacts are, and whether the
    # run's metrics and parameters were copied in from the tracking server.
    DERIVED_FIELDS = ("storage_location", "run_data_state", "run_data_error")

    class Meta:
        ordering = ["registration", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["registration", "version"], name="unique_version_per_registration"
            ),
            models.CheckConstraint(condition=Q(version__gte=1), name="version_number_positive"),
            models.CheckConstraint(
                condition=Q(stage__in=ModelVersionStage.values), name="version_stage_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["registration", "stage", "-version"], name="version_stage_idx"),
            models.Index(fields=["-created_at"], name="version_created_idx"),
            # The dashboard's "in Production, most recently promoted first".
            models.Index(fields=["stage", "-updated_at"], name="version_stage_updated_idx"),
            models.Index(fields=["experiment_run_id"], name="version_run_idx"),
            models.Index(fields=["pipeline_name"], name="version_pipeline_idx"),
        ]
        permissions = [("promote_modelversion", "Can promote a model version to Production")]

    def __str__(self) -> str:
        return f"{self.registration} v{self.version}"

    def get_absolute_url(self) -> str:
        return reverse(
            "version_detail",
            args=[self.registration.registry.name, self.registration.name, self.version],
        )

    @property
    def lineage(self) -> dict[str, str]:
        return {field: getattr(self, field) for field in self.LINEAGE_FIELDS}


class TrashedRegistrationManager(models.Manager.from_queryset(RegistrationQuerySet)):
    def get_queryset(self):
        return super().get_queryset().filter(deleted_at__isnull=False)


class TrashedVersionManager(models.Manager):
    """Versions in the trash on their own (a trashed model's versions go with the model)."""

    def get_queryset(self):
        return (
            super()
            .get_queryset()
            .filter(deleted_at__isnull=False, registration__deleted_at__isnull=True)
        )


class TrashedModelRegistration(ModelRegistration):
    """The admin's view of trashed registrations (restore, or delete for good)."""

    trashed = TrashedRegistrationManager()

    class Meta:
        proxy = True
        default_manager_name = "trashed"
        ordering = ["-deleted_at"]
        verbose_name = "trashed model"


class TrashedModelVersion(ModelVersion):
    """The admin's view of trashed versions (restore, or delete for good)."""

    trashed = TrashedVersionManager()

    class Meta:
        proxy = True
        default_manager_name = "trashed"
        ordering = ["-deleted_at"]
        verbose_name = "trashed version"


class ModelAlias(models.Model):
    """A name such as `champion` pointing at one version of a registration."""

    registration = models.ForeignKey(
        ModelRegistration, on_delete=models.CASCADE, related_name="aliases"
    )
    name = models.CharField(max_length=NAME_MAX_LENGTH)
    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="aliases")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = LiveRegistrationChildManager()
    all_objects = AllRowsManager()

    class Meta:
        ordering = ["registration", "name"]
        verbose_name_plural = "model aliases"
        constraints = [
            models.UniqueConstraint(fields=["registration", "name"], name="unique_alias_name"),
        ]

    def __str__(self) -> str:
        return f"{self.registration}@{self.name}"


class StageTransition(models.Model):
    """One entry of a registration's history, append-only. Survives the deletion of its version.

    Mostly stage changes; also the deletion of a version (to_stage None) and alias changes
    (`alias` set; the stage does not change, `alias_from_version` is where it pointed before).
    """

    registration = models.ForeignKey(
        ModelRegistration, on_delete=models.CASCADE, related_name="transitions"
    )
    version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="transitions"
    )
    version_number = models.PositiveIntegerField()
    from_stage = models.CharField(max_length=20, choices=ModelVersionStage.choices)
    to_stage = models.CharField(max_length=20, choices=ModelVersionStage.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept as text too, so history still says who after a user is deleted.
    actor_name = models.CharField(max_length=150, blank=True)
    comment = models.TextField(blank=True)
    cause = models.CharField(
        max_length=30, choices=TransitionCause.choices, default=TransitionCause.DIRECT
    )
    alias = models.CharField(max_length=NAME_MAX_LENGTH, blank=True)
    alias_from_version = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = LiveRegistrationChildManager()
    all_objects = AllRowsManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["registration", "-created_at"], name="transition_registration_idx"
            ),
        ]

    def __str__(self) -> str:
        if self.alias:
            return f"{self.registration}@{self.alias}: {self.cause} v{self.version_number}"
        return f"{self.registration} v{self.version_number}: {self.from_stage} -> {self.to_stage}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError("Stage transitions are append-only.")
        super().save(*args, **kwargs)


class RoleName(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    CONTRIBUTOR = "contributor", "Contributor"
    APPROVER = "approver", "Approver"
    OWNER = "owner", "Owner"


class RegistrationRole(models.Model):
    """A role on one registration, granted to a user or to a group (exactly one of them)."""

    registration = models.ForeignKey(
        ModelRegistration, on_delete=models.CASCADE, related_name="roles"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="registration_roles",
    )
    group = models.ForeignKey(
        "auth.Group",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="registration_roles",
    )
    role = models.CharField(max_length=16, choices=RoleName.choices)
    granted_at = models.DateTimeField(default=timezone.now, editable=False)
    granted_by = models.CharField(max_length=150, blank=True, editable=False)

    class Meta:
        ordering = ["registration", "group__name", "user__username"]
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=True) ^ Q(group__isnull=True),
                name="role_user_xor_group",
            ),
            models.UniqueConstraint(
                fields=["registration", "user"],
                condition=Q(user__isnull=False),
                name="unique_role_per_user",
            ),
            models.UniqueConstraint(
                fields=["registration", "group"],
                condition=Q(group__isnull=False),
                name="unique_role_per_group",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.principal} is {self.role} of {self.registration}"

    @property
    def principal(self) -> str:
        """`alice` for a user, `@reviewers` for a group, as the CLI and API spell them."""
        return f"@{self.group.name}" if self.group_id else self.user.get_username()


class ApiToken(models.Model):
    """A bearer token for pipelines and CI. Only a SHA-256 digest of the secret is stored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, blank=True)
    # The public part of the token, shown in lists so a user can tell tokens apart.
    prefix = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class SyncRun(models.Model):
    """One sync of a registry from its backend, with its progress and outcome."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    registry = models.ForeignKey(Registry, on_delete=models.CASCADE, related_name="sync_runs")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    requested_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    models_seen = models.PositiveIntegerField(default=0)
    versions_seen = models.PositiveIntegerField(default=0)
    models_created = models.PositiveIntegerField(default=0)
    models_updated = models.PositiveIntegerField(default=0)
    models_removed = models.PositiveIntegerField(default=0)
    versions_created = models.PositiveIntegerField(default=0)
    versions_updated = models.PositiveIntegerField(default=0)
    versions_removed = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"sync of {self.registry} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in {self.Status.QUEUED, self.Status.RUNNING}

    def summary(self) -> str:
        return (
            f"models +{self.models_created} ~{self.models_updated} -{self.models_removed}, "
            f"versions +{self.versions_created} ~{self.versions_updated} -{self.versions_removed}"
        )


class WebhookEvent(models.TextChoices):
    """What a webhook can subscribe to (the `event` of each delivery)."""

    VERSION_REGISTERED = "version.registered", "Version registered"
    STAGE_CHANGED = "version.stage_changed", "Stage changed"
    ALIAS_SET = "alias.set", "Alias set"
    REQUEST_CREATED = "request.created", "Request created"
    REQUEST_APPROVED = "request.approved", "Request approved"
    REQUEST_REJECTED = "request.rejected", "Request rejected"
    # Sent only by "send test event", whatever the webhook subscribes to.
    TEST = "test", "Test event"


class Webhook(models.Model):
    """A subscription: events of one registration (or of every registration, when global)
    delivered as signed JSON to a URL."""

    name = models.CharField(max_length=100, blank=True)
    url = models.CharField(max_length=1000)
    # None: a global webhook, for the events of every registration.
    registration = models.ForeignKey(
        ModelRegistration,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="webhooks",
    )
    # Event names (WebhookEvent values); checked by the service.
    events = models.JSONField(default=list)
    # The HMAC key: the server must sign with it, so it is kept, but shown only once.
    secret = models.CharField(max_length=100, editable=False)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name or self.url


class WebhookDelivery(models.Model):
    """One event sent (or being sent) to one webhook: the delivery log."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Delivered"
        FAILED = "failed", "Failed"

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    # Sent as X-Registry-Delivery; a receiver uses it to drop repeats.
    uuid = models.UUIDField(unique=True, editable=False)
    event = models.CharField(max_length=50)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [models.Index(fields=["webhook", "-created_at"], name="delivery_webhook_idx")]

    def __str__(self) -> str:
        return f"{self.event} to {self.webhook} ({self.status})"


class PromotionRequest(models.Model):
    """A contributor's request to move a version into Production, for an approver to decide.

    Kept after it is decided (the record of who asked, who decided and why); it goes only
    with its registration. `from_stage` is the version's stage when asked: a request whose
    version has since moved or been deleted is stale and cannot be approved.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        CANCELLED = "cancelled", "Cancelled"

    registration = models.ForeignKey(
        ModelRegistration, on_delete=models.CASCADE, related_name="promotion_requests"
    )
    version = models.ForeignKey(
        ModelVersion,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="promotion_requests",
    )
    version_number = models.PositiveIntegerField()
    from_stage = models.CharField(max_length=20, choices=ModelVersionStage.choices)
    to_stage = models.CharField(max_length=20, choices=ModelVersionStage.choices)
    archive_existing = models.BooleanField(default=False)
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING)
    comment = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by_name = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by_name = models.CharField(max_length=150, blank=True)
    decision_comment = models.TextField(blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["version"],
                condition=Q(state="pending"),
                name="one_pending_request_per_version",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "-created_at"], name="promotion_request_state_idx"),
        ]

    def __str__(self) -> str:
        return f"request #{self.pk}: {self.registration} v{self.version_number} -> {self.to_stage}"

    @property
    def is_pending(self) -> bool:
        return self.state == self.State.PENDING

    @property
    def is_stale(self) -> bool:
        """Pending, but its version was deleted (trashed too) or changed stage since asked."""
        version = self.version
        return self.is_pending and (
            version is None or version.deleted_at is not None or version.stage != self.from_stage
        )


class AuditAction(models.TextChoices):
    """What an audit event records. Kept out of the field's `choices` on purpose: a new
    action is a line here, not a migration."""

    CREATE = "create", "Created"
    UPDATE = "update", "Updated"
    DELETE = "delete", "Deleted"
    TRANSITION = "transition", "Stage changed"
    ALIAS = "alias", "Alias changed"
    ROLE = "role", "Role changed"
    SYNC = "sync", "Sync"
    IMPORT = "import", "Imported from a backup"
    RESTORE = "restore", "Restored from the trash"
    PURGE = "purge", "Deleted for good"


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise ValueError("The audit log is append-only.")

    def delete(self):
        raise ValueError("The audit log is append-only.")


class AuditEvent(models.Model):
    """One change made through the product: who, when, to what, and each changed field's
    before/after. Append-only; written only by `models_app.audit.record`.

    Names are kept as text rather than foreign keys, so an event outlives the user, registry,
    registration or version it names, and deleting those never touches the log.
    """

    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    action = models.CharField(max_length=30)
    # The username, or "system" (operator without --user), or "sync" (found in a backend).
    actor_name = models.CharField(max_length=150)
    actor_id = models.PositiveIntegerField(null=True, blank=True)
    # What changed: "registry", "registration", "version", "alias", "token", "flavor",
    # "sync", "role"... and its identity at the time.
    object_type = models.CharField(max_length=30)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=600)
    registry_name = models.CharField(max_length=100, blank=True)
    registration_name = models.CharField(max_length=NAME_MAX_LENGTH, blank=True)
    version_number = models.PositiveIntegerField(null=True, blank=True)
    # {field: {"before": ..., "after": ...}} for the fields that changed.
    changes = models.JSONField(default=dict, blank=True)
    comment = models.TextField(blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["registry_name", "registration_name", "-created_at"],
                name="audit_registration_idx",
            ),
            models.Index(fields=["actor_name", "-created_at"], name="audit_actor_idx"),
            models.Index(fields=["action", "-created_at"], name="audit_action_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.actor_name} {self.action} {self.object_type} {self.object_repr}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError("The audit log is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("The audit log is append-only.")
