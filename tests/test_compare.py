"""The compare page past MLflow's: add/remove versions, differences only per group, a metric
plot of the compared versions, how many metrics each leads, and stage changes from the page."""

import html
import re

import pytest
from django.urls import reverse

from models_app import services
from models_app.models import ModelVersion


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def four(make_version):
    rows = [(0.80, 0.5, "3"), (0.90, 0.3, "3"), (0.85, 0.2, "3"), (0.70, 0.6, "4")]
    for accuracy, loss, depth in rows:
        make_version(
            "m",
            metrics={"accuracy": accuracy, "loss": loss},
            parameters={"depth": depth, "seed": "1"},
        )
    services.version_transition_stage(
        version=ModelVersion.objects.get(version=1), stage="Production", user=None
    )


def compare(admin_client, *numbers, **extra):
    response = admin_client.get(
        reverse("compare", args=("default", "m")), {"v": [str(n) for n in numbers], **extra}
    )
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def test_versions_not_shown_can_be_added_and_shown_ones_removed(admin_client, four):
    page = compare(admin_client, 1, 2, 3)
    picker = re.search(r'<select id="compare-add" name="v">(.*?)</select>', page, re.S).group(1)
    assert re.findall(r'value="(\d+)"', picker) == ["4"]
    hidden = re.findall(r'<input type="hidden" name="v" value="(\d+)">', page)
    assert hidden[:3] == ["1", "2", "3"]  # the add form keeps the versions already shown
    removal = re.search(r'href="\?([^"]+)" aria-label="Remove v2 from', page).group(1)
    assert "v=1" in removal and "v=3" in removal and "v=2" not in removal
    # Two versions is the least a comparison has: nothing to remove then.
    assert "Remove v" not in compare(admin_client, 1, 2)


def test_differences_only_hides_equal_rows_in_that_group_alone(admin_client, four):
    page = compare(admin_client, 1, 2)
    assert 'id="group-parameters"' in page and "only-differs" not in page
    toggle = re.search(
        r'<a class="differs-toggle" href="\?([^"]+)"', page.split('id="group-parameters"')[1]
    ).group(1)
    assert "only=parameters" in toggle
    narrowed = compare(admin_client, 1, 2, only="parameters")
    group = narrowed.split('id="group-parameters"')[0].rsplit("<tbody", 1)[1]
    assert "only-differs" in group
    assert 'class="compare-group" id="group-metrics"' in narrowed  # other groups untouched
    assert "Show all rows" in narrowed.split('id="group-parameters"')[1].split("</tbody>")[0]


def test_the_page_plots_the_chosen_metric_of_the_compared_versions_only(admin_client, four):
    page = compare(admin_client, 2, 4, metric="loss")
    chart = page.split('id="compare-chart"')[1].split("</section>")[0]
    assert re.findall(r"<title>v(\d+) · ", chart) == ["2", "4"]
    assert "loss (lower is better)" in chart
    assert '<option value="loss" selected>' in chart


def test_each_version_says_how_many_metrics_it_leads(admin_client, four):
    page = compare(admin_client, 1, 2, 3)
    leads = dict(re.findall(r'data-version="(\d+)">.*?best in (\d) of 2', page, re.S))
    # accuracy: v2 best; loss: v3 best (lower is better).
    assert leads == {"1": "0", "2": "1", "3": "1"}


def test_a_version_is_promoted_from_the_compare_page_and_the_user_comes_back(admin_client, four):
    page = compare(admin_client, 1, 2)
    move = reverse("version_transition", args=("default", "m", 2))
    assert f'data-move="{move}"' in page
    dialog = page.split('<dialog id="move-dialog"')[1]
    here = re.search(r'name="next" value="([^"]+)"', dialog).group(1)
    assert here.startswith(reverse("compare", args=("default", "m"))) and "v=2" in here
    response = admin_client.post(
        move,
        {
            "stage": "Production",
            "archive_existing": "on",
            "confirm_production": "on",
            "comment": "leads on accuracy",
            "next": here,
        },
    )
    assert response.status_code == 302 and response["Location"] == here
    assert ModelVersion.objects.get(version=2).stage == "Production"
    assert ModelVersion.objects.get(version=1).stage == "Archived"


def test_the_compare_page_runs_a_constant_number_of_queries(
    admin_client, four, make_version, django_assert_max_num_queries
):
    with django_assert_max_num_queries(12):
        compare(admin_client, 1, 2, 3, 4)
    for _ in range(30):
        make_version("m", metrics={"accuracy": 0.5})
    with django_assert_max_num_queries(12):
        compare(admin_client, *range(1, 21))
