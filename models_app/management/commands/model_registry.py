"""`manage.py model_registry ...`: the registry from the shell, like `zenml model-registry`."""

from __future__ import annotations

import json
import sys
from datetime import datetime, time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db.models import JSONField
from django.utils.dateparse import parse_date, parse_datetime
from tqdm import tqdm

from models_app import access, selectors, services
from models_app.api.serializers import WebhookDeliverySerializer, WebhookSerializer
from models_app.exceptions import DOMAIN_ERRORS, ApprovalRequested, describe_error
from models_app.filters import AuditFilterSet
from models_app.flavors import Capability, describe_flavors
from models_app.models import AuditEvent, ModelRegistration, ModelVersion, PromotionRequest
from models_app.names import name_report
from models_app.validation import clean_instant, clean_moment, clean_version_number

# Version fields given as KEY VALUE pairs on the command line.
MAP_FIELDS = frozenset(
    field
    for field in ModelVersion.REGISTERED_FIELDS
    if isinstance(ModelVersion._meta.get_field(field), JSONField)
)


def render_table(headers: list[str], rows: list[list]) -> str:
    if not rows:
        return "(none)"
    cells = [[("" if value is None else str(value)) for value in row] for row in rows]
    widths = [max(len(h), *(len(row[i]) for row in cells)) for i, h in enumerate(headers)]
    line = lambda values: "  ".join(v.ljust(w) for v, w in zip(values, widths)).rstrip()  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, cells)])


def pairs(values) -> dict[str, str]:
    return {key: value for key, value in (values or [])}


def parse_when(value: str | None, option: str) -> datetime | None:
    if not value:
        return None
    parsed = parse_datetime(value)
    if parsed is None:
        day = parse_date(value)
        parsed = datetime.combine(day, time.min) if day else None
    if parsed is None:
        raise CommandError(
            f"{option}: '{value}' is not a date (use YYYY-MM-DD or an ISO datetime)."
        )
    return clean_moment(parsed, field=option)


def registration_dict(registration: ModelRegistration) -> dict:
    return {
        "registry": registration.registry.name,
        "name": registration.name,
        "description": registration.description,
        "tags": registration.tags,
        "approval_required": registration.approval_required,
        "promotion_gate": registration.promotion_gate,
        "latest_version": getattr(registration, "latest_version", None),
        "created_at": registration.created_at.isoformat(),
        "updated_at": registration.updated_at.isoformat(),
    }


def request_dict(request: PromotionRequest) -> dict:
    return {
        "id": request.pk,
        "state": request.state,
        "stale": request.is_stale,
        "registry": request.registration.registry.name,
        "name": request.registration.name,
        "version": request.version_number,
        "from_stage": request.from_stage,
        "to_stage": request.to_stage,
        "archive_existing": request.archive_existing,
        "comment": request.comment,
        "requested_by": request.requested_by_name,
        "created_at": request.created_at.isoformat(),
        "decided_by": request.decided_by_name or None,
        "decision_comment": request.decision_comment,
        "decided_at": request.decided_at.isoformat() if request.decided_at else None,
    }


def version_dict(version: ModelVersion) -> dict:
    return {
        "registry": version.registration.registry.name,
        "name": version.registration.name,
        "version": version.version,
        "stage": version.stage,
        **{
            field: getattr(version, field)
            for field in ModelVersion.REGISTERED_FIELDS
            if field not in ModelVersion.LINEAGE_FIELDS
        },
        "aliases": [alias.name for alias in version.aliases.all()],
        "lineage": version.lineage,
        "created_at": version.created_at.isoformat(),
        "updated_at": version.updated_at.isoformat(),
    }


def trash_item_dict(item: selectors.TrashItem) -> dict:
    return {
        "kind": item.kind,
        "id": item.id,
        "registry": item.registry,
        "name": item.name,
        "version": item.version,
        "stage": item.stage,
        "version_count": item.version_count,
        "deleted_at": item.deleted_at.isoformat(),
        "deleted_by": item.deleted_by,
        "expires_at": item.expires_at.isoformat(),
    }


def role_dict(grant) -> dict:
    return {
        "principal": grant.principal,
        "kind": "group" if grant.group_id else "user",
        "role": grant.role,
        "granted_by": grant.granted_by,
        "granted_at": grant.granted_at.isoformat(),
    }


def audit_dict(event: AuditEvent) -> dict:
    return {
        "id": event.id,
        "created_at": event.created_at.isoformat(),
        "actor": event.actor_name,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "object": event.object_repr,
        "registry": event.registry_name,
        "model": event.registration_name,
        "version": event.version_number,
        "changes": event.changes,
        "comment": event.comment,
    }


