"""Dashboard pages. Each page is one template with named partials; an htmx request gets the
partial it asks for. Reads come from selectors, writes from services, listings from FilterSets."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from models_app import access, metrics, selectors, services
from models_app.access import Role
from models_app.exceptions import DOMAIN_ERRORS, NotFound, describe_error
from models_app.filters import AuditFilterSet, RegistrationFilterSet, VersionFilterSet
from models_app.flavors import Capability, available_flavors, describe_flavors
from models_app.forms import (
    LedgerForm,
    ModelCardForm,
    RegisterVersionForm,
    RegistrationEditForm,
    RegistryForm,
    TransitionForm,
    WebhookForm,
    WorkflowForm,
    add_report,
)
from models_app.models import (
    CARD_SECTIONS,
    AuditAction,
    AuditEvent,
    ModelRegistration,
    ModelVersion,
    ModelVersionStage,
    PromotionRequest,
    Registry,
)
from models_app.validation import clean_filter_text, clean_version_number, redact_uri

PAGE_SIZE = 25
COMPARE_LIMIT = 20  # columns that still read side by side
STAGE_CHANGED = "stageChanged"


def next_url(request, default: str) -> str:
    """Where to send the user after a form: the `next` they gave if it stays on this site.

    Every view that reads `next` goes through here, so `//evil.example/x` and
    `https://evil.example/` fall back to `default` instead of leaving the site.
    """
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _get_registration(request, registry: str, name: str) -> ModelRegistration:
    try:
        registration = selectors.registration_get(registry=registry, name=name)
        access.require_read(request.user, registration)
    except NotFound as exc:
        raise Http404(str(exc))
    return registration


def _get_version(registration: ModelRegistration, number: str) -> ModelVersion:
    try:
        return selectors.version_get(
            registration=registration, version=clean_version_number(number)
        )
    except (NotFound, ValidationError) as exc:
        raise Http404(describe_error(exc).message)


PAGE_SIZES = (10, 25, 50, 100)


def _page_size(request, default: int) -> int:
    """The page size the user picked (`per_page`), if it is one of PAGE_SIZES."""
    raw = request.GET.get("per_page", "")
    return int(raw) if raw.isdigit() and int(raw) in PAGE_SIZES else default


def _page(request, queryset, size=PAGE_SIZE):
    """One page; a page number out of range (jump to page 999) gives the last page."""
    size = _page_size(request, size)
    page = Paginator(queryset, size).get_page(request.GET.get("page"))
    page.numbers = list(page.paginator.get_elided_page_range(page.number, on_each_side=2))
    page.size, page.sizes = size, PAGE_SIZES
    return page


def _query_without(request, *keys: str) -> str:
    """The current query string minus `keys`, for links that change one parameter."""
    query = request.GET.copy()
    for key in keys:
        query.pop(key, None)
    return query.urlencode()


def capabilities(registry: Registry) -> set[str]:
    try:
        return set(registry.get_flavor().capabilities)
    except ValidationError:
        return set()


@require_GET
@cache_control(max_age=86400, public=True)
def favicon(request):
    """Browsers ask for /favicon.ico whatever the page links; the icon is a static file."""
    return redirect(static("favicon.ico"))


def run_link(registry: Registry, run_id: str) -> str:
    """The backend's own link to an experiment run; none when the flavor has no run pages."""
    if not run_id:
        return ""
    try:
        return redact_uri(registry.get_flavor().run_link(run_id))
    except ValidationError:  # a custom flavor that no longer loads
        return ""


# Dashboard ----------------------------------------------------------------------------
@login_required
def dashboard(request):
    user = request.user
    stage_counts = selectors.version_stage_counts(user=user)
    context = {
        "registration_count": selectors.registration_count(user=user),
        "version_count": sum(stage_counts.values()),
        "stage_counts": [(stage, stage_counts.get(stage, 0)) for stage in ModelVersionStage.values],
        # Most recently promoted first; "See all" lists every one.
        "production": selectors.production_recent(user=user)[:15],
        "production_count": stage_counts.get(ModelVersionStage.PRODUCTION, 0),
        "transitions": access.readable_versions(user, selectors.transition_list())[:10],
        "recent_versions": access.readable_versions(user, selectors.version_list())[:10],
        "requests_to_decide": selectors.promotion_requests_to_decide(user=request.user),
    }
    return render(request, "dashboard.html", context)


# Promotion requests -------------------------------------------------------------------
REQUEST_STATES = [state for state, _ in PromotionRequest.State.choices]


@login_required
def promotion_requests(request):
    """Requests to move versions into Production; pending ones first by default."""
    state = request.GET.get("state", PromotionRequest.State.PENDING)
    if state not in REQUEST_STATES:
        state = ""
    page = _page(request, selectors.promotion_request_list(user=request.user, state=state or None))
    page.object_list = selectors.promotion_request_actions(
        user=request.user, requests=page.object_list
    )
    context = {
        "page": page,
        "state": state,
        "states": REQUEST_STATES,
        "query_without_page": _query_without(request, "page"),
    }
    return render(request, "requests.html", context)


