"""The stage ledger (which version held a stage or an alias at a moment) and rollback.

Every history row gets an explicit time: `Clock.step(when)` stamps the rows written since the
previous step, so the scenarios read like a calendar and never sleep."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from models_app import selectors, services
from models_app.exceptions import Conflict, GateFailed
from models_app.models import (
    ModelAlias,
    ModelRegistration,
    ModelVersion,
    StageTransition,
    TransitionCause,
)
from models_app.validation import clean_instant

P, S, A, N = "Production", "Staging", "Archived", "None"


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in November 2026 (the 3rd is a Tuesday)."""
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


class Clock:
    """Stamps the rows each step wrote with the step's time."""

    def __init__(self):
        self.seen = {model: self._top(model) for model in self.MODELS}

    MODELS = (ModelRegistration, ModelVersion, ModelAlias, StageTransition)

    @staticmethod
    def _rows(model):
        return getattr(model, "all_objects", model.objects)  # trashed rows too

    def _top(self, model) -> int:
        return self._rows(model).order_by("-pk").values_list("pk", flat=True).first() or 0

    def step(self, when: datetime) -> None:
        for model, seen in self.seen.items():
            self._rows(model).filter(pk__gt=seen).update(created_at=when)
            self.seen[model] = self._top(model)


@pytest.fixture
def clock(db):
    return Clock()


def ask(name="churn", at=None, **kwargs):
    registration = selectors.registration_get(registry=None, name=name)
    return selectors.ledger_at(registration=registration, at=at, **kwargs)


def move(name, number, stage, archive=False, user=None):
    registration = selectors.registration_get(registry=None, name=name)
    version = selectors.version_get(registration=registration, version=number)
    services.version_transition_stage(
        version=version, stage=stage, archive_existing=archive, user=user
    )


@pytest.fixture
def story(clock, make_version):
    """churn, through November 2026 (UTC):
    2nd 09:00 v1 registered; 2nd 10:00 v1 -> Staging; 3rd 10:00 v1 -> Production;
    4th 09:00 v2 registered; 4th 12:00 v2 -> Production, archiving v1; 4th 13:00 @champion -> v2;
    5th 09:00 v3 registered; 6th 09:00 v3 -> Production (no archiving: v2 and v3 both live);
    6th 10:00 @champion moves to v3; 7th 09:00 v3 deleted (from Production, with its alias);
    8th 09:00 @canary set on v2; 8th 10:00 @canary deleted."""
    make_version()
    clock.step(utc(2, 9))
    move("churn", 1, S)
    clock.step(utc(2, 10))
    move("churn", 1, P)
    clock.step(utc(3, 10))
    make_version()
    clock.step(utc(4, 9))
    move("churn", 2, P, archive=True)
    clock.step(utc(4, 12))
    v2 = selectors.version_get(registration=ask_registration(), version=2)
    services.alias_set(version=v2, alias="champion", user=None)
    clock.step(utc(4, 13))
    make_version()
    clock.step(utc(5, 9))
    move("churn", 3, P)
    clock.step(utc(6, 9))
    v3 = selectors.version_get(registration=ask_registration(), version=3)
    services.alias_set(version=v3, alias="champion", user=None)
    clock.step(utc(6, 10))
    services.version_delete(version=v3, user=None)
    clock.step(utc(7, 9))
    services.alias_set(version=v2, alias="canary", user=None)
    clock.step(utc(8, 9))
    services.alias_delete(registration=ask_registration(), alias="canary", user=None)
    clock.step(utc(8, 10))


def ask_registration(name="churn"):
    return selectors.registration_get(registry=None, name=name)


@pytest.mark.parametrize(
    ("at", "version", "versions"),
    [
        (utc(1, 12), None, []),  # before the model existed
        (utc(2, 9, 30), None, []),  # registered, not yet live
        (utc(3, 9, 59), None, []),
        (utc(3, 10), 1, [1]),  # the moment of promotion counts
        (utc(3, 12), 1, [1]),  # last Tuesday at noon
        (utc(4, 11, 59), 1, [1]),
        (utc(4, 12), 2, [2]),  # archive_existing: v1 left as v2 arrived
        (utc(6, 9), 3, [2, 3]),  # two live versions: the highest answers, both listed
        (utc(7, 8, 59), 3, [2, 3]),
        (utc(7, 9), 2, [2]),  # v3 deleted from Production
        (utc(30, 0), 2, [2]),
    ],
)
def test_it_answers_which_version_was_in_production(story, at, version, versions):
    answer = ask(at=at)
    assert (answer.stage, answer.version, answer.versions) == (P, version, versions)


