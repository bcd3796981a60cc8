"""Admin panel. Every write goes through services; the admin only shows forms and lists."""

import dataclasses

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected
from django.contrib.admin.options import ActionLocation
from django.contrib.admin.utils import model_ngettext
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Count, Q
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html, format_html_join

from models_app import audit, selectors, services
from models_app.exceptions import DOMAIN_ERRORS, describe_error
from models_app.forms import BoundedJSONField, add_report
from models_app.models import (
    ApiToken,
    AuditEvent,
    ModelAlias,
    ModelRegistration,
    ModelVersion,
    ModelVersionStage,
    PromotionRequest,
    RegistrationRole,
    Registry,
    StageTransition,
    TrashedModelRegistration,
    TrashedModelVersion,
    Webhook,
)


def _run(request, action, label: str) -> bool:
    """Call one service; show its error as an admin message instead of a 500."""
    try:
        action()
    except DOMAIN_ERRORS as exc:
        messages.error(request, f"{label}: {describe_error(exc).line()}")
        return False
    return True


class ServiceForm(forms.ModelForm):
    """An admin form that saves through a service, showing its errors next to the fields.

    The service runs after the model's own field checks; on success the form's instance is
    the saved object, so the admin's save_model has nothing left to do.
    """

    request = None

    def run_service(self, old):  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def _post_clean(self):
        super()._post_clean()
        if self.errors:
            return
        old = type(self.instance).objects.get(pk=self.instance.pk) if self.instance.pk else None
        try:
            self.instance = self.run_service(old)
        except DOMAIN_ERRORS as exc:
            add_report(self, exc)


def _patch(old_map: dict, new_map: dict) -> dict:
    """The merge patch that turns old_map into new_map (removed keys map to None)."""
    return {**{key: None for key in old_map if key not in new_map}, **new_map}


class ServiceDeleteAdmin(admin.ModelAdmin):
    """Deletes through a service and reports only what the service actually deleted.

    Django logs a deletion before it deletes and then announces success; here a refusal
    (permission, a flavor that cannot delete, a backend that says no) shows the refusal,
    writes no log entry and leaves the success message out.
    """

    def delete_through_service(self, request, obj) -> None:  # pragma: no cover
        raise NotImplementedError

    def log_deletions(self, request, queryset):
        """Logged by delete_model once the service has deleted, never before."""

    def delete_model(self, request, obj) -> bool:
        pk = obj.pk
        if not _run(request, lambda: self.delete_through_service(request, obj), str(obj)):
            return False
        obj.pk = pk  # a deleted instance forgets its key; the log entry names it
        super().log_deletions(request, [obj])
        return True

    def delete_queryset(self, request, queryset) -> int:
        return sum(self.delete_model(request, obj) for obj in queryset)

    def response_delete(self, request, obj_display, obj_id):
        if self.model._default_manager.filter(pk=obj_id).exists():  # refused: already said why
            return redirect(
                reverse(
                    f"admin:{self.opts.app_label}_{self.opts.model_name}_change",
                    args=[obj_id],
                    current_app=self.admin_site.name,
                )
            )
        return super().response_delete(request, obj_display, obj_id)

    def get_actions(self, request, action_location=ActionLocation.CHANGE_LIST):
        actions = super().get_actions(request, action_location)
        if "delete_selected" in actions:
            actions["delete_selected"] = dataclasses.replace(
                actions["delete_selected"], func=type(self)._delete_selected
            )
        return actions

    def _delete_selected(self, request, queryset):
        """Django's bulk delete, counting only the objects the service deleted."""
        _, _, perms_needed, protected = self.get_deleted_objects(queryset, request)
        if not request.POST.get("post") or perms_needed or protected:
            return delete_selected(self, request, queryset)  # confirmation page or refusal
        deleted = self.delete_queryset(request, queryset)
        if deleted:
            self.message_user(
                request,
                f"Deleted {deleted} {model_ngettext(self.opts, deleted)}.",
                messages.SUCCESS,
            )
        return None


class ServiceAdmin(ServiceDeleteAdmin):
    formfield_overrides = {models.JSONField: {"form_class": BoundedJSONField}}

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        return type(form.__name__, (form,), {"request": request})

    def save_model(self, request, obj, form, change):
        """Already saved by the form's service call."""


