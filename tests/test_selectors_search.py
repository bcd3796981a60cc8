"""Searches by filter clauses: the query side of the MLflow-compatible API's search."""

import pytest
from django.core.exceptions import ValidationError

from models_app import selectors, services


def clause(kind, key, comparator, value):
    return {"type": kind, "key": key, "comparator": comparator, "value": value}


@pytest.fixture
def three(registry):
    for name, tags in [("Churn", {"team": "a"}), ("churn-v2", {"team": "b"}), ("fraud", {})]:
        services.registration_create(registry=registry, name=name, tags=tags, user=None)
    return registry


def names(three, *clauses):
    found = selectors.filter_by_clauses(
        selectors.registration_search(registry=three), clauses, fields={"name": "name"}
    )
    return sorted(found.values_list("name", flat=True))


def test_like_is_case_sensitive_and_ilike_is_not(three):
    assert names(three, clause("attribute", "name", "LIKE", "churn%")) == ["churn-v2"]
    assert names(three, clause("attribute", "name", "ILIKE", "churn%")) == ["Churn", "churn-v2"]
    assert names(three, clause("attribute", "name", "LIKE", "_hurn")) == ["Churn"]


def test_in_and_not_in(three):
    assert names(three, clause("attribute", "name", "IN", ["fraud", "x"])) == ["fraud"]
    assert names(three, clause("attribute", "name", "NOT IN", ["fraud"])) == ["Churn", "churn-v2"]


def test_a_tag_clause_matches_only_rows_with_the_tag(three):
    assert names(three, clause("tag", "team", "=", "a")) == ["Churn"]
    assert names(three, clause("tag", "team", "!=", "a")) == ["churn-v2"]
    assert names(three, clause("tag", "team", "LIKE", "%")) == ["Churn", "churn-v2"]


def test_an_unsupported_comparator_is_invalid_input(three):
    with pytest.raises(ValidationError, match="Comparator > is not supported for tags"):
        names(three, clause("tag", "team", ">", "a"))


def test_latest_per_stage_gives_the_highest_version_in_each_stage(make_version, registry):
    first, second, third = (make_version("m") for _ in range(3))
    services.version_transition_stage(version=first, stage="Production", user=None)
    registration = first.registration
    rows = selectors.version_latest_per_stage(
        registrations=[registration],
        stages=["Production", "None"],
        fields=["registration_id", "version"],
    )
    assert [row["version"] for row in rows] == [1, 3]
    assert selectors.alias_names_by_version([third.pk]) == {}