def test_it_says_since_when_and_by_which_entry(story):
    answer = ask(at=utc(3, 12))
    assert answer.since == utc(3, 10)
    assert (answer.transition.from_stage, answer.transition.to_stage) == (S, P)
    assert answer.transition.cause == TransitionCause.DIRECT
    assert answer.exists is True
    deleted = ask(at=utc(6, 12))
    assert (deleted.version, deleted.exists, deleted.since) == (3, False, utc(6, 9))


@pytest.mark.parametrize(
    ("stage", "at", "versions"),
    [
        (S, utc(2, 10), [1]),
        (S, utc(3, 10), []),
        (A, utc(4, 12), [1]),  # archived by the promotion of v2
        (N, utc(2, 9), [1]),  # registered: in None since its creation
        (N, utc(3, 12), []),  # v1 live, v2 not yet registered (nor v3, deleted since)
        (N, utc(5, 9), [3]),
        (N, utc(6, 9), []),
        (N, utc(1, 0), []),
    ],
)
def test_it_answers_for_any_stage(story, stage, at, versions):
    assert ask(at=at, stage=stage).versions == versions


@pytest.mark.parametrize(
    ("alias", "at", "version"),
    [
        ("champion", utc(4, 12, 59), None),
        ("champion", utc(4, 13), 2),
        ("champion", utc(6, 9, 59), 2),
        ("champion", utc(6, 10), 3),  # moved
        ("champion", utc(7, 9), None),  # its version was deleted, and the alias with it
        ("canary", utc(8, 9, 30), 2),
        ("canary", utc(8, 10), None),  # deleted
        ("never", utc(8, 10), None),
    ],
)
def test_it_answers_which_version_held_an_alias(story, alias, at, version):
    answer = ask(at=at, alias=alias)
    assert (answer.alias, answer.version) == (alias, version)
    assert answer.versions == ([version] if version else [])


def test_time_zone_offsets_name_the_same_moment(story):
    # 12:30 in Berlin on the 4th is 11:30 UTC: v1 still live; 13:30 there is 12:30 UTC: v2.
    assert ask(at=clean_instant("2026-11-04T12:30:00+01:00")).version == 1
    assert ask(at=clean_instant("2026-11-04T13:30:00+01:00")).version == 2
    assert ask(at=clean_instant("2026-11-04T07:30:00-04:30")).version == 2
    assert ask(at=clean_instant("2026-11-04T11:59:59Z")).version == 1


def test_a_time_without_offset_is_read_in_the_server_time_zone(story, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    assert clean_instant("2026-11-04T12:30") == utc(4, 11, 30)
    assert ask(at=clean_instant("2026-11-04T12:30")).version == 1
    settings.TIME_ZONE = "UTC"
    assert ask(at=clean_instant("2026-11-04T12:30")).version == 2
    assert clean_instant("2026-11-04") == utc(4, 0)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "yesterday",
        "2026-13-01",
        "2026-11-04T25:00",
        "2026-11-04T12:00+24:00",
        "9" * 41,
        "0001-01-01T00:00+05:00",
        "2026-11-04T12:00\x00",
    ],
)
def test_a_bad_time_is_refused_in_one_message(text):
    with pytest.raises(ValidationError) as refused:
        clean_instant(text)
    assert list(refused.value.message_dict) == ["at"]


def test_the_ledger_takes_a_constant_number_of_queries(story, django_assert_max_num_queries):
    registration = ask_registration()
    with django_assert_max_num_queries(4):
        selectors.ledger_at(registration=registration, at=utc(3, 12))
    with django_assert_max_num_queries(4):
        selectors.ledger_at(registration=registration, at=utc(6, 12), alias="champion")