class Command(BaseCommand):
    help = "Manage registered models and their versions (mirrors `zenml model-registry`)."

    def add_arguments(self, parser):
        common = {"registry": True, "json": True}
        groups = parser.add_subparsers(
            dest="group",
            required=True,
            metavar="{flavor,models,names,requests,roles,trash,webhooks,audit,"
            "register,list,describe,update,delete,sync}",
        )

        # Registries, as `zenml model-registry register/list/describe/update/delete`.
        p = self._leaf(
            groups,
            "register",
            "Register a registry (a stack component) with a flavor.",
            registry=False,
            json=True,
        )
        p.add_argument("name")
        p.add_argument("--flavor", "-f", default="builtin")
        p.add_argument("--tracking-uri", help="MLflow tracking server (flavor mlflow).")
        p.add_argument("--registry-uri", help="MLflow registry URI, if not the tracking server.")
        p.add_argument(
            "--config",
            nargs=2,
            action="append",
            metavar=("KEY", "VALUE"),
            help="Other flavor config.",
        )
        p.add_argument("-d", "--description", default="")
        p.add_argument(
            "--case-insensitive-names",
            action="store_true",
            help="Refuse a model name that differs from an existing one only by case.",
        )
        self._leaf(groups, "list", "List registries.", registry=False, json=True)
        p = self._leaf(groups, "describe", "Show one registry.", registry=False, json=True)
        p.add_argument("name")
        p = self._leaf(
            groups,
            "update",
            "Change a registry's config or description.",
            registry=False,
            json=True,
        )
        p.add_argument("name")
        p.add_argument("--tracking-uri")
        p.add_argument("--registry-uri")
        p.add_argument("--config", nargs=2, action="append", metavar=("KEY", "VALUE"))
        p.add_argument("-d", "--description")
        p = self._leaf(groups, "delete", "Delete an empty registry.", registry=False, json=True)
        p.add_argument("name")
        p.add_argument("-y", "--yes", action="store_true")
        p = self._leaf(
            groups,
            "sync",
            "Pull a registry's backend (e.g. MLflow) into the dashboard.",
            registry=False,
            json=True,
        )
        p.add_argument("name")
        p.add_argument("--no-progress", action="store_true")

        p = self._leaf(
            groups,
            "audit",
            "Show the audit log, newest first (needs the view_auditevent permission with --user).",
            registry=True,
            json=True,
        )
        p.add_argument("--model", help="Only changes to this model (with --registry: of that one).")
        p.add_argument("--actor", help='Only changes by this user (or "system", "sync").')
        p.add_argument("--action", help="create, update, delete, transition, alias, role, sync.")
        p.add_argument("--since", help="From this date or ISO datetime (inclusive).")
        p.add_argument("--until", help="Before this date or ISO datetime.")
        p.add_argument("--count", type=int, default=100, help="At most this many (default 100).")

        flavor = groups.add_parser("flavor", help="Registry flavors.").add_subparsers(
            dest="action", required=True
        )
        self._leaf(
            flavor,
            "list",
            "List the available flavors and their capabilities.",
            registry=False,
            json=True,
        )
        p = self._leaf(
            flavor,
            "register",
            "Register a custom flavor class by dotted path (imported and checked first).",
            registry=False,
            json=True,
        )
        p.add_argument("class_path", metavar="dotted.path")
        p.add_argument("--name", help="The flavor's name (default: the class's own name).")

        names = groups.add_parser("names", help="Model names.").add_subparsers(
            dest="action", required=True
        )
        self._leaf(
            names,
            "check",
            "List names that differ only by case or lookalike characters, and names that "
            "today's rules refuse (nothing is changed).",
            registry=False,
            json=True,
        )

        self._add_webhook_arguments(groups)
        self._add_role_arguments(groups)

        trash = groups.add_parser(
            "trash", help="Deleted models and versions, restorable until purged."
        ).add_subparsers(dest="action", required=True)
        p = self._leaf(trash, "list", "List the trash, with when each item expires.", **common)
        p.add_argument("--kind", choices=selectors.TRASH_KINDS)
        for action, help_text in (
            ("restore", "Restore a model (with its versions and history) or one version."),
            ("purge", "Delete a trashed model or version for good (backend included)."),
        ):
            p = self._leaf(trash, action, help_text, **common)
            p.add_argument("name", nargs="?", help="The trashed model's name.")
            p.add_argument("-v", "--version", help="A trashed version of that model.")
            p.add_argument("--model-id", type=int, help="A trashed model by id (`trash list`).")
            p.add_argument("--version-id", type=int, help="A trashed version by id.")
            if action == "purge":
                p.add_argument(
                    "--expired",
                    action="store_true",
                    help="Purge every item trashed longer ago than MODEL_REGISTRY_TRASH_DAYS.",
                )
                p.add_argument("-y", "--yes", action="store_true", help="Do not ask.")

        models = groups.add_parser("models", help="Registered models and versions.").add_subparsers(
            dest="action", required=True
        )
        p = self._leaf(models, "list", "List registered models.", **common)
        p.add_argument(
            "-m",
            "--metadata",
            nargs=2,
            action="append",
            metavar=("KEY", "VALUE"),
            help="Only models with this tag (repeatable).",
        )

        p = self._leaf(models, "register", "Register a model (a name for its versions).", **common)
        p.add_argument("name")
        p.add_argument("-d", "--description", default="")
        p.add_argument("-t", "--tag", nargs=2, action="append", metavar=("KEY", "VALUE"))

        p = self._leaf(models, "update", "Update a registered model.", **common)
        p.add_argument("name")
        p.add_argument("-d", "--description")
        p.add_argument("-t", "--tag", nargs=2, action="append", metavar=("KEY", "VALUE"))
        p.add_argument("--rm", "--remove-tag", dest="rm", action="append", metavar="KEY")
        p.add_argument("--new-name", help="Rename the model.")
        p.add_argument(
            "--approval-required",
            choices=["on", "off"],
            help="Whether a contributor's move to Production needs an approver (owner only).",
        )
        p.add_argument(
            "--promotion-gate",
            metavar="CONDITIONS",
            help="Metric conditions a version must meet to reach Production, e.g. "
            "'accuracy >= 0.9, loss < 0.2'; '' for none (owner only).",
        )

        p = self._leaf(
            models, "delete", "Delete a model, its versions and stage history.", **common
        )
        p.add_argument("name")
        p.add_argument("-y", "--yes", action="store_true", help="Do not ask for confirmation.")

        p = self._leaf(models, "get", "Show a registered model.", **common)
        p.add_argument("name")

        p = self._leaf(models, "list-versions", "List the versions of a model.", **common)
        p.add_argument("name")
        p.add_argument("--stage")
        p.add_argument("--count", type=int)
        p.add_argument("--order-by-date", choices=["asc", "desc"])
        p.add_argument("--created-after")
        p.add_argument("--created-before")
        p.add_argument("-m", "--metadata", nargs=2, action="append", metavar=("KEY", "VALUE"))

        p = self._leaf(models, "register-version", "Register a new version of a model.", **common)
        p.add_argument("name")
        # Each option's dest is the version field it sets (ModelVersion.REGISTERED_FIELDS).
        p.add_argument(
            "-u",
            "--model-uri",
            dest="model_source_uri",
            required=True,
            help="Where the artifact is.",
        )
        p.add_argument("-d", "--description", default="")
        pair = {"nargs": 2, "action": "append", "metavar": ("KEY", "VALUE")}
        p.add_argument("-m", "--metadata", **pair)
        p.add_argument("-t", "--tag", dest="tags", **pair)
        p.add_argument("--metric", dest="metrics", **pair)
        p.add_argument("--param", dest="parameters", **pair)
        p.add_argument("--model-format", default="")
        p.add_argument("--model-library", default="")
        for field in ModelVersion.LINEAGE_FIELDS:
            flags = ["--run-id"] if field == "experiment_run_id" else []
            p.add_argument(*flags, f"--{field.replace('_', '-')}", dest=field, default="")

        p = self._leaf(models, "get-version", "Show one version.", **common)
        p.add_argument("name")
        p.add_argument("-v", "--version", required=True)

        p = self._leaf(models, "update-version", "Update a version or change its stage.", **common)
        p.add_argument("name")
        p.add_argument("-v", "--version", required=True)
        p.add_argument("-s", "--stage")
        p.add_argument(
            "--archive-existing",
            action="store_true",
            help="Archive the other versions in the target stage.",
        )
        p.add_argument("--comment", default="", help="Why the stage changes (kept in history).")
        p.add_argument("-d", "--description")
        p.add_argument("-m", "--metadata", nargs=2, action="append", metavar=("KEY", "VALUE"))
        p.add_argument("--rm", "--remove-metadata", dest="rm", action="append", metavar="KEY")
        p.add_argument("-t", "--tag", nargs=2, action="append", metavar=("KEY", "VALUE"))
        p.add_argument("--rm-tag", action="append", metavar="KEY")
        p.add_argument("--metric", nargs=2, action="append", metavar=("KEY", "VALUE"))

        p = self._leaf(models, "delete-version", "Delete one version.", **common)
        p.add_argument("name")
        p.add_argument("-v", "--version", required=True)
        p.add_argument("-y", "--yes", action="store_true", help="Do not ask for confirmation.")

        p = self._leaf(
            models,
            "history",
            "Which version was in a stage (default Production), or held an alias, at a time.",
            **common,
        )
        p.add_argument("name")
        p.add_argument(
            "--at",
            required=True,
            help="ISO 8601, e.g. 2026-11-24T12:00:00+01:00; without an offset it is in the "
            "server's time zone (DJANGO_TIME_ZONE), a date alone is its midnight.",
        )
        which = p.add_mutually_exclusive_group()
        which.add_argument("-s", "--stage", help="The stage asked about (default Production).")
        which.add_argument("-a", "--alias", help="The alias asked about.")

        p = self._leaf(
            models,
            "rollback",
            "Put the previous Production version back in Production (archiving the current one).",
            **common,
        )
        p.add_argument("name")
        p.add_argument("--comment", default="", help="Why (kept in history, cause rollback).")
        requests = groups.add_parser(
            "requests", help="Requests to move versions into Production, for approvers."
        ).add_subparsers(dest="action", required=True)
        p = self._leaf(requests, "list", "List promotion requests, newest first.", **common)
        p.add_argument("--state", choices=PromotionRequest.State.values)
        p = self._leaf(requests, "approve", "Approve a request: the version moves now.", **common)
        p.add_argument("id")
        p.add_argument("--comment", default="")
        p = self._leaf(requests, "reject", "Reject a request, saying why.", **common)
        p.add_argument("id")
        p.add_argument("--comment", required=True)
        p = self._leaf(requests, "cancel", "Withdraw a request.", **common)
        p.add_argument("id")
        p.add_argument("--comment", default="")

    def _add_webhook_arguments(self, groups):
        hooks = groups.add_parser(
            "webhooks", help="Webhooks: registry events POSTed as signed JSON."
        ).add_subparsers(dest="action", required=True)
        p = self._leaf(
            hooks,
            "list",
            "List the webhooks you manage.",
            registry=True,
            json=True,
        )
        p.add_argument("--model", help="Only this model's webhooks.")
        p = self._leaf(
            hooks,
            "create",
            "Create a webhook (global without --model); prints its secret once.",
            registry=True,
            json=True,
        )
        p.add_argument("url")
        p.add_argument(
            "-e",
            "--event",
            action="append",
            required=True,
            help="An event to receive (repeatable): "
            + ", ".join(services.webhooks.SUBSCRIBABLE)
            + ".",
        )
        p.add_argument("--model", help="Receive this model's events only.")
        p.add_argument("--name", default="")
        p = self._leaf(hooks, "delete", "Delete a webhook.", registry=False, json=True)
        p.add_argument("id")
        p.add_argument("-y", "--yes", action="store_true", help="Do not ask for confirmation.")
        p = self._leaf(hooks, "test", "Queue a test event to a webhook.", registry=False, json=True)
        p.add_argument("id")
        p = self._leaf(hooks, "deliveries", "A webhook's delivery log.", registry=False, json=True)
        p.add_argument("id")
        p.add_argument("--limit", type=int, default=20)

    def _add_role_arguments(self, groups):
        common = {"registry": True, "json": True}
        roles = groups.add_parser(
            "roles", help="Who may do what to a model (viewer, contributor, approver, owner)."
        ).add_subparsers(dest="action", required=True)
        p = self._leaf(roles, "list", "List the roles granted on a model.", **common)
        p.add_argument("name", metavar="MODEL")
        p = self._leaf(
            roles, "grant", "Grant a user or @group a role on a model (replaces theirs).", **common
        )
        p.add_argument("name", metavar="MODEL")
        p.add_argument("principal", metavar="USER_OR_@GROUP")
        p.add_argument("role", choices=list(access.GRANTABLE))
        p = self._leaf(roles, "revoke", "Take away a user's or @group's role on a model.", **common)
        p.add_argument("name", metavar="MODEL")
        p.add_argument("principal", metavar="USER_OR_@GROUP")

    def _leaf(self, group, name, help_text, *, registry, json):
        parser = group.add_parser(name, help=help_text, description=help_text)
        if registry:
            parser.add_argument(
                "--registry", default=None, help="Registry name (default: default)."
            )
        if json:
            parser.add_argument("--json", action="store_true", help="Machine-readable output.")
        parser.add_argument(
            "--user", help="Act as this user: their permissions apply and history names them."
        )
        return parser

    def handle(self, *args, **options):
        self.options = options
        self.user = self._user(options.get("user"))
        action = options.get("action")
        handler = getattr(
            self,
            f"do_{options['group']}_{action.replace('-', '_')}"
            if action
            else f"do_registry_{options['group']}",
        )
        try:
            handler(options)
        except DOMAIN_ERRORS as exc:
            raise CommandError(describe_error(exc).line())

    # helpers ---------------------------------------------------------------------------
    def _user(self, username):
        if not username:
            return None
        try:
            return get_user_model().objects.get_by_natural_key(username)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No user named '{username}'.")

    def _out(self, data, text: str) -> None:
        if self.options.get("json"):
            self.stdout.write(json.dumps(data, indent=2, default=str))
        else:
            self.stdout.write(text)

    def _registry(self, options):
        return selectors.registry_get(options.get("registry"))

    def _registration(self, options):
        registration = selectors.registration_get(
            registry=self._registry(options), name=options["name"]
        )
        access.require_read(self.user, registration)
        return registration

    def _version(self, options):
        number = clean_version_number(options["version"])
        return selectors.version_get(registration=self._registration(options), version=number)

    def _confirm(self, options, question: str) -> None:
        if options.get("yes"):
            return
        if not sys.stdin.isatty():
            raise CommandError(f"{question} Pass -y to confirm when not running interactively.")
        if input(f"{question} [y/N] ").strip().lower() not in {"y", "yes"}:
            raise CommandError("Aborted; nothing was deleted.")

    def _show_version(self, version: ModelVersion) -> None:
        data = version_dict(version)
        rows = [[key, value] for key, value in data.items() if key not in {"lineage"}]
        rows += [[key, value] for key, value in data["lineage"].items()]
        self._out(data, render_table(["field", "value"], rows))

    # audit -----------------------------------------------------------------------------
    def do_registry_audit(self, options):
        query = {
            "registry": options.get("registry") or "",
            "model": options.get("model") or "",
            "actor": options.get("actor") or "",
            "action": options.get("action") or "",
        }
        for option in ("since", "until"):
            moment = parse_when(options.get(option), f"--{option}")
            query[option] = moment.isoformat() if moment else ""
        if options["count"] < 1:
            raise CommandError("--count: must be at least 1.")
        filterset = AuditFilterSet(query, queryset=selectors.audit_list(user=self.user))
        if not filterset.is_valid():
            raise CommandError(
                "; ".join(
                    f"--{field}: {' '.join(errors)}" for field, errors in filterset.errors.items()
                )
            )
        events = list(filterset.qs[: options["count"]])
        data = [audit_dict(event) for event in events]
        rows = [
            [
                event["created_at"],
                event["actor"],
                event["action"],
                event["object"],
                "; ".join(
                    f"{field}: {change['before']} -> {change['after']}"
                    for field, change in event["changes"].items()
                )[:120],
            ]
            for event in data
        ]
        self._out(data, render_table(["when", "actor", "action", "object", "changes"], rows))

    # flavor ----------------------------------------------------------------------------
    def do_flavor_list(self, options):
        data = describe_flavors()
        rows = [
            [
                d["name"],
                d["source"],
                d["class_path"],
                d["description"],
                ", ".join(d["capabilities"]),
            ]
            for d in data
        ]
        self._out(
            data, render_table(["flavor", "source", "class", "description", "capabilities"], rows)
        )

    def do_flavor_register(self, options):
        flavor = services.flavor_register(
            class_path=options["class_path"], name=options.get("name"), user=self.user
        )
        self._out(
            {"name": flavor.name, "class_path": flavor.class_path},
            f"Registered flavor '{flavor.name}' ({flavor.class_path}).",
        )

    # names -----------------------------------------------------------------------------
    def do_names_check(self, options):
        lines = name_report(selectors.registration_addresses())
        self._out(lines, "\n".join(lines) if lines else "No names to review.")

    # models ----------------------------------------------------------------------------
    def do_models_list(self, options):
        registrations = access.readable_registrations(
            self.user,
            selectors.registration_list(
                registry=self._registry(options), tags=pairs(options.get("metadata"))
            ).order_by("name"),
        )
        data = [registration_dict(r) for r in registrations]
        rows = [
            [
                r.name,
                r.latest_version or "-",
                r.production_version or "-",
                r.staging_version or "-",
                r.description[:50],
                r.updated_at.strftime("%Y-%m-%d %H:%M"),
            ]
            for r in registrations
        ]
        self._out(
            data,
            render_table(
                ["name", "latest", "production", "staging", "description", "updated"], rows
            ),
        )

    def do_models_register(self, options):
        registration = services.registration_create(
            registry=self._registry(options),
            name=options["name"],
            description=options["description"],
            tags=pairs(options.get("tag")),
            user=self.user,
        )
        self._out(registration_dict(registration), f"Registered model '{registration.name}'.")

    def do_models_update(self, options):
        registration = self._registration(options)
        tags = {**{key: None for key in options.get("rm") or []}, **pairs(options.get("tag"))}
        workflow = {}
        if options.get("approval_required"):
            workflow["approval_required"] = options["approval_required"] == "on"
        if options.get("promotion_gate") is not None:
            workflow["promotion_gate"] = options["promotion_gate"]
        registration = services.registration_update(
            registration=registration,
            description=options.get("description"),
            tags=tags,
            name=options.get("new_name") or None,
            user=self.user,
            **workflow,
        )
        self._out(registration_dict(registration), f"Updated model '{registration.name}'.")

    def do_models_delete(self, options):
        registration = self._registration(options)
        count = registration.versions.count()
        self._confirm(
            options,
            f"Delete model '{registration.name}' with {count} version(s)? It goes to the trash.",
        )
        services.registration_delete(registration=registration, user=self.user)
        self._out(
            {"deleted": registration.name},
            f"Deleted model '{options['name']}' (in the trash for {selectors.trash_days()} days: "
            "`model_registry trash restore` brings it back).",
        )

    def do_models_get(self, options):
        registration = selectors.registration_list(
            registry=self._registry(options), name=options["name"]
        ).first()
        if registration is None:
            registration = self._registration(options)  # raises the NotFound message
        access.require_read(self.user, registration)
        data = registration_dict(registration)
        rows = [[key, value] for key, value in data.items()]
        rows += [
            ["production_version", registration.production_version or "-"],
            ["staging_version", registration.staging_version or "-"],
            ["versions", registration.version_count],
        ]
        self._out(data, render_table(["field", "value"], rows))

    def do_models_list_versions(self, options):
        registration = self._registration(options)
        versions = selectors.version_list(
            registration=registration,
            stage=options.get("stage"),
            metadata=pairs(options.get("metadata")),
            created_after=parse_when(options.get("created_after"), "--created-after"),
            created_before=parse_when(options.get("created_before"), "--created-before"),
            order_by_date=options.get("order_by_date"),
        )
        if options.get("count") is not None:
            if options["count"] < 1:
                raise CommandError("--count must be at least 1.")
            versions = versions[: options["count"]]
        versions = list(versions)
        rows = [
            [
                v.version,
                v.stage,
                ", ".join(a.name for a in v.aliases.all()),
                v.model_source_uri,
                ", ".join(f"{k}={m:g}" for k, m in sorted(v.metrics.items())[:3]),
                v.created_at.strftime("%Y-%m-%d %H:%M"),
            ]
            for v in versions
        ]
        self._out(
            [version_dict(v) for v in versions],
            render_table(["version", "stage", "aliases", "source", "metrics", "created"], rows),
        )

    def do_models_register_version(self, options):
        version = services.version_register(
            registry=self._registry(options),
            name=options["name"],
            **{
                field: pairs(options.get(field)) if field in MAP_FIELDS else options[field]
                for field in ModelVersion.REGISTERED_FIELDS
            },
            user=self.user,
        )
        self._out(
            version_dict(version),
            f"Registered version {version.version} of model '{version.registration.name}'.",
        )

    def do_models_get_version(self, options):
        self._show_version(self._version(options))

    def do_models_update_version(self, options):
        version = self._version(options)
        metadata = {
            **{key: None for key in options.get("rm") or []},
            **pairs(options.get("metadata")),
        }
        tags = {**{key: None for key in options.get("rm_tag") or []}, **pairs(options.get("tag"))}
        metrics = pairs(options.get("metric"))
        if options["archive_existing"] and not options.get("stage"):
            raise CommandError("--archive-existing needs -s/--stage.")
        edits = options.get("description") is not None or metadata or tags or metrics
        if edits or options.get("stage"):
            try:
                version = services.version_update(
                    version=version,
                    description=options.get("description"),
                    tags=tags,
                    metrics=metrics,
                    metadata=metadata,
                    stage=options.get("stage") or None,
                    archive_existing=options["archive_existing"],
                    comment=options["comment"],
                    user=self.user,
                )
            except ApprovalRequested as asked:
                self._show_request(asked.request, f"{asked}", key="request")
                return
        version = selectors.version_get(registration=version.registration, version=version.version)
        self._show_version(version)

    def do_models_delete_version(self, options):
        version = self._version(options)
        self._confirm(
            options, f"Delete version {version.version} of model '{version.registration.name}'?"
        )
        services.version_delete(version=version, user=self.user)
        self._out(
            {"deleted": {"name": options["name"], "version": version.version}},
            f"Deleted version {version.version} of model '{options['name']}' (in the trash "
            f"for {selectors.trash_days()} days).",
        )

    def do_models_history(self, options):
        registration = self._registration(options)
        answer = selectors.ledger_at(
            registration=registration,
            at=clean_instant(options["at"]),
            stage=options.get("stage"),
            alias=options.get("alias"),
        )
        data = answer.as_dict()
        held = f"alias '{answer.alias}'" if answer.alias else answer.stage
        if answer.version is None:
            text = f"No version of '{registration.name}' held {held} at {data['at']}."
        else:
            since = f" since {data['since']}" if answer.since else ""
            others = (
                f" (all in {held}: {', '.join(map(str, answer.versions))})"
                if len(answer.versions) > 1
                else ""
            )
            gone = " (deleted since)" if not answer.exists else ""
            text = (
                f"Version {answer.version}{gone} of '{registration.name}' held {held} at "
                f"{data['at']}{since}{others}."
            )
        self._out(data, text)

    def do_models_rollback(self, options):
        registration = self._registration(options)
        restored = services.registration_rollback(
            registration=registration, user=self.user, comment=options["comment"]
        )
        restored = selectors.version_get(registration=registration, version=restored.version)
        self._out(
            version_dict(restored),
            f"Rolled back '{registration.name}': version {restored.version} is in Production.",
        )

    # requests ----------------------------------------------------------------------------
    def _request(self, options) -> PromotionRequest:
        raw = str(options["id"]).lstrip("#")
        request_id = int(raw) if raw.isdigit() and len(raw) < 12 else None
        request = selectors.promotion_request_get(request_id=request_id, user=self.user)
        if options.get("registry") and request.registration.registry.name != options["registry"]:
            raise CommandError(f"Request #{request.pk} is not in registry '{options['registry']}'.")
        return request

    def _show_request(self, request: PromotionRequest, text: str, key: str = "request") -> None:
        request = PromotionRequest.objects.select_related("registration__registry", "version").get(
            pk=request.pk
        )
        self._out({key: request_dict(request)}, text)

    def do_requests_list(self, options):
        registry = self._registry(options) if options.get("registry") else None
        found = list(
            selectors.promotion_request_list(
                user=self.user, state=options.get("state"), registry=registry
            )[:500]
        )
        rows = [
            [
                f"#{r.pk}",
                r.state + (" (stale)" if r.is_stale else ""),
                f"{r.registration.registry.name}/{r.registration.name}",
                r.version_number,
                f"{r.from_stage} -> {r.to_stage}",
                "yes" if r.archive_existing else "no",
                r.requested_by_name,
                r.created_at.strftime("%Y-%m-%d %H:%M"),
                r.comment[:40],
            ]
            for r in found
        ]
        self._out(
            [request_dict(r) for r in found],
            render_table(
                [
                    "id",
                    "state",
                    "model",
                    "version",
                    "move",
                    "archive",
                    "by",
                    "asked",
                    "comment",
                ],
                rows,
            ),
        )

    def do_requests_approve(self, options):
        request = services.promotion_request_approve(
            request=self._request(options), comment=options["comment"], user=self.user
        )
        self._show_request(
            request,
            f"Approved request #{request.pk}: version {request.version_number} of "
            f"'{request.registration.name}' moved to {request.to_stage}.",
        )

    def do_requests_reject(self, options):
        request = services.promotion_request_reject(
            request=self._request(options), comment=options["comment"], user=self.user
        )
        self._show_request(request, f"Rejected request #{request.pk}.")

    def do_requests_cancel(self, options):
        request = services.promotion_request_cancel(
            request=self._request(options), comment=options["comment"], user=self.user
        )
        self._show_request(request, f"Cancelled request #{request.pk}.")

    # trash -------------------------------------------------------------------------------
    def do_trash_list(self, options):
        registry = self._registry(options) if options.get("registry") else None
        items = selectors.trash_list(registry=registry, kind=options.get("kind"), user=self.user)
        data = [trash_item_dict(item) for item in items]
        rows = [
            [
                item.kind,
                item.id,
                item.registry,
                item.name,
                item.version or "",
                item.deleted_at.strftime("%Y-%m-%d %H:%M"),
                item.deleted_by,
                item.expires_at.strftime("%Y-%m-%d %H:%M"),
            ]
            for item in items
        ]
        headers = ["kind", "id", "registry", "name", "version", "deleted", "by", "expires"]
        self._out(data, render_table(headers, rows) if rows else "The trash is empty.")

    def _trash_target(self, options):
        given = [options.get("name"), options.get("model_id"), options.get("version_id")]
        if sum(value is not None for value in given) != 1:
            raise CommandError("Name one item: NAME [-v VERSION], --model-id or --version-id.")
        if options.get("model_id") is not None:
            return selectors.trashed_registration(item_id=options["model_id"])
        if options.get("version_id") is not None:
            return selectors.trashed_version(item_id=options["version_id"])
        number = options.get("version")
        return selectors.trash_find(
            registry=self._registry(options),
            name=options["name"],
            version=clean_version_number(number) if number is not None else None,
        )

    def do_trash_restore(self, options):
        item = self._trash_target(options)
        if isinstance(item, ModelVersion):
            version = services.version_restore(version=item, user=self.user)
            self._out(
                version_dict(version),
                f"Restored version {version.version} of model '{version.registration.name}'.",
            )
            return
        registration = services.registration_restore(registration=item, user=self.user)
        self._out(registration_dict(registration), f"Restored model '{registration.name}'.")

    def do_trash_purge(self, options):
        if options.get("expired"):
            if any(options.get(key) is not None for key in ("name", "model_id", "version_id")):
                raise CommandError("--expired purges every expired item: name none.")
            days = selectors.trash_days()
            self._confirm(options, f"Delete for good everything trashed over {days} days ago?")
            report = services.trash_purge_expired(user=self.user)
            data = {
                "purged_models": report.registrations,
                "purged_versions": report.versions,
                "errors": report.errors,
            }
            self._out(
                data,
                f"Purged {report.registrations} model(s) and {report.versions} version(s)."
                + "".join(f"\nNot purged: {error}" for error in report.errors),
            )
            if report.errors:
                raise CommandError(f"{len(report.errors)} item(s) could not be purged.")
            return
        item = self._trash_target(options)
        if isinstance(item, ModelVersion):
            what = f"version {item.version} of model '{item.registration.name}'"
            self._confirm(options, f"Delete {what} for good? This cannot be undone.")
            services.version_purge(version=item, user=self.user)
            data = {"purged": {"name": item.registration.name, "version": item.version}}
        else:
            what = f"model '{item.name}'"
            self._confirm(
                options,
                f"Delete {what} with its versions and history for good? This cannot be undone.",
            )
            services.registration_purge(registration=item, user=self.user)
            data = {"purged": {"name": item.name}}
        self._out(data, f"Purged {what}.")

    # registries --------------------------------------------------------------------------
    def _registry_config(self, options, base: dict | None = None) -> dict | None:
        config = dict(base or {})
        changed = False
        for key, option in (("tracking_uri", "tracking_uri"), ("registry_uri", "registry_uri")):
            if options.get(option):
                config[key], changed = options[option], True
        for key, value in options.get("config") or []:
            config[key], changed = value, True
        return config if changed or base is None else None

    def _registry_dict(self, registry) -> dict:
        return {
            "name": registry.name,
            "flavor": registry.flavor,
            "description": registry.description,
            "config": registry.config,
            "models": registry.registrations.count(),
            "last_synced_at": registry.last_synced_at.isoformat()
            if registry.last_synced_at
            else None,
        }

    def do_registry_register(self, options):
        registry = services.registry_create(
            name=options["name"],
            flavor=options["flavor"],
            config=self._registry_config(options),
            description=options["description"],
            case_insensitive_names=options["case_insensitive_names"],
            user=self.user,
        )
        self._out(
            self._registry_dict(registry),
            f"Registered registry '{registry.name}' (flavor {registry.flavor}).",
        )

    def do_registry_list(self, options):
        rows = [self._registry_dict(r) for r in selectors.registry_list()]
        self._out(
            rows,
            render_table(
                ["name", "flavor", "models", "last sync", "description"],
                [
                    [
                        r["name"],
                        r["flavor"],
                        r["models"],
                        r["last_synced_at"] or "never",
                        r["description"][:50],
                    ]
                    for r in rows
                ],
            ),
        )

    def do_registry_describe(self, options):
        data = self._registry_dict(selectors.registry_get(options["name"]))
        self._out(data, render_table(["field", "value"], [[k, v] for k, v in data.items()]))

    def do_registry_update(self, options):
        registry = selectors.registry_get(options["name"])
        registry = services.registry_update(
            registry=registry,
            config=self._registry_config(options, registry.config),
            description=options.get("description"),
            user=self.user,
        )
        self._out(self._registry_dict(registry), f"Updated registry '{registry.name}'.")

    def do_registry_delete(self, options):
        registry = selectors.registry_get(options["name"])
        self._confirm(options, f"Delete registry '{registry.name}'?")
        services.registry_delete(registry=registry, user=self.user)
        self._out({"deleted": options["name"]}, f"Deleted registry '{options['name']}'.")

    def do_registry_sync(self, options):
        registry = selectors.registry_get(options["name"])
        registry.get_flavor().require(Capability.SYNC)
        with tqdm(
            unit=" version",
            disable=options.get("no_progress"),
            file=self.stderr._out,
            desc=f"Syncing {registry.name}",
        ) as bar:

            def progress(run):
                bar.set_postfix(models=run.models_seen)
                bar.update(run.versions_seen - bar.n)

            run = services.registry_sync(registry=registry, user=self.user, progress=progress)
        self._out(
            {
                "status": run.status,
                "models_seen": run.models_seen,
                "versions_seen": run.versions_seen,
                "models_created": run.models_created,
                "models_updated": run.models_updated,
                "models_removed": run.models_removed,
                "versions_created": run.versions_created,
                "versions_updated": run.versions_updated,
                "versions_removed": run.versions_removed,
            },
            f"Synced '{registry.name}': {run.models_seen} models, "
            f"{run.versions_seen} versions ({run.summary()}).",
        )

    # webhooks --------------------------------------------------------------------------
    def _webhook(self, options):
        webhook_id = options["id"]
        return selectors.webhook_get(
            user=self.user, webhook_id=int(webhook_id) if webhook_id.isdigit() else None
        )

    def do_webhooks_list(self, options):
        registration = None
        if options.get("model"):
            registration = selectors.registration_get(
                registry=self._registry(options), name=options["model"]
            )
        rows = [
            WebhookSerializer(w).data
            for w in selectors.webhook_list(user=self.user, registration=registration)
        ]
        self._out(
            rows,
            render_table(
                ["id", "name", "url", "model", "events", "last delivery"],
                [
                    [
                        r["id"],
                        r["name"],
                        r["url"],
                        f"{r['registry']}/{r['model']}" if r["model"] else "(global)",
                        ",".join(r["events"]),
                        r["last_status"] or "-",
                    ]
                    for r in rows
                ],
            ),
        )

    def do_webhooks_create(self, options):
        registration = None
        if options.get("model"):
            registration = selectors.registration_get(
                registry=self._registry(options), name=options["model"]
            )
        events = [e.strip() for value in options["event"] for e in value.split(",") if e.strip()]
        webhook, secret = services.webhook_create(
            url=options["url"],
            events=events,
            name=options["name"],
            registration=registration,
            user=self.user,
        )
        data = {**WebhookSerializer(webhook).data, "secret": secret}
        self._out(
            data,
            f"Created webhook {webhook.pk} to {webhook.url}.\n"
            f"Secret (shown once; receivers check X-Registry-Signature with it):\n{secret}",
        )

    def do_webhooks_delete(self, options):
        webhook = self._webhook(options)
        self._confirm(options, f"Delete webhook {webhook.pk} ({webhook.url})?")
        services.webhook_delete(webhook=webhook, user=self.user)
        self._out({"deleted": webhook.pk}, f"Deleted webhook {webhook.pk}.")

    def do_webhooks_test(self, options):
        delivery = services.webhook_test(webhook=self._webhook(options), user=self.user)
        self._out(
            WebhookDeliverySerializer(delivery).data,
            f"Test event queued (delivery {delivery.uuid}); see `webhooks deliveries "
            f"{delivery.webhook_id}`.",
        )

    def do_webhooks_deliveries(self, options):
        limit = max(1, min(options["limit"], 1000))
        deliveries = selectors.webhook_deliveries(webhook=self._webhook(options))[:limit]
        rows = [WebhookDeliverySerializer(d).data for d in deliveries]
        self._out(
            rows,
            render_table(
                ["time", "event", "status", "attempts", "response", "ms", "error"],
                [
                    [
                        r["created_at"],
                        r["event"],
                        r["status"],
                        r["attempts"],
                        r["response_status"] or "-",
                        r["duration_ms"] if r["duration_ms"] is not None else "-",
                        r["error"][:60],
                    ]
                    for r in rows
                ],
            ),
        )

    # roles -----------------------------------------------------------------------------
    def _show_roles(self, registration) -> None:
        data = [role_dict(grant) for grant in selectors.role_list(registration=registration)]
        rows = [[d["principal"], d["role"], d["granted_by"], d["granted_at"][:16]] for d in data]
        self._out(data, render_table(["who", "role", "granted by", "granted at"], rows))

    def do_roles_list(self, options):
        self._show_roles(self._registration(options))

    def do_roles_grant(self, options):
        registration = self._registration(options)
        grant = services.role_grant(
            registration=registration,
            principal=options["principal"],
            role=options["role"],
            user=self.user,
        )
        self._out(
            role_dict(grant),
            f"{grant.principal} is now {grant.role} of model '{registration.name}'.",
        )

    def do_roles_revoke(self, options):
        registration = self._registration(options)
        services.role_revoke(
            registration=registration, principal=options["principal"], user=self.user
        )
        self._out(
            {"revoked": options["principal"], "model": registration.name},
            f"{options['principal']} no longer holds a role on model '{registration.name}'.",
        )
