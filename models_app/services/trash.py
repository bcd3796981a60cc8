"""The trash: deleting a registration or a version moves it here; an owner restores it (with
its version numbers and stage history) or purges it for good, or it expires after
settings.MODEL_REGISTRY_TRASH_DAYS and `model_registry trash purge --expired` removes it.

What the trash means for a registry with a remote backend (MLflow): moving to the trash
touches only the local index, and the backend delete happens at purge. Restoring is then
exact (the backend still has the model and its versions under the same numbers), and nothing
is lost by a mistaken delete. Deleting in the backend at once would have made restore a
re-registration, and MLflow would hand out new version numbers: a restore that does not
restore. The price, said plainly in the README: until the purge, a client reading the
backend directly still sees the item, and the model's name stays taken in that registry
(creating it again is refused with a message naming the trash). A builtin registry has no
such backend, so its names are free as soon as a model is trashed, as in MLflow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from models_app import access, audit
from models_app.access import Role
from models_app.exceptions import Conflict, NotFound, RegistryError, describe_error
from models_app.flavors import Capability
from models_app.models import (
    ModelAlias,
    ModelRegistration,
    ModelVersion,
    ModelVersionStage,
    PromotionRequest,
    TransitionCause,
)
from models_app.selectors import trash_days
from models_app.services._backend import registration_write
from models_app.services._common import (
    _lock_registration,
    _real_user,
    _refuse_case_clash,
    _require_promote_gate,
)
from models_app.services.promotions import _decide
from models_app.services.transitions import _Move, _record, make_transition


def _require_owner(user, registration: ModelRegistration, doing: str, item) -> None:
    # Restoring and purging are the owner's, as deleting is.
    if not access.can(user, registration, Role.VIEWER):
        # Word for word what a missing trash item answers: an id must not reveal a model.
        kind = "model" if isinstance(item, ModelRegistration) else "version"
        raise NotFound(f"No {kind} {item.pk} in the trash.")
    access.require(user, registration, Role.OWNER, doing)


def _trashed_registration(registration: ModelRegistration) -> ModelRegistration:
    found = ModelRegistration.all_objects.select_related("registry").filter(pk=registration.pk)
    found = found.filter(deleted_at__isnull=False).first()
    if found is None:
        raise NotFound(f"Model '{registration.name}' is not in the trash.")
    return found


def _trashed_version(version: ModelVersion) -> ModelVersion:
    found = (
        ModelVersion.all_objects.select_related("registration__registry")
        .filter(pk=version.pk, deleted_at__isnull=False)
        .first()
    )
    if found is None:
        raise NotFound(f"Version {version.version} is not in the trash.")
    return found


def move_registration_to_trash(*, registration: ModelRegistration, user) -> None:
    """Move a live registration (with its versions, aliases and history) to the trash."""
    with registration_write(registration) as registration:
        _require_promote_gate(
            user,
            registration=registration,
            stages=registration.versions.values_list("stage", flat=True).distinct(),
            aliases=registration.aliases.values_list("name", flat=True),
        )
        with transaction.atomic():
            locked = _lock_registration(registration.pk)
            locked.deleted_at = timezone.now()
            locked.deleted_by = _real_user(user)
            locked.save(update_fields=["deleted_at", "deleted_by"])
            audit.record(
                action=audit.DELETE,
                user=user,
                obj=locked,
                changes={"deleted_at": {"before": None, "after": locked.deleted_at}},
                comment="Moved to the trash with its versions, aliases and history.",
            )


def move_version_to_trash(*, version: ModelVersion, user) -> None:
    """Move a live version to the trash. Its aliases are removed (as MLflow removes them on
    delete, so another version can take them); its number stays taken and its history
    stays with the registration, which records the deletion."""
    with registration_write(version.registration) as registration:
        version = ModelVersion.objects.filter(pk=version.pk).first()
        if version is None:
            raise NotFound("That version no longer exists.")
        aliases = sorted(version.aliases.values_list("name", flat=True))
        _require_promote_gate(
            user, registration=registration, stages=[version.stage], aliases=aliases
        )
        with transaction.atomic():
            registration = _lock_registration(registration.pk)
            removed = f" Aliases removed: {', '.join(aliases)}." if aliases else ""
            _record(
                version,
                ModelVersionStage.NONE,
                user=user,
                comment=f"Version {version.version} moved to the trash (was {version.stage})."
                + removed,
                cause=TransitionCause.VERSION_DELETED,
            ).save()
            version.aliases.all().delete()
            now = timezone.now()
            ModelVersion.objects.filter(pk=version.pk).update(
                deleted_at=now, deleted_by=_real_user(user)
            )
            _record_version(
                audit.DELETE,
                registration,
                version,
                user,
                {"deleted_at": {"before": None, "after": now}, **_gone(aliases)},
                "Moved to the trash." + removed,
            )
            registration.save(update_fields=["updated_at"])


def registration_restore(*, registration: ModelRegistration, user) -> ModelRegistration:
    """Bring a trashed registration back with its versions (those not trashed on their own),
    aliases and history. Refused while another model holds its name."""
    registration = _trashed_registration(registration)
    _require_owner(user, registration, "restore it", registration)
    registry = registration.registry
    with registration_write(registration, include_trashed=True) as registration:
        if registration.deleted_at is None:
            return registration  # restored by someone else meanwhile
        if ModelRegistration.objects.filter(registry=registry, name=registration.name).exists():
            raise _name_taken(registration)
        live_versions = ModelVersion.all_objects.filter(
            registration=registration, deleted_at__isnull=True
        )
        # Coming back puts its Production versions and aliases back into deployment.
        _require_promote_gate(
            user,
            registration=registration,
            stages=live_versions.values_list("stage", flat=True).distinct(),
            aliases=ModelAlias.all_objects.filter(registration=registration).values_list(
                "name", flat=True
            ),
        )
        try:
            with transaction.atomic():
                _refuse_case_clash(registry, registration.name, exclude_pk=registration.pk)
                locked = _lock_registration(registration.pk, include_trashed=True)
                trashed_at = locked.deleted_at
                locked.deleted_at, locked.deleted_by = None, None
                locked.save(update_fields=["deleted_at", "deleted_by", "updated_at"])
                audit.record(
                    action=audit.RESTORE,
                    user=user,
                    obj=locked,
                    changes={"deleted_at": {"before": trashed_at, "after": None}},
                    comment="Restored from the trash.",
                )
        except IntegrityError:  # the name was taken meanwhile
            raise _name_taken(registration)
    return ModelRegistration.objects.select_related("registry").get(pk=registration.pk)


def _name_taken(registration: ModelRegistration) -> Conflict:
    return Conflict(
        f"Model '{registration.name}' cannot be restored: registry "
        f"'{registration.registry.name}' has a new model of that name. Rename or delete that "
        "one first."
    )


def version_restore(*, version: ModelVersion, user) -> ModelVersion:
    """Bring a trashed version back under its own number, in the stage it had; the history
    records it. Its registration must not be in the trash (restore that first)."""
    version = _trashed_version(version)
    _require_owner(user, version.registration, "restore a version", version)
    if version.registration.deleted_at is not None:
        raise Conflict(
            f"Model '{version.registration.name}' is in the trash: restore it first, "
            f"then version {version.version}."
        )
    with registration_write(version.registration) as registration:
        version = ModelVersion.all_objects.get(pk=version.pk)
        if version.deleted_at is None:
            return ModelVersion.objects.select_related("registration__registry").get(pk=version.pk)
        _require_promote_gate(user, registration=registration, stages=[version.stage])
        with transaction.atomic():
            registration = _lock_registration(registration.pk)
            entry = _record(
                version,
                version.stage,
                user=user,
                comment=f"Version {version.version} restored from the trash.",
                cause=TransitionCause.VERSION_RESTORED,
            )
            entry.from_stage = ModelVersionStage.NONE
            entry.save()
            ModelVersion.all_objects.filter(pk=version.pk).update(deleted_at=None, deleted_by=None)
            _record_version(
                audit.RESTORE,
                registration,
                version,
                user,
                {"deleted_at": {"before": version.deleted_at, "after": None}},
                "Restored from the trash.",
            )
            registration.save(update_fields=["updated_at"])
            # A request asked before the deletion is not a request about what comes back.
            for request in PromotionRequest.objects.filter(
                version=version, state=PromotionRequest.State.PENDING
            ):
                _decide(
                    request,
                    PromotionRequest.State.CANCELLED,
                    user=user,
                    comment="Its version was deleted and restored since: ask again.",
                )
        if version.stage == ModelVersionStage.PRODUCTION:
            # Production changed hands while it was in the trash: coming back straight into
            # Production would skip the gate and the approvers. It comes back archived.
            make_transition(
                registration.registry.get_flavor(),
                registration,
                _Move(
                    ModelVersion.objects.get(pk=version.pk), ModelVersionStage.ARCHIVED, [], False
                ),
                user=user,
                comment="Restored from the trash out of Production: promote it again to deploy it.",
                cause=TransitionCause.VERSION_RESTORED,
            )
    return ModelVersion.objects.select_related("registration__registry").get(pk=version.pk)


def registration_purge(*, registration: ModelRegistration, user) -> None:
    """Delete a trashed registration for good: from the backend, then from the index, with
    its versions, aliases and history."""
    registration = _trashed_registration(registration)
    _require_owner(user, registration, "delete it for good", registration)
    flavor = registration.registry.get_flavor()
    flavor.require(Capability.DELETE_MODEL)
    with registration_write(registration, include_trashed=True) as registration:
        if registration.deleted_at is None:
            raise NotFound(f"Model '{registration.name}' is not in the trash.")
        _backend_delete(flavor.delete_model, name=registration.name)
        with transaction.atomic():
            locked = _lock_registration(registration.pk, include_trashed=True)
            audit.record(
                action=audit.PURGE,
                user=user,
                obj=locked,
                changes=audit.deleted(
                    audit.snapshot(locked, ("name", "description", "tags", "deleted_at"))
                ),
                comment="Deleted for good from the trash, from the backend too.",
            )
            locked.delete()


def version_purge(*, version: ModelVersion, user) -> None:
    """Delete a trashed version for good: from the backend, then from the index. The
    history stays with the registration and records it; the number stays used."""
    version = _trashed_version(version)
    registration = version.registration
    _require_owner(user, registration, "delete a version for good", version)
    flavor = registration.registry.get_flavor()
    flavor.require(Capability.DELETE_VERSION)
    with registration_write(registration, include_trashed=True) as registration:
        version = ModelVersion.all_objects.filter(pk=version.pk).first()
        if version is None or version.deleted_at is None:
            raise NotFound("That version is not in the trash.")
        _backend_delete(
            flavor.delete_model_version, name=registration.name, version=version.version
        )
        with transaction.atomic():
            registration = _lock_registration(registration.pk, include_trashed=True)
            _record(
                version,
                ModelVersionStage.NONE,
                user=user,
                comment=f"Version {version.version} deleted for good from the trash.",
                cause=TransitionCause.VERSION_PURGED,
            ).save()
            _record_version(
                audit.PURGE,
                registration,
                version,
                user,
                audit.deleted(audit.snapshot(version, ("stage", "model_source_uri", "deleted_at"))),
                "Deleted for good from the trash, from the backend too.",
            )
            ModelVersion.all_objects.filter(pk=version.pk).delete()


def _record_version(action, registration, version, user, changes, comment) -> None:
    audit.record(
        action=action,
        user=user,
        object_type="version",
        object_id=str(version.pk),
        **audit.at(registration, version.version),
        changes=changes,
        comment=comment,
    )


def _gone(aliases: list[str]) -> dict:
    return {"aliases": {"before": aliases, "after": []}} if aliases else {}


def _backend_delete(delete, **address) -> None:
    # Already gone from the backend (deleted there directly) is what a purge wants.
    try:
        delete(**address)
    except NotFound:
        pass


@dataclass
class PurgeReport:
    registrations: int = 0
    versions: int = 0
    errors: list[str] = field(default_factory=list)


def trash_purge_expired(*, user, now: datetime | None = None) -> PurgeReport:
    """Purge every item trashed longer ago than the trash period. Each purge is its own
    write: one that fails (a backend down) is reported and the others go on."""
    cutoff = (now or timezone.now()) - timedelta(days=trash_days())
    report = PurgeReport()
    for registration in ModelRegistration.all_objects.select_related("registry").filter(
        deleted_at__lt=cutoff
    ):
        try:
            registration_purge(registration=registration, user=user)
            report.registrations += 1
        except NotFound:
            continue  # restored or purged by someone else meanwhile
        except (RegistryError, PermissionDenied) as exc:  # reported; the next item is tried
            report.errors.append(f"{registration}: {describe_error(exc).message}")
    for version in ModelVersion.all_objects.select_related("registration__registry").filter(
        deleted_at__lt=cutoff
    ):
        try:
            version_purge(version=version, user=user)
            report.versions += 1
        except NotFound:
            continue
        except (RegistryError, PermissionDenied) as exc:
            report.errors.append(f"{version}: {describe_error(exc).message}")
    return report