def test_a_version_imported_straight_into_production_is_live_from_its_creation(clock, registry):
    """Bulk imports write no history for initial stages; the version's stage and creation
    time stand in, and a later deletion still leaves the earlier answer right."""
    services.registrations_bulk_create(
        registry=registry,
        registrations=[
            {
                "name": "imported",
                "versions": [
                    {"model_source_uri": "s3://b/1", "stage": P},
                    {"model_source_uri": "s3://b/2", "stage": S},
                ],
                "aliases": {"champion": 1},
            }
        ],
        user=None,
    )
    clock.step(utc(2, 9))
    assert ask("imported", at=utc(1, 9)).version is None
    answer = ask("imported", at=utc(2, 12))
    assert (answer.version, answer.since, answer.transition) == (1, utc(2, 9), None)
    assert ask("imported", at=utc(2, 12), alias="champion").version == 1
    move("imported", 2, P, archive=True)
    clock.step(utc(3, 9))
    assert ask("imported", at=utc(2, 12)).version == 1  # from v1's first entry's from_stage
    assert ask("imported", at=utc(3, 9)).version == 2
    services.version_delete(
        version=selectors.version_get(registration=ask_registration("imported"), version=1),
        user=None,
    )
    clock.step(utc(4, 9))
    assert ask("imported", at=utc(2, 12)).version == 1  # a deleted version's past stays
    assert ask("imported", at=utc(2, 12), stage=A).versions == []
    assert ask("imported", at=utc(3, 12), stage=A).versions == [1]
    assert ask("imported", at=utc(4, 12), stage=A).versions == []


# Rollback --------------------------------------------------------------------------------
def stages(name="churn") -> dict[int, str]:
    return dict(ask_registration(name).versions.values_list("version", "stage"))


@pytest.fixture
def live(clock, make_version):
    """v1 live, then v2 promoted over it (v1 archived), v3 in Staging."""
    for _ in range(3):
        make_version()
    move("churn", 1, P)
    clock.step(utc(2, 9))
    move("churn", 2, P, archive=True)
    clock.step(utc(3, 9))
    move("churn", 3, S)
    clock.step(utc(3, 10))


def test_rollback_restores_the_previous_production_version(live, reviewer):
    restored = services.registration_rollback(
        registration=ask_registration(), user=reviewer, comment="v2 doubles latency"
    )
    assert restored.version == 1
    assert stages() == {1: P, 2: A, 3: S}
    entries = list(StageTransition.objects.filter(cause=TransitionCause.ROLLBACK).order_by("id"))
    assert [(e.version_number, e.from_stage, e.to_stage) for e in entries] == [(1, A, P), (2, P, A)]
    assert all(e.actor_name == "bob" for e in entries)
    assert entries[0].comment == "Rolled back from version 2. v2 doubles latency"
    assert entries[1].comment == "Rolled back: version 1 returns to Production. v2 doubles latency"
    assert (
        selectors.ledger_at(
            registration=ask_registration(), at=entries[-1].created_at
        ).transition.cause
        == TransitionCause.ROLLBACK
    )


def test_a_second_rollback_undoes_the_first(live):
    services.registration_rollback(registration=ask_registration(), user=None)
    services.registration_rollback(registration=ask_registration(), user=None)
    assert stages() == {1: A, 2: P, 3: S}


def test_rollback_archives_every_version_in_production(live, clock):
    move("churn", 3, P)  # v2 and v3 both live; v3 entered last
    clock.step(utc(4, 9))
    plan = selectors.rollback_plan(registration=ask_registration())
    assert (plan.current.version, plan.production, plan.previous.version) == (3, [2, 3], 1)
    services.registration_rollback(registration=ask_registration(), user=None)
    assert stages() == {1: P, 2: A, 3: A}


def test_rollback_goes_to_the_version_that_last_left_production(live, clock):
    move("churn", 2, A)  # nothing live for a while
    clock.step(utc(4, 9))
    move("churn", 3, P)
    clock.step(utc(5, 9))
    services.registration_rollback(registration=ask_registration(), user=None)
    assert stages() == {1: A, 2: P, 3: A}


def test_rollback_refuses_when_nothing_is_in_production(make_version):
    make_version()
    with pytest.raises(Conflict, match="No version of 'churn' is in Production"):
        services.registration_rollback(registration=ask_registration(), user=None)


def test_rollback_refuses_when_there_was_no_earlier_production_version(make_version):
    make_version()
    move("churn", 1, P)
    with pytest.raises(Conflict, match="No other version of 'churn' was in Production"):
        services.registration_rollback(registration=ask_registration(), user=None)
    assert stages() == {1: P}