_DECISIONS = {
    "approve": (
        services.promotion_request_approve,
        "Approved request #{id}: version {v} of '{name}' moved to {stage}.",
    ),
    "reject": (services.promotion_request_reject, "Rejected request #{id}."),
    "cancel": (services.promotion_request_cancel, "Cancelled request #{id}."),
}


@login_required
@require_POST
def promotion_request_decide(request, request_id, decision):
    """Approve, reject or cancel from the dashboard or the requests page, then go back."""
    decide, done = _DECISIONS[decision]
    raw = str(request_id)
    try:
        found = selectors.promotion_request_get(
            request_id=int(raw) if raw.isdigit() and len(raw) < 12 else None, user=request.user
        )
    except NotFound as exc:
        raise Http404(str(exc))
    try:
        decided = decide(request=found, comment=request.POST.get("comment", ""), user=request.user)
    except DOMAIN_ERRORS as exc:
        messages.error(request, f"Request #{found.pk}: {describe_error(exc).message}")
    else:
        messages.success(
            request,
            done.format(
                id=decided.pk,
                v=decided.version_number,
                name=decided.registration.name,
                stage=decided.to_stage,
            ),
        )
    return redirect(next_url(request, reverse("promotion_requests")))


# The trash ------------------------------------------------------------------------------
@login_required
def trash(request):
    """Deleted models and versions of the models the user may read, newest first, with
    when each expires; restore and purge (confirmed) are the owner's."""
    kind = request.GET.get("kind", "")
    if kind not in selectors.TRASH_KINDS:
        kind = ""
    page = _page(request, selectors.trash_list(kind=kind or None, user=request.user))
    context = {
        "page": page,
        "kind": kind,
        "kinds": selectors.TRASH_KINDS,
        "days": selectors.trash_days(),
        "query_without_page": _query_without(request, "page"),
    }
    return render(request, "trash.html", context)


@login_required
@require_POST
def trash_action(request, kind, item_id, action):
    """Restore, or purge (only with the confirmation ticked), then back to the trash."""
    raw = str(item_id)
    try:
        item = selectors.trash_item(
            kind=kind,
            item_id=int(raw) if raw.isdigit() and len(raw) < 12 else 0,
            user=request.user,
        )
    except NotFound as exc:
        raise Http404(str(exc))
    is_version = kind == "version"
    what = (
        f"version {item.version} of model '{item.registration.name}'"
        if is_version
        else f"model '{item.name}'"
    )
    back = redirect(next_url(request, reverse("trash")))
    if action == "purge" and request.POST.get("confirm") != "yes":
        messages.error(request, f"Tick the box to delete {what} for good.")
        return back
    try:
        if action == "restore" and is_version:
            services.version_restore(version=item, user=request.user)
        elif action == "restore":
            services.registration_restore(registration=item, user=request.user)
        elif is_version:
            services.version_purge(version=item, user=request.user)
        else:
            services.registration_purge(registration=item, user=request.user)
    except DOMAIN_ERRORS as exc:
        messages.error(request, f"{what[0].upper()}{what[1:]}: {describe_error(exc).message}")
    else:
        done = "restored" if action == "restore" else "deleted for good"
        messages.success(request, f"{what[0].upper()}{what[1:]} {done}.")
    return back


# Registrations ------------------------------------------------------------------------
@login_required
def registration_list(request):
    filterset = RegistrationFilterSet(
        request.GET,
        queryset=access.readable_registrations(request.user, selectors.registration_listing()),
    )
    registrations = filterset.qs if filterset.is_valid() else ModelRegistration.objects.none()
    context = {
        "filter": filterset,
        "page": _page(request, selectors.registration_pages(registrations)),
        "registries": selectors.registry_list(),
        "stages": ModelVersionStage.values,
        "ordering": request.GET.get("ordering", ""),
        "query_without_page": _query_without(request, "page"),
        "query_without_ordering": _query_without(request, "ordering", "page"),
    }
    template = (
        "models/registration_list.html#table" if request.htmx else "models/registration_list.html"
    )
    return render(request, template, context)


SEARCH_VERSIONS_SHOWN = 25


@login_required
def search(request):
    """The top search: models by name, description, tag key or value; versions by run id
    (experiment or pipeline, whole or a prefix) or alias."""
    text, problem = request.GET.get("q", "").strip(), ""
    try:
        clean_filter_text(text, what="Search")
    except ValidationError as exc:
        problem, text = describe_error(exc).message, ""
    registrations = ModelRegistration.objects.none()
    versions = ModelVersion.objects.none()
    if text:
        registrations = access.readable_registrations(
            request.user, selectors.search_registrations(text)
        )
        versions = access.readable_versions(request.user, selectors.search_versions(text))
    found_versions = [] if request.htmx else list(versions[: SEARCH_VERSIONS_SHOWN + 1])
    context = {
        "q": text,
        "problem": problem,
        "page": _page(request, registrations),
        "versions": found_versions[:SEARCH_VERSIONS_SHOWN],
        "more_versions": len(found_versions) > SEARCH_VERSIONS_SHOWN,
        "query_without_page": _query_without(request, "page"),
    }
    return render(request, "search.html#models" if request.htmx else "search.html", context)