class RegistryForm(ServiceForm):
    class Meta:
        model = Registry
        fields = ("name", "flavor", "config", "description", "case_insensitive_names")

    def run_service(self, old):
        data = self.cleaned_data
        if old:
            return services.registry_update(
                registry=old,
                config=data["config"],
                description=data["description"],
                case_insensitive_names=data["case_insensitive_names"],
                user=self.request.user,
            )
        return services.registry_create(
            name=data["name"],
            flavor=data["flavor"],
            config=data["config"],
            description=data["description"],
            case_insensitive_names=data["case_insensitive_names"],
            user=self.request.user,
        )


class RegistrationForm(ServiceForm):
    class Meta:
        model = ModelRegistration
        fields = ("registry", "name", "description", "tags")

    def run_service(self, old):
        data, user = self.cleaned_data, self.request.user
        if not old:
            return services.registration_create(
                registry=data["registry"],
                name=data["name"],
                description=data["description"],
                tags=data["tags"],
                user=user,
            )
        return services.registration_update(
            registration=old,
            description=data["description"],
            tags=_patch(old.tags, data["tags"] or {}),
            name=data["name"],
            user=user,
        )


class VersionForm(ServiceForm):
    class Meta:
        model = ModelVersion
        fields = ModelVersion.MUTABLE_FIELDS

    def run_service(self, old):
        changes = {
            field: _patch(current, self.cleaned_data[field] or {})
            if isinstance(current := getattr(old, field), dict)
            else self.cleaned_data[field]
            for field in ModelVersion.MUTABLE_FIELDS
        }
        return services.version_update(version=old, user=self.request.user, **changes)


@admin.register(Registry)
class RegistryAdmin(ServiceAdmin):
    form = RegistryForm
    list_display = ("name", "flavor", "registration_count", "last_synced_at", "updated_at")
    search_fields = ("name", "description")
    list_filter = ("flavor",)
    readonly_fields = ("created_at", "updated_at", "last_synced_at")

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                registration_count=Count(
                    "registrations", filter=Q(registrations__deleted_at__isnull=True)
                )
            )
        )

    @admin.display(description="Models", ordering="registration_count")
    def registration_count(self, obj):
        return obj.registration_count

    def get_readonly_fields(self, request, obj=None):
        # Changing the flavor of a registry with models would orphan them in the old backend.
        return (*self.readonly_fields, "name", "flavor") if obj else self.readonly_fields

    def delete_through_service(self, request, obj):
        services.registry_delete(registry=obj, user=request.user)


class VersionInline(admin.TabularInline):
    model = ModelVersion
    fields = ("version_link", "stage", "model_source_uri", "created_at", "created_by")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False
    ordering = ("-version",)

    @admin.display(description="Version")
    def version_link(self, obj):
        url = reverse("admin:models_app_modelversion_change", args=[obj.pk])
        return format_html('<a href="{}">v{}</a>', url, obj.version)

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("created_by")


@admin.register(ModelRegistration)
class ModelRegistrationAdmin(ServiceAdmin):
    form = RegistrationForm
    list_display = ("name", "registry", "version_count", "latest", "updated_at", "created_by")
    list_filter = ("registry",)
    search_fields = ("name", "description")
    list_select_related = ("registry", "created_by")
    readonly_fields = ("created_at", "updated_at", "created_by", "last_version_number")
    inlines = [VersionInline]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(version_count=Count("versions", filter=Q(versions__deleted_at__isnull=True)))
        )

    @admin.display(description="Versions", ordering="version_count")
    def version_count(self, obj):
        return obj.version_count

    @admin.display(description="Last number", ordering="last_version_number")
    def latest(self, obj):
        return obj.last_version_number or "-"

    def get_readonly_fields(self, request, obj=None):
        return (*self.readonly_fields, "registry") if obj else self.readonly_fields

    def get_deleted_objects(self, objs, request):
        # History goes with its registration (the service rule); nobody deletes it on its own.
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        perms_needed.discard(StageTransition._meta.verbose_name)
        return deleted, counts, perms_needed, protected

    def delete_through_service(self, request, obj):
        services.registration_delete(registration=obj, user=request.user)