def test_rollback_refuses_when_the_previous_version_was_deleted(live):
    v1 = selectors.version_get(registration=ask_registration(), version=1)
    services.version_delete(version=v1, user=None)
    with pytest.raises(Conflict, match="Version 1, the previous Production version .* deleted"):
        services.registration_rollback(registration=ask_registration(), user=None)
    assert stages() == {2: P, 3: S}


def test_rollback_needs_the_promote_permission(live, engineer):
    with pytest.raises(PermissionDenied):
        services.registration_rollback(registration=ask_registration(), user=engineer)
    assert stages() == {1: A, 2: P, 3: S}
    assert not StageTransition.objects.filter(cause=TransitionCause.ROLLBACK).exists()


def test_rollback_comment_is_checked(live):
    with pytest.raises(ValidationError):
        services.registration_rollback(
            registration=ask_registration(), user=None, comment="x" * 5001
        )
    assert stages() == {1: A, 2: P, 3: S}


def test_the_rollback_cause_is_a_choice():
    assert TransitionCause("rollback") == TransitionCause.ROLLBACK


def test_a_clock_step_is_explicit(clock, make_version):
    """The helper itself: rows written before a step get its time, later ones do not."""
    make_version()
    clock.step(utc(2, 9))
    make_version()
    clock.step(utc(2, 9) + timedelta(hours=1))
    assert list(ModelVersion.objects.order_by("version").values_list("created_at", flat=True)) == [
        utc(2, 9),
        utc(2, 10),
    ]


# REST API --------------------------------------------------------------------------------
HISTORY = "/api/v1/models/default/churn/history/"
ROLLBACK = "/api/v1/models/default/churn/rollback/"


def test_api_answers_what_was_in_production_last_tuesday_at_noon(story, api):
    body = api.get(HISTORY, {"at": "2026-11-03T12:00:00Z"}).json()
    assert body["version"] == 1
    assert body["versions"] == [1]
    assert body["stage"] == P and body["alias"] is None
    assert body["since"] == "2026-11-03T10:00:00Z"
    assert body["transition"]["to_stage"] == P and body["transition"]["actor"] == "system"
    assert body["exists"] is True


def test_api_answers_for_a_stage_an_alias_and_an_offset(story, api):
    assert api.get(HISTORY, {"at": "2026-11-06T12:00:00+01:00"}).json()["versions"] == [2, 3]
    archived = api.get(HISTORY, {"at": "2026-11-04T12:00:00Z", "stage": "archived"}).json()
    assert (archived["stage"], archived["version"]) == (A, 1)
    champion = api.get(HISTORY, {"at": "2026-11-06T10:00:00Z", "alias": "champion"}).json()
    assert (champion["alias"], champion["version"], champion["exists"]) == ("champion", 3, False)
    before = api.get(HISTORY, {"at": "2026-11-01T00:00:00Z"}).json()
    assert (before["version"], before["versions"], before["since"]) == (None, [], None)


def test_api_history_without_at_still_lists_entries(story, api):
    body = api.get(HISTORY).json()
    assert body["count"] == StageTransition.objects.count()
    assert body["results"][0]["cause"] == TransitionCause.ALIAS_DELETED


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"at": "last tuesday"}, "at"),
        ({"at": "2026-11-03T12:00:00+99:00"}, "at"),
        ({"at": ""}, "at"),
        ({"at": "2" * 100}, "at"),
        ({"at": "2026-11-03", "stage": "Live"}, "stage"),
        ({"at": "2026-11-03", "stage": "Staging", "alias": "champion"}, "alias"),
        ({"stage": "Staging"}, "at"),
    ],
)
def test_api_refuses_a_bad_question_with_400(story, api, query, field):
    response = api.get(HISTORY, query)
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]


def test_api_rollback_end_to_end(live, api):
    response = api.post(ROLLBACK, {"comment": "bad canary"}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["version"], response.json()["stage"]) == (1, P)
    assert stages() == {1: P, 2: A, 3: S}
    history = api.get(HISTORY).json()["results"]
    assert [(e["version"], e["cause"]) for e in history[:2]] == [(2, "rollback"), (1, "rollback")]
    assert history[0]["comment"].endswith("bad canary")