def _registration_context(request, registration: ModelRegistration) -> dict:
    summary = selectors.registration_summary(registry=registration.registry, name=registration.name)
    return {
        "registration": registration,
        "summary": summary,
        "capabilities": capabilities(registration.registry),
        "stages": ModelVersionStage.values,
        "is_owner": access.can(request.user, registration, access.Role.OWNER),
        "workflow_form": WorkflowForm.from_registration(registration),
    }


def _versions_context(request, registration: ModelRegistration) -> dict:
    filterset = VersionFilterSet(
        request.GET, queryset=selectors.version_list(registration=registration)
    )
    versions = filterset.qs if filterset.is_valid() else ModelVersion.objects.none()
    page = _page(request, versions)
    metric_names = sorted({key for version in page for key in version.metrics})[:3]
    return {
        "version_filter": filterset,
        "page": page,
        "metric_names": metric_names,
        "query_without_page": _query_without(request, "page"),
    }


def _chart_context(registration: ModelRegistration, metric: str | None) -> dict:
    return metrics.chart(selectors.metric_history(registration=registration), metric)


@login_required
def registration_detail(request, registry, name):
    registration = _get_registration(request, registry, name)
    partial = request.GET.get("partial") if request.htmx else None
    if partial == "chart":
        return render(
            request,
            "models/registration_detail.html#chart",
            {
                "registration": registration,
                "chart": _chart_context(registration, request.GET.get("metric")),
            },
        )
    if partial == "history":
        return render(
            request,
            "models/registration_detail.html#history",
            {
                "transitions": selectors.transition_list(registration=registration)[:20],
                "registration": registration,
            },
        )
    if partial == "summary":
        return render(
            request,
            "models/registration_detail.html#summary",
            _registration_context(request, registration),
        )
    context = {
        **_registration_context(request, registration),
        **_versions_context(request, registration),
        "chart": _chart_context(registration, request.GET.get("metric")),
        "transitions": selectors.transition_list(registration=registration)[:20],
        "edit_form": RegistrationEditForm.from_registration(registration),
        "card_form": ModelCardForm.from_registration(registration),
        "card_sections": _card_sections(registration),
    }
    if request.htmx and partial == "versions":
        return render(request, "models/registration_detail.html#versions", context)
    return render(request, "models/registration_detail.html", context)


@login_required
@require_POST
def registration_edit(request, registry, name):
    registration = _get_registration(request, registry, name)
    workflow = "workflow" in request.POST
    form = (WorkflowForm if workflow else RegistrationEditForm)(request.POST)
    if form.is_valid():
        changes = (
            {
                "approval_required": form.cleaned_data["approval_required"],
                "promotion_gate": form.cleaned_data["promotion_gate"],
            }
            if workflow
            else {
                "description": form.cleaned_data["description"],
                "tags": form.tag_patch(registration.tags),
            }
        )
        try:
            registration = services.registration_update(
                registration=registration, user=request.user, **changes
            )
            messages.success(request, "Saved.")
        except DOMAIN_ERRORS as exc:
            form.add_service_error(exc)
    if not request.htmx:
        if form.errors:
            messages.error(request, describe_error(ValidationError(form.errors)).message)
        return redirect(registration.get_absolute_url())
    context = {
        **_registration_context(request, registration),
        "edit_form": RegistrationEditForm.from_registration(registration),
    }
    context["workflow_form" if workflow else "edit_form"] = form
    return render(request, "models/registration_detail.html#header", context)


def _card_sections(registration: ModelRegistration) -> list[tuple[str, str, str]]:
    """(key, heading, Markdown) of each section written so far, in the card's order."""
    return [
        (key, label, registration.card[key])
        for key, label in CARD_SECTIONS.items()
        if registration.card.get(key)
    ]


@login_required
@require_POST
def registration_card_edit(request, registry, name):
    """Save the model card's sections; htmx gets the card back in place."""
    registration = _get_registration(request, registry, name)
    form = ModelCardForm(request.POST)
    if form.is_valid():
        try:
            registration = services.registration_update(
                registration=registration, card=form.card_patch(), user=request.user
            )
            messages.success(request, "Model card saved.")
        except DOMAIN_ERRORS as exc:
            form.add_service_error(exc)
    if not request.htmx:
        if form.errors:
            messages.error(request, describe_error(ValidationError(form.errors)).message)
        return redirect(registration.get_absolute_url() + "#card")
    context = {
        "registration": registration,
        "capabilities": capabilities(registration.registry),
        "card_form": form if form.errors else ModelCardForm.from_registration(registration),
        "card_sections": _card_sections(registration),
    }
    return render(request, "models/registration_detail.html#card", context)