class TransitionInline(admin.TabularInline):
    model = StageTransition
    fields = ("created_at", "from_stage", "to_stage", "actor_name", "cause", "comment")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("-created_at", "-id")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def _transition_action(stage: str, *, archive_existing: bool, description: str):
    @admin.action(description=description, permissions=["change"])
    def action(modeladmin, request, queryset):
        done = 0
        for version in queryset.select_related("registration__registry").order_by("version"):
            if _run(
                request,
                lambda v=version: services.version_transition_stage(
                    version=v,
                    stage=stage,
                    archive_existing=archive_existing,
                    comment="From the admin panel.",
                    user=request.user,
                ),
                str(version),
            ):
                done += 1
        if done:
            messages.success(request, f"Moved {done} version(s) to {stage}.")

    action.__name__ = f"move_to_{stage.lower()}"
    return action


@admin.register(ModelVersion)
class ModelVersionAdmin(ServiceAdmin):
    form = VersionForm
    list_display = (
        "__str__",
        "stage",
        "model_source_uri",
        "pipeline_name",
        "created_at",
        "created_by",
    )
    list_filter = ("stage", "registration__registry", "model_library")
    search_fields = ("registration__name", "description", "model_source_uri", "experiment_run_id")
    list_select_related = ("registration__registry", "created_by")
    readonly_fields = (
        "registration",
        "version",
        "stage",
        *ModelVersion.IMMUTABLE_FIELDS,
        "created_at",
        "updated_at",
        "created_by",
    )
    inlines = [TransitionInline]
    actions = [
        _transition_action(
            ModelVersionStage.STAGING, archive_existing=False, description="Move to Staging"
        ),
        _transition_action(
            ModelVersionStage.PRODUCTION,
            archive_existing=True,
            description="Promote to Production (archive existing)",
        ),
        _transition_action(
            ModelVersionStage.ARCHIVED, archive_existing=False, description="Archive"
        ),
    ]

    def has_add_permission(self, request):
        # Versions are registered from pipelines, the API, the CLI or the dashboard form.
        return False

    def delete_through_service(self, request, obj):
        services.version_delete(version=obj, user=request.user)


class TrashAdmin(ServiceDeleteAdmin):
    """The trash: read-only rows; "Restore selected" brings items back, and Django's delete
    (with its confirmation page) deletes them for good through the purge service. Who may
    restore or purge is the services' decision (the model's owner)."""

    actions = ["restore_selected"]
    readonly_fields = ("deleted_at", "deleted_by")
    entity = ""  # whose global view or delete permission shows the trash in the admin

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        user = request.user
        return (
            user.is_active
            and user.is_staff
            and any(
                user.has_perm(f"models_app.{action}_{self.entity}") for action in ("view", "delete")
            )
        )

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def has_delete_permission(self, request, obj=None):
        return self.has_view_permission(request)

    @admin.display(description="Expires")
    def expires(self, obj):
        return selectors.trash_expiry(obj.deleted_at)

    @admin.action(description="Restore selected items")
    def restore_selected(self, request, queryset):
        restored = sum(
            _run(request, lambda obj=obj: self.restore_item(request, obj), str(obj))
            for obj in queryset
        )
        if restored:
            self.message_user(request, f"Restored {restored} item(s).", messages.SUCCESS)


@admin.register(TrashedModelRegistration)
class TrashedRegistrationAdmin(TrashAdmin):
    entity = "modelregistration"
    list_display = ("name", "registry", "deleted_at", "deleted_by", "expires")
    list_filter = ("registry",)
    search_fields = ("name",)
    list_select_related = ("registry", "deleted_by")
    fields = ("name", "registry", "description", "deleted_at", "deleted_by")

    def restore_item(self, request, obj):
        services.registration_restore(registration=obj, user=request.user)

    def delete_through_service(self, request, obj):
        services.registration_purge(registration=obj, user=request.user)


@admin.register(TrashedModelVersion)
class TrashedVersionAdmin(TrashAdmin):
    entity = "modelversion"
    list_display = ("__str__", "stage", "deleted_at", "deleted_by", "expires")
    search_fields = ("registration__name",)
    list_select_related = ("registration__registry", "deleted_by")
    fields = ("registration", "version", "stage", "model_source_uri", "deleted_at", "deleted_by")

    def restore_item(self, request, obj):
        services.version_restore(version=obj, user=request.user)

    def delete_through_service(self, request, obj):
        services.version_purge(version=obj, user=request.user)