def test_api_rollback_refusals(live, make_version, client, engineer, reviewer):
    from rest_framework.test import APIClient

    as_engineer = APIClient()
    as_engineer.force_authenticate(engineer)
    assert as_engineer.post(ROLLBACK, {}, format="json").status_code == 403
    assert stages() == {1: A, 2: P, 3: S}
    as_reviewer = APIClient()
    as_reviewer.force_authenticate(reviewer)
    make_version("fresh")
    refused = as_reviewer.post("/api/v1/models/default/fresh/rollback/", {}, format="json")
    assert refused.status_code == 409
    assert "nothing to roll back" in refused.json()["detail"]
    assert as_reviewer.post(ROLLBACK, {"comment": "x" * 5001}, format="json").status_code == 400
    assert as_reviewer.post(ROLLBACK.replace("churn", "nope")).status_code == 404
    assert APIClient().post(ROLLBACK, {}, format="json").status_code in (401, 403)


def test_the_schema_documents_the_ledger_and_rollback(api):
    document = api.get("/api/schema/?format=json").json()
    history = document["paths"]["/api/v1/models/{registry}/{name}/history/"]["get"]
    assert {"at", "stage", "alias"} <= {p["name"] for p in history["parameters"]}
    rollback = document["paths"]["/api/v1/models/{registry}/{name}/rollback/"]["post"]
    assert {"200", "403", "409"} <= set(rollback["responses"])
    assert "LedgerAnswer" in document["components"]["schemas"]


# CLI -------------------------------------------------------------------------------------
def cli(*args: str) -> str:
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("model_registry", *args, stdout=out)
    return out.getvalue()


def test_cli_history_answers_in_json_and_text(story):
    import json

    body = json.loads(cli("models", "history", "churn", "--at", "2026-11-03T12:00Z", "--json"))
    assert (body["version"], body["versions"], body["stage"]) == (1, [1], P)
    assert body["since"] == "2026-11-03T10:00:00+00:00"
    alias = json.loads(
        cli("models", "history", "churn", "--at", "2026-11-04T14:00Z", "-a", "champion", "--json")
    )
    assert alias["version"] == 2
    assert "Version 3 (deleted since) of 'churn' held Production" in cli(
        "models", "history", "churn", "--at", "2026-11-06T12:00Z"
    )
    assert "No version of 'churn' held Staging" in cli(
        "models", "history", "churn", "--at", "2026-11-01", "--stage", "Staging"
    )


def test_cli_history_refuses_a_bad_time_in_one_line(story):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError) as refused:
        cli("models", "history", "churn", "--at", "noon")
    assert "\n" not in str(refused.value) and "at:" in str(refused.value)


def test_cli_rollback_end_to_end(live, reviewer):
    import json

    body = json.loads(
        cli("models", "rollback", "churn", "--comment", "bad", "--user", "bob", "--json")
    )
    assert (body["version"], body["stage"]) == (1, P)
    entry = StageTransition.objects.filter(cause=TransitionCause.ROLLBACK).first()
    assert entry.actor_name == "bob" and entry.comment.endswith("bad")


def test_cli_rollback_refusals(make_version, engineer):
    from django.core.management.base import CommandError

    make_version()
    move("churn", 1, P)
    with pytest.raises(CommandError, match="nothing to roll back to"):
        cli("models", "rollback", "churn")
    with pytest.raises(CommandError, match="permission"):
        cli("models", "rollback", "churn", "--user", "alice")


# Pages -----------------------------------------------------------------------------------
TIMELINE = "/models/default/churn/timeline/"
PAGE_ROLLBACK = "/models/default/churn/rollback/"


def test_the_timeline_lists_every_change_with_actor_cause_and_comment(
    story, client, admin_user, django_assert_max_num_queries
):
    client.force_login(admin_user)
    with django_assert_max_num_queries(15):
        page = client.get(TIMELINE).content.decode()
    assert page.count('id="entry-') == StageTransition.objects.count()
    assert "Archived because another version was promoted" in page
    assert "Archived because version 2 moved to Production." in page
    assert "alias <code>champion</code> moved from v2" in page
    assert "→ deleted" in page
    newest = page.index("alias <code>canary</code> deleted")
    assert newest < page.index("alias <code>champion</code> set")  # newest first by default
    oldest = client.get(TIMELINE, {"order": "oldest"}).content.decode()
    assert oldest.index("alias <code>champion</code> set") < oldest.index(
        "alias <code>canary</code> deleted"
    )