# Timeline: the history in time order, the stage ledger's answer, rollback ----------------
TIMELINE_PAGE_SIZE = 50


def _timeline_context(request, registration: ModelRegistration) -> dict:
    oldest_first = request.GET.get("order") == "oldest"
    entries = selectors.transition_list(registration=registration)
    if oldest_first:
        entries = entries.order_by("created_at", "id")
    return {
        "registration": registration,
        "page": _page(request, entries, TIMELINE_PAGE_SIZE),
        "oldest_first": oldest_first,
        "query_without_page": _query_without(request, "page"),
        "query_without_order": _query_without(request, "order", "page"),
    }


@login_required
def registration_timeline(request, registry, name):
    """Every stage change, alias move and deletion of a registration with who, why and how;
    the ledger's answer to "what was in Production at T"; rollback for approvers."""
    registration = _get_registration(request, registry, name)
    context = _timeline_context(request, registration)
    if request.htmx and request.GET.get("partial") == "entries":
        return render(request, "models/registration_timeline.html#entries", context)
    form = LedgerForm(request.GET if "at" in request.GET else None)
    answer = None
    if form.is_bound and form.is_valid():
        try:
            answer = selectors.ledger_at(
                registration=registration,
                at=form.cleaned_data["at"],
                stage=form.cleaned_data["stage"] or None,
                alias=form.cleaned_data["alias"] or None,
            )
        except DOMAIN_ERRORS as exc:
            add_report(form, exc)
    may_roll_back = Capability.TRANSITION_STAGE in capabilities(
        registration.registry
    ) and access.can(request.user, registration, Role.APPROVER)
    context.update(
        {
            "form": form,
            "answer": answer,
            "time_zone": settings.TIME_ZONE,
            "plan": selectors.rollback_plan(registration=registration) if may_roll_back else None,
        }
    )
    return render(request, "models/registration_timeline.html", context)


@login_required
@require_POST
def registration_rollback(request, registry, name):
    registration = _get_registration(request, registry, name)
    expected = request.POST.get("expected_version", "")
    try:
        restored = services.registration_rollback(
            registration=registration,
            user=request.user,
            comment=request.POST.get("comment", ""),
            expected_version=clean_version_number(expected, field="expected_version")
            if expected
            else None,
        )
        messages.success(
            request, f"Rolled back: version {restored.version} is in Production again."
        )
    except DOMAIN_ERRORS as exc:
        messages.error(request, f"Not rolled back: {describe_error(exc).message}")
    return redirect(next_url(request, reverse("registration_timeline", args=[registry, name])))


# Roles --------------------------------------------------------------------------------
@login_required
def registration_roles(request, registry, name):
    """Who may do what to this model; owners grant and revoke here."""
    registration = _get_registration(request, registry, name)
    if request.method == "POST":
        revoke = request.POST.get("revoke")
        try:
            if revoke is not None:
                services.role_revoke(registration=registration, principal=revoke, user=request.user)
                messages.success(
                    request, f"{revoke} no longer holds a role on {registration.name}."
                )
            else:
                grant = services.role_grant(
                    registration=registration,
                    principal=request.POST.get("principal", ""),
                    role=request.POST.get("role", ""),
                    user=request.user,
                )
                messages.success(request, f"{grant.principal} is now {grant.role}.")
        except DOMAIN_ERRORS as exc:
            messages.error(request, f"Roles not changed: {describe_error(exc).message}")
        return redirect("registration_roles", registration.registry.name, registration.name)
    context = {
        "registration": registration,
        "grants": selectors.role_list(registration=registration),
        "your_role": access.role_of(request.user, registration),
        "may_manage": access.can(request.user, registration, access.Role.OWNER),
        "role_names": list(access.GRANTABLE),
        "default_role": access.default_role().label,
    }
    return render(request, "models/registration_roles.html", context)


