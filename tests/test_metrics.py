"""Metric rules: which direction is better (matched on whole name parts), best value, chart."""

import pytest
from django.urls import reverse

from models_app.metrics import best_value, chart, lower_is_better, name_parts


@pytest.mark.parametrize(
    "metric",
    ["loss", "val_loss", "valLoss", "test/rmse", "error-rate", "WER", "p95.latency", "logloss"],
)
def test_it_reads_lower_is_better_from_a_name_part(metric):
    assert lower_is_better(metric)


@pytest.mark.parametrize(
    "metric",
    ["answer_accuracy", "answerAccuracy", "power", "flossy", "accuracy", "map_50", "terror_x"],
)
def test_it_does_not_match_inside_a_word(metric):
    # `answer_accuracy` contains "wer", `flossy` "loss", `terror_x` "error": none is a part.
    assert not lower_is_better(metric)


def test_name_parts_split_at_separators_and_case_changes():
    assert name_parts("val_Loss/top5Accuracy") == ["val", "loss", "top5", "accuracy"]


def test_it_reads_a_long_name_in_linear_time():
    # A name made to backtrack a careless pattern; the parts split stays linear.
    assert not lower_is_better("a_" * 50_000 + "!")


def test_the_best_value_follows_the_direction():
    assert best_value("answer_accuracy", [0.8, 0.9, None]) == 0.9
    assert best_value("val_loss", [0.3, 0.2]) == 0.2
    assert best_value("accuracy", [0.9, 0.9]) is None
    assert best_value("accuracy", [0.9, None]) is None


def test_the_chart_lays_points_out_left_to_right_and_low_values_down():
    rows = [(1, "None", {"auc": 0.5}), (2, "Staging", {"auc": 0.9}), (3, "None", {"f1": 1.0})]
    drawn = chart(rows, "auc")
    assert drawn["metric_names"] == ["auc", "f1"]
    first, second = drawn["points"]
    assert (first["version"], second["version"]) == (1, 2)
    assert first["x"] < second["x"] and first["y"] > second["y"]
    assert drawn["path"] == f"M{first['x']},{first['y']} L{second['x']},{second['y']}"
    assert drawn["lower_is_better"] is False
    assert chart(rows, "nope")["metric"] == "auc"
    assert chart([], None)["points"] == []


def test_the_compare_page_marks_the_higher_answer_accuracy_best(
    client, django_user_model, make_version
):
    make_version("qa", metrics={"answer_accuracy": 0.7})
    make_version("qa", metrics={"answer_accuracy": 0.9})
    client.force_login(django_user_model.objects.create_superuser("root", password="pw-123456789"))
    body = client.get(
        reverse("compare", args=["default", "qa"]), {"v": ["1", "2"]}
    ).content.decode()
    best = body.index('class="num best')
    assert "0.9" in body[best : best + 80]
    assert "0.7" not in body[best : best + 80]