def test_the_timeline_pages_through_a_long_history(clock, make_version, client, admin_user):
    make_version()
    for index in range(30):
        move("churn", 1, S if index % 2 == 0 else N)
    client.force_login(admin_user)
    first = client.get(TIMELINE).content.decode()
    assert first.count('id="entry-') == 30
    make_version()
    for index in range(30):
        move("churn", 2, S if index % 2 == 0 else N)
    second = client.get(TIMELINE, {"page": 2, "partial": "entries"}, HTTP_HX_REQUEST="true")
    body = second.content.decode()
    assert "<html" not in body and body.count('id="entry-') == 10


def test_the_timeline_answers_what_was_live_last_tuesday_at_noon(story, client, admin_user):
    client.force_login(admin_user)
    page = client.get(TIMELINE, {"at": "2026-11-03T12:00:00Z", "stage": P}).content.decode()
    assert "At 2026-11-03 12:00:00 UTC," in page
    assert 'href="/models/default/churn/versions/1/">v1</a>' in page
    assert "by system (direct)" in page
    both = client.get(TIMELINE, {"at": "2026-11-06T13:00+01:00", "stage": P}).content.decode()
    assert "All versions in Production then: v2, v3" in both and "(deleted since)" in both
    alias = client.get(TIMELINE, {"at": "2026-11-04T14:00", "stage": P, "alias": "champion"})
    assert "alias <code>champion</code> pointed at" in alias.content.decode()
    before = client.get(TIMELINE, {"at": "2026-11-01", "stage": S}).content.decode()
    assert "no version was in Staging" in before


@pytest.mark.parametrize("at", ["noon", "2026-11-03T12:00+99:00", "", "1" * 200])
def test_the_timeline_form_says_what_is_wrong_with_a_time(story, client, admin_user, at):
    client.force_login(admin_user)
    response = client.get(TIMELINE, {"at": at, "stage": P})
    assert response.status_code == 200
    page = response.content.decode()
    assert 'class="field-error" id="at-error"' in page
    assert "ledger-answer" not in page


def test_the_rollback_button_is_for_approvers_only(live, client, reviewer, engineer):
    client.force_login(engineer)
    page = client.get(TIMELINE).content.decode()
    assert "Only approvers of this model can roll back" in page
    assert PAGE_ROLLBACK not in page
    client.force_login(reviewer)
    page = client.get(TIMELINE).content.decode()
    assert f'action="{PAGE_ROLLBACK}"' in page
    assert "Roll back to v1…" in page
    assert 'name="expected_version" value="1"' in page


def test_the_rollback_button_says_why_there_is_nothing_to_roll_back(make_version, client, reviewer):
    make_version()
    move("churn", 1, P)
    client.force_login(reviewer)
    page = client.get(TIMELINE).content.decode()
    assert "No other version of &#x27;churn&#x27; was in Production" in page
    assert PAGE_ROLLBACK not in page


def test_rolling_back_from_the_page(live, client, reviewer):
    client.force_login(reviewer)
    response = client.post(
        PAGE_ROLLBACK, {"comment": "latency", "expected_version": "1"}, follow=True
    )
    assert "Rolled back: version 1 is in Production again." in response.content.decode()
    assert response.redirect_chain[-1][0] == TIMELINE
    assert stages() == {1: P, 2: A, 3: S}
    page = response.content.decode()
    assert page.count("Rolled back to the previous Production version") == 2  # the cause
    assert "Rolled back from version 2. latency" in page


def test_a_rollback_confirmed_on_a_stale_page_is_refused(live, client, reviewer, clock):
    move("churn", 3, P, archive=True)  # someone promoted v3 after the page was shown
    clock.step(utc(4, 9))
    client.force_login(reviewer)
    response = client.post(PAGE_ROLLBACK, {"expected_version": "1"}, follow=True)
    assert "would now restore version 2, not 1" in response.content.decode()
    assert stages() == {1: A, 2: A, 3: P}


def test_rolling_back_from_the_page_needs_the_approver_role(live, client, engineer):
    client.force_login(engineer)
    response = client.post(PAGE_ROLLBACK, {"expected_version": "1"}, follow=True)
    assert "Not rolled back: You do not have permission" in response.content.decode()
    assert stages() == {1: A, 2: P, 3: S}


def test_the_model_page_links_to_its_timeline(story, client, admin_user):
    client.force_login(admin_user)
    assert f'href="{TIMELINE}"' in client.get("/models/default/churn/").content.decode()