# Transitions --------------------------------------------------------------------------
@login_required
@require_POST
def version_transition(request, registry, name, version):
    """Move a version; htmx gets the refreshed versions table and a stageChanged event."""
    registration = _get_registration(request, registry, name)
    target = _get_version(registration, version)
    form = TransitionForm(request.POST, version=target, live_version=_live_version(registration))
    changed, refusal = False, ""
    if form.is_valid():
        try:
            change = services.version_stage_change(
                version=target,
                stage=form.cleaned_data["stage"],
                archive_existing=form.cleaned_data["archive_existing"],
                comment=form.cleaned_data["comment"],
                user=request.user,
            )
            if change.request is not None:
                messages.success(
                    request,
                    f"Request #{change.request.pk} sent for approval: an approver will move "
                    f"version {target.version} to {change.request.to_stage}.",
                )
            else:
                changed = True
                messages.success(
                    request, f"Version {target.version} moved to {form.cleaned_data['stage']}."
                )
        except DOMAIN_ERRORS as exc:
            refusal = describe_error(exc).message
    else:
        refusal = describe_error(ValidationError(form.errors)).message
    if refusal:
        messages.error(request, f"Version {target.version} was not moved: {refusal}")
    if not request.htmx:
        return redirect(next_url(request, registration.get_absolute_url()))
    if request.POST.get("from") == "version":
        response = render(
            request,
            "models/version_detail.html#stage",
            _version_context(request, registration, target),
        )
    else:
        context = {
            **_registration_context(request, registration),
            **_versions_context(request, registration),
        }
        response = render(request, "models/registration_detail.html#versions", context)
    if changed:
        trigger_client_event(response, STAGE_CHANGED)
    return response


def _live_version(registration: ModelRegistration) -> int | None:
    return (
        selectors.version_list(registration=registration, stage=ModelVersionStage.PRODUCTION)
        .values_list("version", flat=True)
        .first()
    )


def _move_warning(version: ModelVersion, live_version: int | None) -> str:
    """What the dialog says before any target is picked, for a page without JavaScript."""
    if version.stage == ModelVersionStage.PRODUCTION:
        return f"Any move takes v{version.version} out of Production."
    if live_version is not None:
        return f"Moving to Production with archiving ticked archives v{live_version} (live now)."
    return ""


# Versions -----------------------------------------------------------------------------
def _version_context(request, registration, version) -> dict:
    version = selectors.version_list(registration=registration).get(pk=version.pk)
    return {
        "registration": registration,
        "version": version,
        "capabilities": capabilities(registration.registry),
        "transitions": selectors.transition_list(
            registration=registration, version_number=version.version
        )[:50],
        "stages": ModelVersionStage.values,
        "live_version": _live_version(registration),
        "run_link": run_link(registration.registry, version.experiment_run_id),
        "pending_request": selectors.promotion_request_pending(version=version),
        "gate_failures": metrics.gate_failures(registration.promotion_gate, version.metrics),
        "base_url": request.build_absolute_uri("/").rstrip("/"),
    }


@login_required
def version_detail(request, registry, name, version):
    registration = _get_registration(request, registry, name)
    target = _get_version(registration, version)
    context = _version_context(request, registration, target)
    context["move_open"] = "move" in request.GET
    context["move_label"] = f"{registration.name} v{target.version}"
    context["move_warning"] = _move_warning(target, context["live_version"])
    if request.htmx and request.GET.get("partial") == "history":
        return render(request, "models/version_detail.html#history", context)
    return render(request, "models/version_detail.html", context)


@login_required
@require_POST
def alias_set(request, registry, name, version):
    registration = _get_registration(request, registry, name)
    target = _get_version(registration, version)
    try:
        services.alias_set(version=target, alias=request.POST.get("alias", ""), user=request.user)
        messages.success(
            request, f"Alias '{request.POST.get('alias')}' now points at version {target.version}."
        )
    except DOMAIN_ERRORS as exc:
        messages.error(request, f"Alias not set: {describe_error(exc).message}")
    if request.htmx:
        return render(
            request,
            "models/version_detail.html#aliases",
            _version_context(request, registration, target),
        )
    return redirect(target.get_absolute_url())


@login_required
@require_POST
def alias_delete(request, registry, name, version, alias):
    registration = _get_registration(request, registry, name)
    target = _get_version(registration, version)
    try:
        services.alias_delete(registration=registration, alias=alias, user=request.user)
        messages.success(request, f"Alias '{alias}' removed.")
    except DOMAIN_ERRORS as exc:
        messages.error(request, f"Alias not removed: {describe_error(exc).message}")
    if request.htmx:
        return render(
            request,
            "models/version_detail.html#aliases",
            _version_context(request, registration, target),
        )
    return redirect(target.get_absolute_url())


@login_required
def compare(request, registry, name):
    registration = _get_registration(request, registry, name)
    numbers, problems = [], []
    asked = request.GET.getlist("v")
    if len(asked) > COMPARE_LIMIT:
        problems.append(f"Compare at most {COMPARE_LIMIT} versions at once.")
    for raw in asked[:COMPARE_LIMIT]:
        try:
            numbers.append(clean_version_number(raw))
        except ValidationError:
            problems.append(f"'{raw[:20]}' is not a version number.")
    versions = list(selectors.version_list(registration=registration, numbers=numbers))
    found = {version.version for version in versions}
    missing = sorted(set(numbers) - found)
    if missing:
        shown = ", ".join(str(number) for number in missing)
        problems.append(
            f"Version {shown} does not exist."
            if len(missing) == 1
            else f"Versions {shown} do not exist."
        )
    if problems:
        messages.error(request, f"Cannot compare: {' '.join(problems)}")
        return redirect(registration.get_absolute_url())
    if len(versions) < 2:
        messages.info(request, "Tick at least two versions to compare them.")
        return redirect(registration.get_absolute_url())
    context = {
        "registration": registration,
        **comparison(versions),
        **_compare_controls(request, registration, versions),
    }
    return render(request, "models/compare.html", context)


