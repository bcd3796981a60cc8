"""REST API views: parse, call one service or selector, serialize. No rules live here."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    PolymorphicProxySerializer,
    extend_schema,
    inline_serializer,
)
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from models_app import access, selectors, services
from models_app.api import serializers as s
from models_app.api.pagination import PAGE_PARAMETERS, SearchPagination
from models_app.exceptions import NotFound
from models_app.filters import (
    AuditFilterSet,
    RegistrationFilterSet,
    TransitionFilterSet,
    VersionFilterSet,
)
from models_app.flavors import describe_flavors
from models_app.models import (
    AuditEvent,
    ModelRegistration,
    ModelVersionStage,
    PromotionRequest,
    RegistrationRole,
    SyncRun,
    WebhookDelivery,
)
from models_app.validation import MAX_VERSION_NUMBER, clean_instant, clean_version_number

REGISTRY = OpenApiParameter(
    "registry", OpenApiTypes.STR, OpenApiParameter.PATH, description="Registry name."
)
NAME = OpenApiParameter(
    "name", OpenApiTypes.STR, OpenApiParameter.PATH, description="Model name (URL-encoded)."
)
VERSION = OpenApiParameter(
    "version", OpenApiTypes.INT, OpenApiParameter.PATH, description="Version number."
)


class FilterBackend(DjangoFilterBackend):
    """django-filter's backend; a request with no parameter but the page's own skips building
    the filter form, which costs more than the rest of a short list."""

    def filter_queryset(self, request, queryset, view):
        if set(request.query_params) <= PAGE_PARAMETERS:
            return queryset
        return super().filter_queryset(request, queryset, view)


class RegistrationMixin:
    """Finds the registration (and version) named in the address."""

    def get_registration(self):
        registration = selectors.registration_get(
            registry=self.kwargs["registry"], name=self.kwargs["name"]
        )
        access.require_read(self.request.user, registration)
        return registration

    def get_version(self):
        number = clean_version_number(self.kwargs["version"])
        return selectors.version_get(registration=self.get_registration(), version=number)

    def version_response(self, version, status_code=status.HTTP_200_OK):
        fresh = selectors.version_list(registration=version.registration).get(pk=version.pk)
        return Response(s.VersionSerializer(fresh).data, status=status_code)


# Registries and flavors ---------------------------------------------------------------
@extend_schema(tags=["registries"])
class RegistryList(generics.ListAPIView):
    serializer_class = s.RegistrySerializer

    def get_queryset(self):
        return selectors.registry_list()

    @extend_schema(request=s.RegistryCreateInput, responses={201: s.RegistrySerializer})
    def post(self, request):
        data = _input(request, s.RegistryCreateInput)
        registry = services.registry_create(user=request.user, **data)
        return Response(s.RegistrySerializer(registry).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["registries"], parameters=[REGISTRY])
class RegistryDetail(APIView):
    @extend_schema(responses=s.RegistrySerializer)
    def get(self, request, registry):
        return Response(s.RegistrySerializer(selectors.registry_get(registry)).data)

    @extend_schema(request=s.RegistryUpdateInput, responses=s.RegistrySerializer)
    def patch(self, request, registry):
        data = _input(request, s.RegistryUpdateInput)
        updated = services.registry_update(
            registry=selectors.registry_get(registry), user=request.user, **data
        )
        return Response(s.RegistrySerializer(updated).data)

    @extend_schema(responses={204: None})
    def delete(self, request, registry):
        services.registry_delete(registry=selectors.registry_get(registry), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["registries"], parameters=[REGISTRY])
class RegistrySync(APIView):
    @extend_schema(
        request=None,
        responses={202: s.SyncRunSerializer},
        description="Queue a sync from the registry's backend; poll the returned url for progress.",
    )
    def post(self, request, registry):
        run = services.sync_request(registry=selectors.registry_get(registry), user=request.user)
        run.refresh_from_db()
        return Response(s.SyncRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(tags=["registries"], parameters=[REGISTRY])
class SyncRunList(generics.ListAPIView):
    serializer_class = s.SyncRunSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return SyncRun.objects.none()
        return selectors.sync_run_list(registry=selectors.registry_get(self.kwargs["registry"]))


@extend_schema(
    tags=["registries"],
    parameters=[REGISTRY, OpenApiParameter("run_id", OpenApiTypes.INT, OpenApiParameter.PATH)],
    responses=s.SyncRunSerializer,
)
class SyncRunDetail(APIView):
    def get(self, request, registry, run_id):
        run = selectors.sync_run_get(
            registry=selectors.registry_get(registry), run_id=_row_id(run_id)
        )
        return Response(s.SyncRunSerializer(run).data)


@extend_schema(tags=["registries"], responses=s.FlavorSerializer(many=True))
class FlavorList(APIView):
    def get(self, request):
        return Response(s.FlavorSerializer(describe_flavors(), many=True).data)


# Registrations ------------------------------------------------------------------------
@extend_schema(tags=["models"])
class RegistrationList(generics.ListCreateAPIView):
    serializer_class = s.RegistrationSerializer
    filter_backends = [FilterBackend]
    filterset_class = RegistrationFilterSet

    def get_queryset(self):
        return access.readable_registrations(self.request.user, selectors.registration_listing())

    def paginate_queryset(self, queryset):
        # Plain rows: the serializer reads them as it reads objects, for a fraction of the cost.
        rows = queryset.values(*s.REGISTRATION_ROW)
        return super().paginate_queryset(selectors.registration_pages(rows))

    @extend_schema(request=s.RegistrationCreateInput, responses={201: s.RegistrationSerializer})
    def post(self, request):
        data = _input(request, s.RegistrationCreateInput)
        registration = services.registration_create(
            registry=selectors.registry_get(data["registry"]),
            name=data["name"],
            description=data["description"],
            tags=data["tags"],
            user=request.user,
        )
        return Response(
            s.RegistrationSerializer(_annotated(registration)).data, status=status.HTTP_201_CREATED
        )


def _annotated(registration):
    return (
        selectors.registration_list(registry=registration.registry, name=registration.name)
        .select_related("created_by")
        .get()
    )


def _row_id(raw: str) -> int | None:
    """A row id from the address, or None for anything no row can have (no huge ints to the DB)."""
    return int(raw) if raw.isdigit() and int(raw) <= MAX_VERSION_NUMBER else None


def _input(request, serializer_class):
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


@extend_schema(tags=["models"], parameters=[REGISTRY, NAME])
class RegistrationDetail(RegistrationMixin, APIView):
    @extend_schema(responses=s.RegistrationSerializer)
    def get(self, request, registry, name):
        found = selectors.registration_summary(registry=registry, name=name)
        access.require_read(request.user, found)
        return Response(s.RegistrationSerializer(found).data)

    @extend_schema(request=s.RegistrationUpdateInput, responses=s.RegistrationSerializer)
    def patch(self, request, registry, name):
        data = _input(request, s.RegistrationUpdateInput)
        registration = services.registration_update(
            registration=self.get_registration(),
            description=data.get("description"),
            tags=data.get("tags"),
            protected_aliases=data.get("protected_aliases", services.UNSET),
            approval_required=data.get("approval_required", services.UNSET),
            promotion_gate=data.get("promotion_gate", services.UNSET),
            name=data.get("name"),
            card=data.get("card"),
            user=request.user,
        )
        return Response(s.RegistrationSerializer(_annotated(registration)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, registry, name):
        services.registration_delete(registration=self.get_registration(), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# Versions -----------------------------------------------------------------------------
@extend_schema(tags=["versions"], parameters=[REGISTRY, NAME])
class VersionList(RegistrationMixin, generics.ListAPIView):
    serializer_class = s.VersionSerializer
    filter_backends = [FilterBackend]
    filterset_class = VersionFilterSet

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return selectors.version_list().none()
        return selectors.version_list(registration=self.get_registration())

    @extend_schema(
        request=s.VersionCreateInput,
        responses={201: s.VersionSerializer},
        description="Register a new version; the model is created if the name is new.",
    )
    def post(self, request, registry, name):
        data = _input(request, s.VersionCreateInput)
        version = services.version_register(
            registry=selectors.registry_get(registry), name=name, user=request.user, **data
        )
        return self.version_response(version, status.HTTP_201_CREATED)


@extend_schema(tags=["versions"], parameters=[REGISTRY, NAME, VERSION])
class VersionDetail(RegistrationMixin, APIView):
    @extend_schema(responses=s.VersionSerializer)
    def get(self, request, registry, name, version):
        found = selectors.version_find(
            registry=registry, name=name, version=clean_version_number(version)
        )
        access.require_read(request.user, found.registration)
        return Response(s.VersionSerializer(found).data)

    @extend_schema(request=s.VersionUpdateInput, responses=s.VersionSerializer)
    def patch(self, request, registry, name, version):
        data = _input(request, s.VersionUpdateInput)
        updated = services.version_update(version=self.get_version(), user=request.user, **data)
        return self.version_response(updated)

    @extend_schema(responses={204: None})
    def delete(self, request, registry, name, version):
        services.version_delete(version=self.get_version(), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["versions"], parameters=[REGISTRY, NAME, VERSION])
class VersionTransition(RegistrationMixin, APIView):
    @extend_schema(
        request=s.TransitionInput,
        responses={200: s.VersionSerializer, 202: s.PromotionRequestSerializer},
        description=(
            "The only way to change a stage. With archive_existing, every other version in the "
            "target stage (Staging or Production) is archived in the same transaction. A "
            "contributor's move to Production of a model whose approval is on is not made: "
            "the answer is 202 with the pending request it created (or the one already "
            "pending), for an approver to decide at /api/v1/requests/. A version failing the "
            "model's promotion gate is refused (409) with the reason."
        ),
    )
    def post(self, request, registry, name, version):
        data = _input(request, s.TransitionInput)
        change = services.version_stage_change(
            version=self.get_version(), user=request.user, **data
        )
        if change.request is not None:
            return Response(
                s.PromotionRequestSerializer(change.request).data,
                status=status.HTTP_202_ACCEPTED,
            )
        return self.version_response(change.version)


@extend_schema(
    tags=["versions"],
    parameters=[
        REGISTRY,
        NAME,
        OpenApiParameter("stage", OpenApiTypes.STR, description="Highest version in this stage."),
        OpenApiParameter(
            "alias", OpenApiTypes.STR, description="The version this alias points at."
        ),
    ],
    responses=s.VersionSerializer,
)
class VersionLatest(RegistrationMixin, APIView):
    def get(self, request, registry, name):
        alias = request.query_params.get("alias")
        if alias:
            found = selectors.version_alias_find(registry=registry, name=name, alias=alias)
        else:
            found = selectors.version_latest_find(
                registry=registry, name=name, stage=request.query_params.get("stage")
            )
        access.require_read(request.user, found.registration)
        return Response(s.VersionSerializer(found).data)


# Aliases ------------------------------------------------------------------------------
@extend_schema(tags=["aliases"], parameters=[REGISTRY, NAME])
class AliasList(RegistrationMixin, generics.ListAPIView):
    serializer_class = s.AliasSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return selectors.alias_list(registration=None)
        return selectors.alias_list(registration=self.get_registration())

    @extend_schema(
        request=s.AliasCreateInput,
        responses={201: s.AliasSerializer},
        description=(
            "Create an alias; 409 if it already points at another version (use PUT to move it)."
        ),
    )
    def post(self, request, registry, name):
        data = _input(request, s.AliasCreateInput)
        registration = self.get_registration()
        target = selectors.version_get(
            registration=registration, version=clean_version_number(data["version"])
        )
        alias = services.alias_set(
            version=target, alias=data["alias"], move=False, user=request.user
        )
        return Response(s.AliasSerializer(alias).data, status=status.HTTP_201_CREATED)


ALIAS = OpenApiParameter("alias", OpenApiTypes.STR, OpenApiParameter.PATH)


@extend_schema(tags=["aliases"], parameters=[REGISTRY, NAME, ALIAS])
class AliasDetail(RegistrationMixin, APIView):
    @extend_schema(responses=s.VersionSerializer, description="Resolve the alias to its version.")
    def get(self, request, registry, name, alias):
        found = selectors.version_alias_find(registry=registry, name=name, alias=alias)
        access.require_read(request.user, found.registration)
        return Response(s.VersionSerializer(found).data)

    @extend_schema(
        request=s.AliasInput, responses=s.AliasSerializer, description="Set or move the alias."
    )
    def put(self, request, registry, name, alias):
        data = _input(request, s.AliasInput)
        target = selectors.version_get(
            registration=self.get_registration(), version=clean_version_number(data["version"])
        )
        return Response(
            s.AliasSerializer(
                services.alias_set(version=target, alias=alias, user=request.user)
            ).data
        )

    @extend_schema(responses={204: None})
    def delete(self, request, registry, name, alias):
        services.alias_delete(registration=self.get_registration(), alias=alias, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# Roles --------------------------------------------------------------------------------
@extend_schema(tags=["roles"], parameters=[REGISTRY, NAME])
class RoleList(RegistrationMixin, generics.ListAPIView):
    serializer_class = s.RoleSerializer
    pagination_class = None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return RegistrationRole.objects.none()
        return selectors.role_list(registration=self.get_registration())

    @extend_schema(
        request=s.RoleInput,
        responses={201: s.RoleSerializer},
        description="Grant a user or @group a role on the model, replacing the one they had "
        "(owners only).",
    )
    def post(self, request, registry, name):
        data = _input(request, s.RoleInput)
        grant = services.role_grant(
            registration=self.get_registration(),
            principal=data["principal"],
            role=data["role"],
            user=request.user,
        )
        return Response(s.RoleSerializer(grant).data, status=status.HTTP_201_CREATED)


@extend_schema(
    tags=["roles"],
    parameters=[
        REGISTRY,
        NAME,
        OpenApiParameter(
            "principal",
            OpenApiTypes.STR,
            OpenApiParameter.PATH,
            description="A username, or @group for a group.",
        ),
    ],
    responses={204: None},
)
class RoleDetail(RegistrationMixin, APIView):
    def delete(self, request, registry, name, principal):
        services.role_revoke(
            registration=self.get_registration(), principal=principal, user=request.user
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


# History and flat searches ------------------------------------------------------------
@extend_schema(
    tags=["history"],
    parameters=[
        REGISTRY,
        NAME,
        OpenApiParameter(
            "at",
            OpenApiTypes.STR,
            description="Ask the stage ledger instead of listing: which version was in `stage` "
            "(or held `alias`) at this moment. ISO 8601, e.g. 2026-11-24T12:00:00+01:00; a time "
            "without offset is in the server's time zone (DJANGO_TIME_ZONE), a date alone is "
            "its midnight.",
        ),
        OpenApiParameter(
            "stage",
            OpenApiTypes.STR,
            enum=ModelVersionStage.values,
            description="With `at`: the stage asked about (default Production).",
        ),
        OpenApiParameter(
            "alias", OpenApiTypes.STR, description="With `at`: the alias asked about."
        ),
    ],
    responses=PolymorphicProxySerializer(
        component_name="HistoryAnswer",
        serializers=[s.TransitionPageSerializer, s.LedgerAnswerSerializer],
        resource_type_field_name=None,
    ),
    description="Without `at`: the registration's history, newest first (stage changes, alias "
    "moves, deletions). With `at`: the ledger's answer for that moment.",
)
class RegistrationHistory(RegistrationMixin, generics.ListAPIView):
    serializer_class = s.TransitionSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return selectors.transition_list().none()
        return selectors.transition_list(registration=self.get_registration())

    def get(self, request, *args, **kwargs):
        params = request.query_params
        if "at" not in params:
            if "stage" in params or "alias" in params:
                raise DjangoValidationError({"at": "Give `at` with `stage` or `alias`."})
            return super().get(request, *args, **kwargs)
        if params.get("stage") and params.get("alias"):
            raise DjangoValidationError({"alias": "Ask about a stage or an alias, not both."})
        at = clean_instant(params.get("at"))
        answer = selectors.ledger_at(
            registration=self.get_registration(),
            at=at,
            stage=params.get("stage") or None,
            alias=params.get("alias") or None,
        )
        return Response(s.LedgerAnswerSerializer(answer).data)


@extend_schema(tags=["history"], parameters=[REGISTRY, NAME])
class RegistrationRollback(RegistrationMixin, APIView):
    @extend_schema(
        request=s.RollbackInput,
        responses=s.VersionSerializer,
        description=(
            "Put the previous Production version back in Production and archive the versions "
            "there now, recorded in the history with cause `rollback`; answers the restored "
            "version. 409 when there is nothing to roll back to (nothing in Production, no "
            "earlier Production version, or it was deleted). Needs the promote permission."
        ),
    )
    def post(self, request, registry, name):
        data = _input(request, s.RollbackInput)
        restored = services.registration_rollback(
            registration=self.get_registration(),
            user=request.user,
            comment=data["comment"],
            expected_version=data.get("expected_version"),
        )
        return self.version_response(restored)


@extend_schema(tags=["history"], parameters=[REGISTRY, NAME, VERSION])
class VersionHistory(RegistrationMixin, generics.ListAPIView):
    serializer_class = s.TransitionSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return selectors.transition_list().none()
        registration = self.get_registration()
        number = clean_version_number(self.kwargs["version"])
        selectors.version_get(registration=registration, version=number)
        return selectors.transition_list(registration=registration, version_number=number)


@extend_schema(tags=["versions"], description="Search versions across every registration.")
class FlatVersionList(generics.ListAPIView):
    serializer_class = s.VersionSerializer
    filter_backends = [FilterBackend]
    filterset_class = VersionFilterSet
    pagination_class = SearchPagination

    def get_queryset(self):
        return access.readable_versions(self.request.user, selectors.version_list())


@extend_schema(
    tags=["history"], description="Stage transitions across every registration, newest first."
)
class TransitionList(generics.ListAPIView):
    serializer_class = s.TransitionSerializer
    filter_backends = [FilterBackend]
    filterset_class = TransitionFilterSet

    def get_queryset(self):
        return access.readable_versions(self.request.user, selectors.transition_list())


# Promotion requests -------------------------------------------------------------------
REQUEST_ID = OpenApiParameter("request_id", OpenApiTypes.INT, OpenApiParameter.PATH)


@extend_schema(
    tags=["requests"],
    parameters=[
        OpenApiParameter(
            "state",
            OpenApiTypes.STR,
            enum=PromotionRequest.State.values,
            description="Only requests in this state.",
        ),
        OpenApiParameter("registry", OpenApiTypes.STR, description="Only this registry."),
    ],
    description="Requests to move versions into Production, newest first (of the models you "
    "may read).",
)
class PromotionRequestList(generics.ListAPIView):
    serializer_class = s.PromotionRequestSerializer

    def get_queryset(self):
        params = self.request.query_params
        return selectors.promotion_request_list(
            user=self.request.user,
            state=params.get("state") or None,
            registry=params.get("registry") or None,
        )


@extend_schema(tags=["requests"], parameters=[REQUEST_ID], responses=s.PromotionRequestSerializer)
class PromotionRequestDetail(APIView):
    def get(self, request, request_id):
        found = selectors.promotion_request_get(request_id=_row_id(request_id), user=request.user)
        return Response(s.PromotionRequestSerializer(found).data)


class _Decision(APIView):
    input_class = s.DecisionInput

    def post(self, request, request_id):
        data = _input(request, self.input_class)
        found = selectors.promotion_request_get(request_id=_row_id(request_id), user=request.user)
        decided = self.decide(request=found, comment=data["comment"], user=request.user)
        return Response(s.PromotionRequestSerializer(decided).data)


@extend_schema(
    tags=["requests"],
    parameters=[REQUEST_ID],
    request=s.DecisionInput,
    responses=s.PromotionRequestSerializer,
    description="Approve: the version moves now (archiving others if the request asked), in "
    "one transaction with the request. Needs the approver role; never your own request.",
)
class PromotionRequestApprove(_Decision):
    decide = staticmethod(services.promotion_request_approve)


@extend_schema(
    tags=["requests"],
    parameters=[REQUEST_ID],
    request=s.RejectInput,
    responses=s.PromotionRequestSerializer,
    description="Reject with a comment. Needs the approver role.",
)
class PromotionRequestReject(_Decision):
    input_class = s.RejectInput
    decide = staticmethod(services.promotion_request_reject)


@extend_schema(
    tags=["requests"],
    parameters=[REQUEST_ID],
    request=s.DecisionInput,
    responses=s.PromotionRequestSerializer,
    description="Withdraw a pending request: its requester or an approver.",
)
class PromotionRequestCancel(_Decision):
    decide = staticmethod(services.promotion_request_cancel)


# The trash ----------------------------------------------------------------------------
KIND = OpenApiParameter(
    "kind", OpenApiTypes.STR, OpenApiParameter.PATH, enum=list(selectors.TRASH_KINDS)
)
ITEM_ID = OpenApiParameter("item_id", OpenApiTypes.INT, OpenApiParameter.PATH)


@extend_schema(
    tags=["trash"],
    description="Deleted models and versions, most recently deleted first, each with when it "
    "expires. A model lists the versions that come back with it; a version of a trashed model "
    "is restored with it.",
    parameters=[
        OpenApiParameter("registry", OpenApiTypes.STR, description="Only this registry."),
        OpenApiParameter("kind", OpenApiTypes.STR, enum=list(selectors.TRASH_KINDS)),
    ],
)
class TrashList(generics.ListAPIView):
    serializer_class = s.TrashItemSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema needs no rows
            return ModelRegistration.objects.none()
        params = self.request.query_params
        registry = params.get("registry")
        kind = params.get("kind") or None
        if kind is not None and kind not in selectors.TRASH_KINDS:
            raise serializers.ValidationError(
                {"kind": [f"Use one of: {', '.join(selectors.TRASH_KINDS)}."]}
            )
        return selectors.trash_list(
            registry=selectors.registry_get(registry) if registry else None,
            kind=kind,
            user=self.request.user,
        )


def _trash_item(kind: str, item_id: str, user):
    row_id = _row_id(item_id)
    if row_id is None:
        raise NotFound(f"No {kind} {item_id} in the trash.")
    return selectors.trash_item(kind=kind, item_id=row_id, user=user)


@extend_schema(tags=["trash"], parameters=[KIND, ITEM_ID])
class TrashRestore(APIView):
    @extend_schema(
        request=None,
        responses=s.TrashRestoredSerializer,
        description="Restore a model (with its versions, aliases and history) or one version "
        "(under its own number, in its stage). 409 when a new model took the name.",
    )
    def post(self, request, kind, item_id):
        item = _trash_item(kind, item_id, request.user)
        if kind == "version":
            restored = services.version_restore(version=item, user=request.user)
            body = {"registry": restored.registration.registry.name, "version": restored.version}
            body["name"] = restored.registration.name
        else:
            restored = services.registration_restore(registration=item, user=request.user)
            body = {"registry": restored.registry.name, "name": restored.name, "version": None}
        return Response({"kind": kind, "id": restored.pk, "restored": True, **body})


@extend_schema(tags=["trash"], parameters=[KIND, ITEM_ID])
class TrashPurge(APIView):
    @extend_schema(
        request=s.TrashPurgeInput,
        responses={204: None},
        description="Delete a trashed model or version for good, in the backend too. "
        "Needs confirm: true.",
    )
    def post(self, request, kind, item_id):
        item = _trash_item(kind, item_id, request.user)
        _input(request, s.TrashPurgeInput)
        if kind == "version":
            services.version_purge(version=item, user=request.user)
        else:
            services.registration_purge(registration=item, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# Audit log ----------------------------------------------------------------------------
@extend_schema(
    tags=["audit"],
    description="Every change made through the product, newest first (read-only: the log "
    "is append-only). Needs the `view_auditevent` permission.",
)
class AuditList(generics.ListAPIView):
    serializer_class = s.AuditEventSerializer
    filter_backends = [FilterBackend]
    filterset_class = AuditFilterSet

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return AuditEvent.objects.none()
        return selectors.audit_list(user=self.request.user)


# Tokens -------------------------------------------------------------------------------
@extend_schema(tags=["tokens"])
class TokenList(generics.ListAPIView):
    serializer_class = s.TokenSerializer

    def get_queryset(self):
        return selectors.token_list(user=self.request.user)

    @extend_schema(request=s.TokenInput, responses={201: s.NewTokenSerializer})
    def post(self, request):
        data = _input(request, s.TokenInput)
        token, secret = services.token_create(
            owner=request.user, name=data["name"], user=request.user
        )
        body = {**s.TokenSerializer(token).data, "token": secret}
        # The secret must not be kept by any cache between here and the caller.
        return Response(body, status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"})


@extend_schema(
    tags=["tokens"],
    parameters=[OpenApiParameter("token_id", OpenApiTypes.INT, OpenApiParameter.PATH)],
    responses={204: None},
)
class TokenDetail(APIView):
    def delete(self, request, token_id):
        token = selectors.token_get(user=request.user, token_id=_row_id(token_id))
        services.token_revoke(token=token, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(
    tags=["tokens"],
    responses=inline_serializer(
        "Me",
        {
            "username": serializers.CharField(),
            "permissions": serializers.ListField(child=serializers.CharField()),
        },
    ),
)
class Me(APIView):
    def get(self, request):
        return Response(
            {
                "username": request.user.get_username(),
                "permissions": sorted(request.user.get_all_permissions()),
            }
        )


# Webhooks -------------------------------------------------------------------------------
WEBHOOK_ID = OpenApiParameter("webhook_id", OpenApiTypes.INT, OpenApiParameter.PATH)


def _webhook(request, webhook_id: str):
    return selectors.webhook_get(user=request.user, webhook_id=_row_id(webhook_id))


@extend_schema(tags=["webhooks"])
class WebhookList(generics.ListAPIView):
    """Webhooks you manage: global ones (administrators) and those of models you own."""

    serializer_class = s.WebhookSerializer

    def get_queryset(self):
        return selectors.webhook_list(user=self.request.user)

    @extend_schema(request=s.WebhookInput, responses={201: s.NewWebhookSerializer})
    def post(self, request):
        data = _input(request, s.WebhookInput)
        registration = None
        if data["model"] is not None:
            registration = selectors.registration_get(registry=data["registry"], name=data["model"])
        webhook, secret = services.webhook_create(
            url=data["url"],
            events=data["events"],
            name=data["name"],
            registration=registration,
            user=request.user,
        )
        fresh = selectors.webhook_list(user=None).get(pk=webhook.pk)
        body = {**s.WebhookSerializer(fresh).data, "secret": secret}
        return Response(body, status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"})


@extend_schema(tags=["webhooks"], parameters=[WEBHOOK_ID])
class WebhookDetail(APIView):
    @extend_schema(responses=s.WebhookSerializer)
    def get(self, request, webhook_id):
        return Response(s.WebhookSerializer(_webhook(request, webhook_id)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, webhook_id):
        services.webhook_delete(webhook=_webhook(request, webhook_id), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["webhooks"], parameters=[WEBHOOK_ID])
class WebhookDeliveryList(generics.ListAPIView):
    """The webhook's delivery log, newest first."""

    serializer_class = s.WebhookDeliverySerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return WebhookDelivery.objects.none()
        return selectors.webhook_deliveries(
            webhook=_webhook(self.request, self.kwargs["webhook_id"])
        )


@extend_schema(
    tags=["webhooks"],
    parameters=[WEBHOOK_ID],
    request=None,
    responses={202: s.WebhookDeliverySerializer},
)
class WebhookTest(APIView):
    """Send a `test` event to this webhook (queued; see its deliveries for the outcome)."""

    def post(self, request, webhook_id):
        delivery = services.webhook_test(webhook=_webhook(request, webhook_id), user=request.user)
        return Response(s.WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