@admin.register(ModelAlias)
class ModelAliasAdmin(ServiceDeleteAdmin):
    list_display = ("name", "registration", "version", "updated_at")
    search_fields = ("name", "registration__name")
    list_select_related = ("registration__registry", "version__registration__registry")
    readonly_fields = ("registration", "name", "version", "created_at", "updated_at")

    def has_add_permission(self, request):
        return False

    def delete_through_service(self, request, obj):
        services.alias_delete(registration=obj.registration, alias=obj.name, user=request.user)


@admin.register(StageTransition)
class StageTransitionAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "registration",
        "version_number",
        "from_stage",
        "to_stage",
        "actor_name",
        "cause",
    )
    list_filter = ("to_stage", "cause", "registration__registry")
    search_fields = ("registration__name", "actor_name", "comment")
    list_select_related = ("registration__registry",)
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class RoleForm(ServiceForm):
    class Meta:
        model = RegistrationRole
        fields = ("registration", "user", "group", "role")

    def run_service(self, old):
        data = self.cleaned_data
        if old is not None:  # only the role can change
            registration, principal = old.registration, old.principal
        elif bool(data.get("user")) == bool(data.get("group")):
            raise ValidationError("Choose a user or a group (one of them).")
        else:
            registration = data["registration"]
            user, group = data.get("user"), data.get("group")
            principal = user.get_username() if user else f"@{group.name}"
        return services.role_grant(
            registration=registration,
            principal=principal,
            role=data["role"],
            user=self.request.user,
        )