COMPARE_GROUPS = ("metrics", "parameters", "tags", "metadata", "lineage")


def _compare_controls(request, registration, versions: list[ModelVersion]) -> dict:
    """What the compare page offers around the table: versions to add, a link to remove each
    one, "differences only" per group, a metric plot and the stage-change dialog."""
    shown = [version.version for version in versions]
    only = [group for group in request.GET.getlist("only")[:10] if group in COMPARE_GROUPS]
    base = request.GET.copy()
    base.setlist("v", [str(number) for number in shown])
    base.pop("only", None)

    def query(**changes) -> str:
        query = base.copy()
        for key, values in changes.items():
            query.setlist(key, [str(value) for value in values])
        return query.urlencode()

    for version in versions:
        version.remove_query = (
            query(v=[n for n in shown if n != version.version], only=only) if len(shown) > 2 else ""
        )
    toggles = {
        group: query(only=[g for g in only if g != group] if group in only else [*only, group])
        for group in COMPARE_GROUPS
    }
    rows = [(version.version, version.stage, version.metrics) for version in versions]
    return {
        "addable": [
            (number, stage)
            for number, stage in selectors.version_numbers(registration=registration)
            if number not in shown
        ],
        "compare_full": len(shown) >= COMPARE_LIMIT,
        "only": only,
        "toggles": toggles,
        "chart": metrics.chart(rows, request.GET.get("metric")),
        "chart_query": query(only=only, metric=[]),
        "capabilities": capabilities(registration.registry),
        "stages": ModelVersionStage.values,
        "live_version": next(
            (v.version for v in versions if v.stage == ModelVersionStage.PRODUCTION),
            _live_version(registration),
        ),
        "here": request.get_full_path(),
    }


def comparison(versions: list[ModelVersion]) -> dict:
    """Rows for a side-by-side table: best metric values and differing values marked."""

    def rows(attr: str, best: bool = False):
        keys = sorted({key for version in versions for key in getattr(version, attr)})
        result = []
        for key in keys:
            values = [getattr(version, attr).get(key) for version in versions]
            winner = metrics.best_value(key, values) if best else None
            cells = [
                {
                    "value": value,
                    "best": winner is not None and value == winner,
                    "delta": metrics.delta(value, values[0]) if best else None,
                    "changed": index > 0 and repr(value) != repr(values[0]),
                }
                for index, value in enumerate(values)
            ]
            result.append(
                {"key": key, "cells": cells, "differs": len({repr(v) for v in values}) > 1}
            )
        return result

    lineage = [
        {
            "key": field.replace("_", " "),
            "cells": [
                {
                    "value": getattr(v, field),
                    "changed": getattr(v, field) != getattr(versions[0], field),
                }
                for v in versions
            ],
            "differs": len({getattr(v, field) for v in versions}) > 1,
        }
        for field in ModelVersion.IMMUTABLE_FIELDS
        if field != "parameters"  # a map: compared key by key above
    ]
    metric_rows = rows("metrics", best=True)
    for index, version in enumerate(versions):
        # "Which version should go to Production and why": how many metrics each one leads.
        version.best_count = sum(row["cells"][index]["best"] for row in metric_rows)
    return {
        "versions": versions,
        "metric_count": len(metric_rows),
        "metric_rows": metric_rows,
        "parameter_rows": rows("parameters"),
        "tag_rows": rows("tags"),
        "metadata_rows": rows("metadata"),
        "lineage_rows": lineage,
    }


@login_required
@require_http_methods(["GET", "POST"])
def register_version(request):
    initial = {
        "registry": request.GET.get("registry", "default"),
        "name": request.GET.get("name", ""),
    }
    form = RegisterVersionForm(request.POST or None, initial=initial)
    similar = []
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        similar = selectors.similar_registration_names(
            data["registry"], data["name"], user=request.user
        )
        try:
            version = services.version_register(
                registry=data["registry"],
                name=data["name"],
                **{field: data[field] for field in ModelVersion.REGISTERED_FIELDS},
                user=request.user,
            )
        except DOMAIN_ERRORS as exc:
            form.add_service_error(exc)
        else:
            messages.success(
                request, f"Registered version {version.version} of {version.registration.name}."
            )
            if similar and version.version == 1:
                messages.warning(request, _similar_warning(version.registration.name, similar))
            return redirect(version.get_absolute_url())
    names = selectors.registration_names(user=request.user)
    return render(
        request,
        "models/register_version.html",
        {"form": form, "names": names, "similar": similar},
    )