def test_api_rollback_refuses_when_it_would_restore_another_version(live, api):
    refused = api.post(ROLLBACK, {"expected_version": 3}, format="json")
    assert refused.status_code == 409
    assert "would now restore version 1, not 3" in refused.json()["detail"]
    assert stages() == {1: A, 2: P, 3: S}
    assert api.post(ROLLBACK, {"expected_version": 1}, format="json").status_code == 200
    assert stages() == {1: P, 2: A, 3: S}


def test_rollback_is_direct_for_an_approver_when_approval_is_required(live, reviewer):
    ModelRegistration.objects.filter(name="churn").update(approval_required=True)
    services.registration_rollback(registration=ask_registration(), user=reviewer)
    assert stages() == {1: P, 2: A, 3: S}


def test_rollback_respects_the_promotion_gate(live):
    ModelRegistration.objects.filter(name="churn").update(promotion_gate="accuracy >= 0.9")
    with pytest.raises(GateFailed, match="fails the promotion gate"):
        services.registration_rollback(registration=ask_registration(), user=None)
    assert stages() == {1: A, 2: P, 3: S}


def test_the_ledger_follows_a_version_through_the_trash(clock, make_version):
    """Trashed: out of every stage and alias; restored: back in its stage, Production
    excepted, which comes back archived (not its alias);
    purged: gone for good. Each moment keeps its own answer."""
    make_version()
    clock.step(utc(2, 9))
    move("churn", 1, P)
    clock.step(utc(2, 10))
    v1 = selectors.version_get(registration=ask_registration(), version=1)
    services.alias_set(version=v1, alias="champion", user=None)
    clock.step(utc(2, 11))
    services.version_delete(version=v1, user=None)
    clock.step(utc(3, 9))
    trashed = ModelVersion.all_objects.get(registration__name="churn", version=1)
    services.version_restore(version=trashed, user=None)
    clock.step(utc(4, 9))
    assert ask(at=utc(2, 12)).version == 1
    assert ask(at=utc(3, 12)).version is None
    # Out of Production it comes back archived: promoting it again passes the gate again.
    assert ask(at=utc(4, 12)).version is None
    restored = ask(at=utc(4, 12), stage="Archived")
    assert (restored.version, restored.since, restored.exists) == (1, utc(4, 9), True)
    assert restored.transition.cause == TransitionCause.VERSION_RESTORED
    assert ask(at=utc(2, 12), alias="champion").version == 1
    assert ask(at=utc(4, 12), alias="champion").version is None
    v1 = selectors.version_get(registration=ask_registration(), version=1)
    services.alias_set(version=v1, alias="champion", user=None)  # set again after the restore
    clock.step(utc(5, 9))
    assert ask(at=utc(5, 12), alias="champion").version == 1
    services.version_delete(version=v1, user=None)
    clock.step(utc(6, 9))
    services.version_purge(
        version=ModelVersion.all_objects.get(registration__name="churn", version=1), user=None
    )
    clock.step(utc(7, 9))
    assert ask(at=utc(4, 12), stage="Archived").version == 1  # the past stays
    assert ask(at=utc(6, 12)).version is None
    assert ask(at=utc(7, 12)).version is None
    assert ask(at=utc(7, 12), stage=N).versions == []  # purged is not "in None"
    assert ask(at=utc(5, 12)).exists is False


def test_a_version_purged_after_the_moment_still_held_its_stage_then(clock, make_version):
    """v2 was in None on the 4th, though its whole history (trash, purge) came later and a
    newer version v3 was registered after the 4th: the answer still counts it."""
    make_version()
    clock.step(utc(2, 9))
    make_version()
    clock.step(utc(3, 9))
    make_version()
    clock.step(utc(5, 9))
    v2 = selectors.version_get(registration=ask_registration(), version=2)
    services.version_delete(version=v2, user=None)
    clock.step(utc(6, 9))
    services.version_purge(
        version=ModelVersion.all_objects.get(registration__name="churn", version=2), user=None
    )
    clock.step(utc(7, 9))
    held = ask(at=utc(4, 12), stage=N)
    assert (held.version, held.versions, held.exists) == (2, [1, 2], False)
    assert ask(at=utc(6, 12), stage=N).versions == [1, 3]