@admin.register(RegistrationRole)
class RegistrationRoleAdmin(ServiceAdmin):
    """Grants go through services.role_grant (owners only); changing one is granting anew."""

    form = RoleForm
    list_display = ("registration", "user", "group", "role", "granted_by", "granted_at")
    list_filter = ("role", "registration__registry")
    search_fields = ("registration__name", "user__username", "group__name")
    list_select_related = ("registration__registry", "user", "group")

    def get_readonly_fields(self, request, obj=None):
        return ("registration", "user", "group") if obj else ()

    def delete_through_service(self, request, obj):
        services.role_revoke(
            registration=obj.registration, principal=obj.principal, user=request.user
        )


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The audit log, read-only for everyone, superusers included: it is append-only."""

    list_display = (
        "created_at",
        "actor_name",
        "action",
        "object_type",
        "object_repr",
        "registry_name",
    )
    list_filter = ("action", "object_type", "registry_name")
    search_fields = ("registration_name", "actor_name", "object_repr")
    date_hierarchy = "created_at"
    actions = None

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PromotionRequest)
class PromotionRequestAdmin(admin.ModelAdmin):
    """The record of requests for Production; they are decided on the dashboard, REST or CLI
    (where the two-person rule and the move live), so here they are read-only."""

    list_display = (
        "id",
        "created_at",
        "registration",
        "version_number",
        "to_stage",
        "state",
        "requested_by_name",
        "decided_by_name",
    )
    list_filter = ("state", "registration__registry")
    search_fields = ("registration__name", "requested_by_name", "decided_by_name", "comment")
    list_select_related = ("registration__registry",)
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class TokenForm(ServiceForm):
    class Meta:
        model = ApiToken
        fields = ("user", "name")

    def run_service(self, old):
        token, secret = services.token_create(
            owner=self.cleaned_data["user"], name=self.cleaned_data["name"], user=self.request.user
        )
        # Shown once by ApiTokenAdmin.response_add, never put in a message (messages may travel
        # in a cookie).
        token.new_secret = secret
        return token


@admin.register(ApiToken)
class ApiTokenAdmin(ServiceAdmin):
    form = TokenForm
    list_display = ("prefix", "name", "user", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("prefix", "name", "user__username")
    list_select_related = ("user",)
    actions = ["revoke"]

    def get_readonly_fields(self, request, obj=None):
        return ("user", "name", "prefix", "created_at", "last_used_at", "revoked_at") if obj else ()

    def response_add(self, request, obj, post_url_continue=None):
        secret = getattr(obj, "new_secret", None)
        if secret is None:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "New API token",
            "token": obj,
            "secret": secret,
        }
        response = TemplateResponse(request, "admin/models_app/apitoken/created.html", context)
        add_never_cache_headers(response)
        return response

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Revoke selected tokens", permissions=["view"])
    def revoke(self, request, queryset):
        for token in queryset.select_related("user"):
            _run(
                request,
                lambda t=token: services.token_revoke(token=t, user=request.user),
                str(token),
            )
        messages.success(request, "Revoked.")


RECENT_DELIVERIES = 20


@admin.register(Webhook)
class WebhookAdmin(ServiceDeleteAdmin):
    """Webhooks are created where their secret can be shown once (dashboard, API, CLI)."""

    list_display = ("__str__", "url", "registration", "active", "created_at", "created_by")
    list_filter = ("active",)
    search_fields = ("name", "url", "registration__name")
    list_select_related = ("registration__registry", "created_by")
    fields = readonly_fields = (
        "name",
        "url",
        "registration",
        "events",
        "active",
        "created_at",
        "created_by",
        "recent_deliveries",
    )
    actions = ["send_test_event"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Latest deliveries")
    def recent_deliveries(self, obj):
        rows = [
            (d.created_at, d.event, d.status, d.attempts, d.response_status or "—", d.error[:100])
            for d in selectors.webhook_deliveries(webhook=obj)[:RECENT_DELIVERIES]
        ]
        if not rows:
            return "None yet."
        return format_html(
            "<table><tr><th>time</th><th>event</th><th>status</th><th>attempts</th>"
            "<th>response</th><th>error</th></tr>{}</table>",
            format_html_join("", "<tr>" + "<td>{}</td>" * 6 + "</tr>", rows),
        )

    def delete_through_service(self, request, obj):
        services.webhook_delete(webhook=obj, user=request.user)

    @admin.action(description="Send a test event", permissions=["view"])
    def send_test_event(self, request, queryset):
        sent = 0
        for webhook in queryset.select_related("registration__registry"):
            sent += _run(
                request,
                lambda w=webhook: services.webhook_test(webhook=w, user=request.user),
                str(webhook),
            )
        if sent:
            messages.success(request, f"Test event queued for {sent} webhook(s).")


# Users and groups: Django's own admin, plus an audit event for every change of access ---------
_ACCESS_FIELDS = ("is_active", "is_staff", "is_superuser")


def _access_of(obj) -> dict:
    """What decides a user's or group's global role (permissions, groups, flags)."""
    if obj is None or obj.pk is None:
        return {}
    state = {"permissions": sorted(p.codename for p in _permissions_of(obj))}
    if isinstance(obj, Group):
        return state
    state["groups"] = sorted(obj.groups.values_list("name", flat=True))
    state.update({field: getattr(obj, field) for field in _ACCESS_FIELDS})
    return state


def _permissions_of(obj):
    field = obj.permissions if isinstance(obj, Group) else obj.user_permissions
    return field.all()


class AuditedAccessAdmin:
    """Records who changed a user's or group's flags, groups or permissions (their global
    role on every registration) in the audit log, in the admin's own transaction."""

    def save_model(self, request, obj, form, change):
        fresh = type(obj).objects.filter(pk=obj.pk).first() if change else None
        request._access_before = _access_of(fresh)
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        obj = form.instance
        before = getattr(request, "_access_before", {})
        after = _access_of(obj)
        changes = audit.diff(before, after) if change else audit.created(after)
        if changes:
            audit.record(
                action=audit.ROLE,
                user=request.user,
                object_type="group" if isinstance(obj, Group) else "user",
                object_id=str(obj.pk),
                object_repr=str(obj),
                changes=changes,
                comment="Global access changed in the admin.",
            )

    def delete_model(self, request, obj):
        audit.record(
            action=audit.DELETE,
            user=request.user,
            object_type="group" if isinstance(obj, Group) else "user",
            object_id=str(obj.pk),
            object_repr=str(obj),
            changes=audit.deleted(_access_of(obj)),
        )
        super().delete_model(request, obj)


admin.site.unregister(get_user_model())
admin.site.unregister(Group)


@admin.register(get_user_model())
class AuditedUserAdmin(AuditedAccessAdmin, UserAdmin):
    pass


@admin.register(Group)
class AuditedGroupAdmin(AuditedAccessAdmin, GroupAdmin):
    pass