def _similar_warning(name: str, similar: list[str]) -> str:
    shown = ", ".join(f"'{other}'" for other in similar)
    return (
        f"'{name}' differs only by case or lookalike characters from existing {shown}: "
        "check that you meant a new model."
    )


@login_required
@require_GET
def similar_names(request):
    """The registration form's warning (non-blocking) about lookalike model names."""
    try:
        registry = selectors.registry_get(request.GET.get("registry"))
    except NotFound:
        registry = None
    name = request.GET.get("name", "")[:1000]
    similar = (
        selectors.similar_registration_names(registry, name, user=request.user) if registry else []
    )
    # The suggestions follow what is typed, so every existing model can be offered.
    names = selectors.registration_names(user=request.user, containing=name.strip(), limit=20)
    return render(
        request,
        "models/register_version.html#similar",
        {
            "similar": similar,
            "warning": _similar_warning(name, similar) if similar else "",
            "names": names,
            "suggest": True,
        },
    )


# Audit log ----------------------------------------------------------------------------
@login_required
@require_GET
def audit_log(request):
    """Every change made through the product, filterable; read-only."""
    filterset = AuditFilterSet(request.GET, queryset=selectors.audit_list(user=request.user))
    events = filterset.qs if filterset.is_valid() else AuditEvent.objects.none()
    context = {
        "filter": filterset,
        "page": _page(request, events),
        "actions": AuditAction.choices,
        "query_without_page": _query_without(request, "page"),
    }
    if request.htmx:
        return render(request, "audit.html#table", context)
    return render(request, "audit.html", context)


# Registries and tokens ----------------------------------------------------------------
@login_required
def registries(request):
    flavors = describe_flavors()
    context = {**_registries_context(), "flavors": flavors}
    if request.htmx:
        return render(request, "registries.html#table", context)
    return render(request, "registries.html", context)


def _registry_rows():
    rows = list(selectors.registry_list(with_counts=True))
    latest = selectors.sync_run_latest(rows)
    for registry in rows:
        registry.capability_list = sorted(capabilities(registry))
        registry.can_sync = Capability.SYNC in registry.capability_list
        registry.latest_sync = latest.get(registry.pk)
    return rows


def _registries_context() -> dict:
    rows = _registry_rows()
    return {
        "registries": rows,
        "syncing": any(r.latest_sync and r.latest_sync.is_active for r in rows),
    }


@login_required
@require_http_methods(["GET", "POST"])
def registry_new(request):
    """Add a registry from a page: the available flavors, each with its own settings, and
    "Test connection" to try the settings before saving (nothing is saved by a test)."""
    if not request.user.has_perm("models_app.add_registry"):
        refusal = "You do not have permission to add a registry (add_registry)."
        return render(request, "registry_form.html", {"refused": refusal}, status=403)
    flavors = available_flavors()
    default = "mlflow" if "mlflow" in flavors else next(iter(flavors), "")
    form = RegistryForm(request.POST or None, flavors=flavors, initial={"flavor": default})
    connected = ""
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if "test" in request.POST:
                connected = services.registry_connection_test(
                    flavor=data["flavor"], config=form.config(), user=request.user
                )
            else:
                registry = services.registry_create(
                    name=data["name"],
                    flavor=data["flavor"],
                    config=form.config(),
                    description=data["description"],
                    case_insensitive_names=data["case_insensitive_names"],
                    user=request.user,
                )
                messages.success(request, f"Registry {registry.name} added.")
                return redirect("registries")
        except DOMAIN_ERRORS as exc:
            form.add_service_error(exc)
    chosen = form["flavor"].value() or default
    return render(
        request, "registry_form.html", {"form": form, "connected": connected, "chosen": chosen}
    )


@login_required
@require_POST
def registry_sync(request, registry):
    """Queue a sync; the registries page then polls its progress."""
    try:
        target = selectors.registry_get(registry)
        services.sync_request(registry=target, user=request.user)
        messages.success(request, f"Sync of {target.name} started.")
    except DOMAIN_ERRORS as exc:
        messages.error(request, f"Sync not started: {describe_error(exc).message}")
    if request.htmx:
        return render(request, "registries.html#table", _registries_context())
    return redirect("registries")


NEW_TOKEN_SESSION_KEY = "new_token_secret"


@never_cache  # the page may show a new secret: no cache may keep it (Cache-Control: no-store)
@login_required
@require_http_methods(["GET", "POST"])
def tokens(request):
    """Create and revoke tokens. A new secret is kept in the session for one read after the
    redirect, so reloading the page shows nothing new and creates nothing."""
    if request.method == "POST":
        if "revoke_all" in request.POST:
            count = services.tokens_revoke_all(owner=request.user, user=request.user)
            messages.success(request, f"{count} token{'s'[: count != 1]} revoked.")
            return redirect("tokens")
        if "revoke" in request.POST:
            prefix = request.POST["revoke"]
            try:
                token = selectors.token_get(user=request.user, prefix=prefix)
            except NotFound:
                pass
            else:
                services.token_revoke(token=token, user=request.user)
                messages.success(request, f"Token {token.prefix}… revoked.")
            return redirect("tokens")
        try:
            _, secret = services.token_create(
                owner=request.user, name=request.POST.get("name", ""), user=request.user
            )
        except ValidationError as exc:
            messages.error(request, describe_error(exc).message)
        else:
            request.session[NEW_TOKEN_SESSION_KEY] = secret
        return redirect("tokens")
    new_secret = request.session.pop(NEW_TOKEN_SESSION_KEY, None)
    token_list = list(selectors.token_list(user=request.user))
    context = {
        "tokens": token_list,
        "active_count": sum(t.is_active for t in token_list),
        "new_secret": new_secret,
        "base_url": request.build_absolute_uri("/").rstrip("/"),
    }
    return render(request, "tokens.html", context)


# Webhooks -----------------------------------------------------------------------------
NEW_WEBHOOK_SESSION_KEY = "new_webhook_secret"


def _webhook_for(request, webhook_id: str):
    return selectors.webhook_get(
        user=request.user, webhook_id=int(webhook_id) if webhook_id.isdigit() else None
    )


def _webhooks_page(request, form=None, status=200):
    """The list (of one model's webhooks when the address names it) and the form to add one."""
    registration = None
    if request.GET.get("model"):
        try:
            registration = selectors.registration_get(
                registry=request.GET.get("registry") or None, name=request.GET["model"][:1000]
            )
        except NotFound:
            pass
        if registration is not None and not access.can(
            request.user, registration, access.Role.VIEWER
        ):
            registration = None  # a model hidden from the user is not named to them
    context = {
        "registration": registration,
        "webhooks": list(selectors.webhook_list(user=request.user, registration=registration)),
        "form": form or WebhookForm(initial=request.GET.dict()),
        "registries": selectors.registry_list(),
        "new_secret": request.session.pop(NEW_WEBHOOK_SESSION_KEY, None),
    }
    return render(request, "webhooks.html", context, status=status)


@never_cache  # the page may show a new secret
@login_required
@require_http_methods(["GET", "POST"])
def webhooks(request):
    """The webhooks the user manages, and a form to add one. Like a token, a new secret is
    shown once, after the redirect."""
    if request.method == "GET":
        return _webhooks_page(request)
    form = WebhookForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            registration = None
            if data["model"].strip():
                registration = selectors.registration_get(
                    registry=data["registry"] or None, name=data["model"].strip()
                )
            webhook, secret = services.webhook_create(
                url=data["url"],
                events=data["events"],
                name=data["name"],
                registration=registration,
                user=request.user,
            )
        except DOMAIN_ERRORS as exc:
            form.add_service_error(exc)
        else:
            request.session[NEW_WEBHOOK_SESSION_KEY] = secret
            messages.success(request, f"Webhook to {webhook.url} created.")
            return redirect("webhooks")
    return _webhooks_page(request, form=form, status=400)


@login_required
@require_GET
def webhook_detail(request, webhook_id):
    """One webhook and its delivery log; the log refreshes itself while a delivery is pending."""
    try:
        webhook = _webhook_for(request, webhook_id)
    except NotFound as exc:
        raise Http404(str(exc))
    except DOMAIN_ERRORS as exc:
        messages.error(request, describe_error(exc).message)
        return _webhooks_page(request, status=403)
    page = _page(request, selectors.webhook_deliveries(webhook=webhook))
    context = {
        "webhook": webhook,
        "page": page,
        "pending": any(d.status == "pending" for d in page.object_list),
    }
    if request.htmx:
        return render(request, "webhook_detail.html#log", context)
    return render(request, "webhook_detail.html", context)


@login_required
@require_POST
def webhook_test(request, webhook_id):
    try:
        webhook = _webhook_for(request, webhook_id)
        services.webhook_test(webhook=webhook, user=request.user)
    except NotFound as exc:
        raise Http404(str(exc))
    except DOMAIN_ERRORS as exc:
        messages.error(request, f"Not sent: {describe_error(exc).message}")
        return redirect("webhooks")
    messages.success(request, "Test event queued; its delivery shows below.")
    return redirect("webhook_detail", webhook_id=webhook.pk)


@login_required
@require_POST
def webhook_delete(request, webhook_id):
    try:
        webhook = _webhook_for(request, webhook_id)
        services.webhook_delete(webhook=webhook, user=request.user)
    except NotFound as exc:
        raise Http404(str(exc))
    except DOMAIN_ERRORS as exc:
        messages.error(request, f"Not deleted: {describe_error(exc).message}")
    else:
        messages.success(request, f"Webhook to {webhook.url} deleted.")
    return redirect("webhooks")
