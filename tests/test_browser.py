"""The dashboard as a person uses it: Playwright driving Debian's Chromium against live_server."""

import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from models_app import services
from models_app.models import ModelVersion, Registry, StageTransition

pytestmark = pytest.mark.django_db(transaction=True)


REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) =>
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"}`));
"""


@pytest.fixture
def csp_violations(page):
    """Every Content-Security-Policy violation the browser reports on this test's pages."""
    found = []
    page.add_init_script(REPORT_CSP_VIOLATIONS)
    page.on(
        "console",
        lambda message: (
            found.append(message.text)
            if "Content Security Policy" in message.text or "CSP violation" in message.text
            else None
        ),
    )
    return found


@pytest.fixture(autouse=True)
def no_csp_violation(csp_violations):
    yield
    assert csp_violations == []


@pytest.fixture
def demo(live_server, django_user_model):
    call_command("seed_demo", stdout=open("/dev/null", "w"))
    django_user_model.objects.create_superuser("reviewer", password="reviewer-pass-123")
    return live_server.url


def sign_in(page, base):
    page.goto(f"{base}/")
    expect(page).to_have_url(re.compile(r"/login/"))
    page.fill("#id_username", "reviewer")
    page.fill("#id_password", "reviewer-pass-123")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Dashboard")


def test_find_compare_and_promote_a_model(page, demo, screenshot):
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, demo)
    screenshot(page, "01-dashboard")

    # Search: the table updates as you type, and the URL keeps the filter.
    page.click("text=Models")
    expect(page.locator("#registration-table")).to_contain_text("sentiment-bert")
    page.locator("form.filters input[type=search]").press_sequentially("fraud", delay=40)
    expect(page.locator("#registration-table")).not_to_contain_text("sentiment-bert")
    expect(page.locator("#registration-table")).to_contain_text("fraud-detector")
    expect(page).to_have_url(re.compile(r"q=fraud"))
    screenshot(page, "02-models-search")

    page.click("#registration-table >> text=fraud-detector")
    expect(page.locator("h1")).to_have_text("fraud-detector")
    screenshot(page, "03-registration")

    # Promote the Staging version (v8) over the Production one (v7), without a page reload.
    page.evaluate("window.__stillThisPage = true")
    native = []
    page.on("dialog", lambda dialog: (native.append(dialog.message), dialog.dismiss()))
    page.locator("#version-8").get_by_role("link", name="Move to…").click()
    dialog = page.locator("#move-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("radio", name="Production").check()
    expect(dialog.locator("input[name=archive_existing]")).to_be_checked()
    expect(dialog.locator("[data-move-warning]")).to_contain_text("archives v7")
    dialog.locator("textarea[name=comment]").fill("Better recall on the November data")
    dialog.get_by_label("Yes, change what is in Production").check()
    dialog.get_by_role("button", name="Move v8 to Production").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#version-8 .stage-cell")).to_have_text("Production")
    expect(page.locator("#version-7 .stage-cell")).to_have_text("Archived")
    expect(page.locator("#messages")).to_contain_text("Version 8 moved to Production")
    # Other panels refresh on the stageChanged event.
    expect(page.locator("#history")).to_contain_text("Better recall on the November data")
    expect(page.locator("#summary")).to_contain_text("v8")
    assert page.evaluate("window.__stillThisPage") is True
    assert native == []
    assert (
        ModelVersion.objects.get(registration__name="fraud-detector", version=7).stage == "Archived"
    )
    assert StageTransition.objects.filter(
        version_number=7,
        cause="archived_by_promotion",
        registration__name="fraud-detector",
        actor_name="reviewer",
    ).exists()
    screenshot(page, "04-registration-after-promotion")

    # Compare two versions.
    page.check("#version-8 input[name=v]")
    page.check("#version-5 input[name=v]")
    page.click("text=Compare selected")
    expect(page.locator("h1")).to_have_text("Compare fraud-detector")
    expect(page.locator("td.best").first).to_be_visible()
    screenshot(page, "05-compare")

    page.goto(f"{demo}/models/default/fraud-detector/versions/8/")
    expect(page.locator("#stage")).to_contain_text("Production")
    screenshot(page, "06-version")


def test_register_a_version_through_the_form(page, demo, screenshot):
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, demo)
    page.click("text=Register")
    page.fill("#id_name", "churn-classifier")
    page.fill("#id_model_source_uri", "")
    page.fill("#id_metrics", "accuracy=high")
    page.click("button:has-text('Register version')")
    expect(page.locator(".field-error").first).to_be_visible()
    screenshot(page, "07-register-errors")
    page.fill("#id_model_source_uri", "s3://ml-artifacts/churn-classifier/manual/model")
    page.fill("#id_metrics", "accuracy=0.95\nf1=0.91")
    page.fill("#id_parameters", "learning_rate=0.01")
    page.fill("#id_pipeline_name", "manual_training")
    page.click("button:has-text('Register version')")
    expect(page.locator("h1")).to_contain_text("churn-classifier v7")
    expect(page.locator("#messages")).to_contain_text("Registered version 7")
    screenshot(page, "08-registered-version")


def test_other_pages_and_a_phone(page, demo, screenshot):
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, demo)
    for path, name in [("/registries/", "09-registries"), ("/tokens/", "10-tokens")]:
        page.goto(demo + path)
        expect(page.locator("h1")).to_be_visible()
        screenshot(page, name)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{demo}/models/")
    expect(page.locator("#registration-table")).to_contain_text("churn-classifier")
    screenshot(page, "11-phone-models")
    page.goto(f"{demo}/models/default/churn-classifier/")
    screenshot(page, "12-phone-registration")


def test_api_docs_render_with_no_external_request(page, live_server, screenshot):
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Model registry API")
    expect(page.locator(".opblock-tag").first).to_be_visible()
    screenshot(page, "13-api-docs")
    assert requested and all(url.startswith((live_server.url, "data:")) for url in requested), [
        url for url in requested if not url.startswith(live_server.url)
    ]


def test_every_main_page_runs_under_the_csp(page, demo, csp_violations, screenshot):
    """The pages, htmx, the admin and Swagger UI work with no CSP violation reported."""
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, demo)
    paths = [
        "/",
        "/models/",
        "/models/?q=fraud&stage=Production",
        "/models/default/fraud-detector/",
        "/models/default/fraud-detector/versions/8/",
        "/models/default/fraud-detector/compare/?v=7&v=8",
        "/models/register/",
        "/search/?q=fraud",
        "/registries/",
        "/tokens/",
        "/admin/",
        "/admin/models_app/modelversion/",
        "/admin/models_app/apitoken/add/",
        "/api/docs/",
    ]
    for path in paths:
        response = page.goto(demo + path)
        assert response.status == 200, path
        assert "default-src 'self'" in response.headers["content-security-policy"], path
        page.wait_for_load_state("networkidle")
    expect(page.locator(".opblock-tag").first).to_be_visible()
    # htmx at work: a live search and a token made on its page.
    page.goto(f"{demo}/models/")
    page.locator("form.filters input[type=search]").press_sequentially("churn", delay=30)
    expect(page).to_have_url(re.compile(r"q=churn"))
    page.goto(f"{demo}/tokens/")
    page.fill("input[name=name]", "csp-check")
    page.click("button:has-text('Create token')")
    expect(page.locator("#new-token")).to_contain_text("mr_")
    screenshot(page, "14-tokens-created")
    assert csp_violations == []


def test_the_csp_check_sees_a_violation(page, live_server, csp_violations):
    page.goto(f"{live_server.url}/login/")
    page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = '1';"
        " document.head.appendChild(s); }"
    )
    page.wait_for_timeout(200)
    assert any("script-src" in text for text in csp_violations), csp_violations
    csp_violations.clear()


def test_the_registration_form_warns_about_a_lookalike_name_as_you_type(page, demo, screenshot):
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, demo)
    page.goto(f"{demo}/models/register/")
    warning = page.locator("#similar-names")
    page.locator("#id_name").press_sequentially("Fraud-Detector", delay=30)
    expect(warning).to_contain_text("fraud-detector")
    expect(warning).to_contain_text("lookalike")
    screenshot(page, "09-lookalike-name-warning")
    page.locator("#id_name").fill("")
    page.locator("#id_name").press_sequentially("brand-new-model", delay=30)
    expect(warning).to_have_text("")


def test_one_click_cannot_take_a_model_out_of_production(page, demo, screenshot):
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, demo)
    native = []
    page.on("dialog", lambda dialog: (native.append(dialog.message), dialog.dismiss()))
    page.goto(f"{demo}/models/default/fraud-detector/")
    live = page.locator("#version-7")
    expect(live.locator(".stage-cell")).to_have_text("Production")
    # One control per row; opening it changes nothing and picks no target.
    expect(live.locator(".actions a, .actions button, .actions summary")).to_have_count(1)
    live.get_by_role("link", name="Move to…").click()
    dialog = page.locator("#move-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("input[name=stage]:checked")).to_have_count(0)
    expect(dialog.get_by_role("radio", name="Production")).to_be_disabled()
    screenshot(page, "14-move-dialog")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    live.get_by_role("link", name="Move to…").click()
    page.mouse.click(8, 8)  # outside the dialog
    expect(dialog).to_be_hidden()

    # Leaving Production says so and needs the tick.
    live.get_by_role("link", name="Move to…").click()
    dialog.get_by_role("radio", name="Staging").check()
    expect(dialog.locator("[data-move-warning]")).to_contain_text("out of Production")
    screenshot(page, "15-move-dialog-leaving-production")
    dialog.get_by_role("button", name="Move v7 to Staging").click()
    expect(dialog).to_be_visible()
    assert ModelVersion.objects.get(registration__name="fraud-detector", version=7).stage == (
        "Production"
    )
    dialog.locator("textarea[name=comment]").fill("Rolling back: drift on EU traffic")
    dialog.get_by_label("Yes, change what is in Production").check()
    dialog.get_by_role("button", name="Move v7 to Staging").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#version-7 .stage-cell")).to_have_text("Staging")
    expect(page.locator("#history")).to_contain_text("Rolling back: drift on EU traffic")
    assert native == []

    # The version page uses the same control and dialog.
    page.goto(f"{demo}/models/default/fraud-detector/versions/7/")
    page.get_by_role("link", name="Move to…").click()
    expect(page.locator("#move-dialog input[name=stage]:checked")).to_have_count(0)
    expect(dialog.get_by_role("radio", name="Staging")).to_be_disabled()
    page.keyboard.press("Escape")
    expect(page.locator("#stage")).to_contain_text("Staging")


def test_reloading_after_creating_a_token_creates_nothing(page, demo, screenshot):
    from models_app.models import ApiToken

    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, demo)
    page.goto(f"{demo}/tokens/")
    name = page.get_by_label("Token name")
    placeholder = name.get_attribute("placeholder")
    # The name field is wide enough for its placeholder.
    assert name.evaluate("el => el.scrollWidth <= el.clientWidth + 1"), placeholder
    name.fill("nightly-training")
    page.get_by_role("button", name="Create token").click()
    expect(page.locator("#new-token")).to_contain_text("mr_")
    screenshot(page, "16-token-created")
    page.reload()
    expect(page.locator("h1")).to_have_text("API tokens")
    expect(page.locator("#new-token")).to_have_count(0)
    assert ApiToken.objects.filter(name="nightly-training").count() == 1

    # Revoke asks first.
    page.get_by_text("Revoke…").click()
    screenshot(page, "17-token-revoke-confirm")
    assert ApiToken.objects.get(name="nightly-training").revoked_at is None
    page.get_by_role("button", name="Revoke this token").click()
    expect(page.locator("table")).to_contain_text("revoked")
    assert ApiToken.objects.get(name="nightly-training").revoked_at is not None

    # So does "Revoke all": the first click only opens the question.
    page.get_by_label("Token name").fill("second")
    page.get_by_role("button", name="Create token").click()
    page.get_by_text("Revoke all 1 active token…").click()
    screenshot(page, "17b-token-revoke-all-confirm")
    assert ApiToken.objects.get(name="second").revoked_at is None
    page.get_by_role("button", name="Yes, revoke all 1").click()
    expect(page.locator(".alert-success")).to_contain_text("1 token revoked")
    assert ApiToken.objects.get(name="second").revoked_at is not None


def test_compare_names_a_missing_version(page, demo, screenshot):
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, demo)
    page.goto(f"{demo}/models/default/fraud-detector/compare/?v=5&v=99")
    expect(page.get_by_text("Version 99 does not exist.")).to_be_visible()
    page.goto(f"{demo}/models/default/fraud-detector/compare/?v=5&v=7&v=8")
    expect(page.locator("td.changed").first).to_be_visible()
    screenshot(page, "18-compare-three")


def test_compare_adds_removes_narrows_plots_and_promotes(page, demo, screenshot):
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, demo)
    page.goto(f"{demo}/models/default/fraud-detector/compare/?v=5&v=7")
    page.get_by_label("Add a version").select_option("8")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator("th.version-head")).to_have_count(3)
    page.get_by_label("Remove v5 from the comparison").click()
    expect(page.locator("th.version-head")).to_have_count(2)
    expect(page).not_to_have_url(re.compile(r"v=5"))
    # Differences only, in one group.
    group = page.locator("#group-parameters")
    group.get_by_role("link", name="Differences only").click()
    expect(page.locator("#group-parameters")).to_have_class(re.compile("only-differs"))
    expect(page.locator("#group-metrics")).not_to_have_class(re.compile("only-differs"))
    # The plot follows the picked metric without a Show click.
    chart = page.locator("#compare-chart")
    expect(chart.locator("circle")).to_have_count(2)
    picker = chart.get_by_label("Metric")
    other = picker.locator("option:not([selected])").first.get_attribute("value")
    picker.select_option(other)
    expect(page).to_have_url(re.compile(rf"metric={other}"))
    screenshot(page, "18b-compare-controls")
    # Promote from the compare page: the dialog, then back on the same comparison.
    page.locator('th.version-head[data-version="8"]').get_by_role("link", name="Move to…").click()
    dialog = page.locator("#move-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("radio", name="Production").check()
    if dialog.get_by_label("Yes, change what is in Production").is_visible():
        dialog.get_by_label("Yes, change what is in Production").check()
    dialog.locator("textarea[name=comment]").fill("best on the comparison")
    dialog.get_by_role("button", name="Move v8 to Production").click()
    expect(page.locator("h1")).to_have_text("Compare fraud-detector")
    expect(page.locator("#messages")).to_contain_text("Version 8 moved to Production")
    expect(page.locator('th.version-head[data-version="8"]')).to_contain_text("Production")
    assert ModelVersion.objects.get(registration__name="fraud-detector", version=8).stage == (
        "Production"
    )


def test_the_404_page_keeps_the_navigation_and_a_skip_link_comes_first(page, demo, screenshot):
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, demo)
    response = page.goto(f"{demo}/models/default/no-such-model/")
    assert response.status == 404
    expect(page.locator("header.topbar")).to_be_visible()
    expect(page.get_by_role("link", name="Back to the dashboard")).to_be_visible()
    screenshot(page, "19-not-found")
    page.goto(f"{demo}/models/default/fraud-detector/")
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Skip to main content")
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Skip to the versions table")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_be_visible()
    assert page.evaluate("document.activeElement.closest('#versions') !== null")
    icon = page.request.get(f"{demo}/favicon.ico")
    assert icon.ok and icon.body()[:4] == b"\x00\x00\x01\x00"


def test_feedback_appears_in_view_of_the_action(page, demo, screenshot):
    page.set_viewport_size({"width": 1280, "height": 700})
    sign_in(page, demo)
    page.goto(f"{demo}/models/default/fraud-detector/")
    row = page.locator("#version-1")
    row.scroll_into_view_if_needed()
    row.get_by_role("link", name="Move to…").click()
    dialog = page.locator("#move-dialog")
    dialog.get_by_role("radio", name="None").check()
    dialog.get_by_role("button", name="Move v1 to None").click()
    expect(page.locator("#version-1 .stage-cell")).to_have_text("None")
    toast = page.locator("#messages .alert", has_text="Version 1 moved to None")
    expect(toast).to_be_in_viewport()
    expect(page.locator("#messages")).to_have_attribute("aria-live", "polite")
    screenshot(page, "20-toast-after-move")
    toast.get_by_role("button", name="Dismiss").click()
    expect(toast).to_have_count(0)


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/registries/",
        "/models/",
        "/models/default/fraud-detector/",
        "/models/default/fraud-detector/timeline/",
        "/tokens/",
    ],
)
def test_pages_fit_a_phone_without_horizontal_scroll(page, demo, screenshot, path):
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, demo)
    page.goto(demo + path)
    width = page.evaluate("document.documentElement.scrollWidth")
    screenshot(page, "21-phone" + path.replace("/", "-").rstrip("-"))
    assert width <= 390, f"{path} is {width} px wide at 390 px"


def test_the_register_form_suggests_names_from_the_server(page, demo, screenshot):
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, demo)
    page.goto(f"{demo}/models/register/")
    expect(page.locator("label[for=id_model_source_uri] .req")).to_be_visible()
    page.locator("#id_name").press_sequentially("ranker", delay=30)
    expect(page.locator("#model-names option[value=search-ranker]")).to_have_count(1)
    expect(page.locator("#model-names option")).to_have_count(1)
    page.click("button:has-text('Register version')")
    expect(page.locator("#id_model_source_uri-error")).to_be_visible()
    screenshot(page, "22-register-required-marks")


def test_the_model_card_is_edited_in_place_and_rendered_safely(
    page, demo, csp_violations, screenshot
):
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, demo)
    page.goto(f"{demo}/models/default/fraud-detector/")
    card = page.locator("#card")
    card.get_by_text("Edit the model card").click()
    card.get_by_label("Intended use").fill(
        "Flags **card fraud** for review.\n\n<script>window.__ran = 1</script>"
        "\n\n[bad](javascript:window.__ran=2)"
    )
    card.get_by_label("Limitations").fill("- EU card data only\n- not for wire transfers")
    card.get_by_role("button", name="Save the card").click()
    expect(page.locator("#card strong")).to_have_text("card fraud")
    expect(page.locator("#card li").first).to_have_text("EU card data only")
    expect(page.locator("#messages")).to_contain_text("Model card saved")
    expect(page.locator("#card script")).to_have_count(0)
    expect(page.locator('#card a[href^="javascript"]')).to_have_count(0)
    page.locator("#card-intended_use").get_by_text("[bad]").click()
    assert page.evaluate("window.__ran") is None
    screenshot(page, "19-model-card")
    page.reload()
    expect(page.locator("#card-intended_use")).to_contain_text("card fraud")


def test_the_top_search_finds_a_version_by_alias_and_a_model_by_tag(page, demo, screenshot):
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, demo)
    box = page.get_by_role("searchbox", name="Search models, tags, run ids and aliases")
    box.fill("@champion")
    box.press("Enter")
    expect(page.locator("h1")).to_have_text("Search")
    expect(page.locator("#search-versions")).to_contain_text("fraud-detector v7")
    screenshot(page, "20-search-alias")
    page.get_by_role("searchbox").first.fill("risk")
    page.get_by_role("searchbox").first.press("Enter")
    expect(page.locator("#search-models")).to_contain_text("fraud-detector")


def test_the_models_list_changes_page_size_and_jumps_to_a_page(page, demo, screenshot):
    services.registrations_bulk_create(
        registry=Registry.objects.get(name="default"),
        registrations=[{"name": f"bulk-{i:03}", "versions": []} for i in range(60)],
        user=None,
    )
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, demo)
    page.goto(f"{demo}/models/?ordering=name")
    table = page.locator("#registration-table")
    expect(table.locator("tbody tr")).to_have_count(25)
    table.get_by_label("Per page").select_option("10")
    expect(page.locator("#registration-table tbody tr")).to_have_count(10)
    expect(page).to_have_url(re.compile(r"per_page=10"))
    jump = page.locator("#registration-table").get_by_label("Page", exact=True)
    jump.fill("3")
    jump.press("Enter")
    expect(page.locator("#registration-table .pager .current")).to_have_text("3")
    expect(page.locator("#registration-table tbody tr").first).to_contain_text("bulk-020")
    screenshot(page, "21-models-page-size")


THEME_PAGES = [
    ("dashboard", "/"),
    ("models", "/models/"),
    ("model", "/models/default/fraud-detector/"),
    ("version", "/models/default/fraud-detector/versions/8/"),
    ("compare", "/models/default/fraud-detector/compare/?v=6&v=7&v=8"),
    ("timeline", "/models/default/fraud-detector/timeline/?at=2999-01-01"),
    ("register", "/models/register/"),
    ("search", "/search/?q=fraud"),
    ("registries", "/registries/"),
    ("tokens", "/tokens/"),
    ("not-found", "/models/default/no-such-model/"),
]


def background(page) -> tuple[int, ...]:
    colour = page.evaluate("getComputedStyle(document.body).backgroundColor")
    return tuple(int(part) for part in re.findall(r"\d+", colour)[:3])


def test_dark_mode_follows_the_system_and_the_switch_is_remembered(
    page, demo, csp_violations, screenshot
):
    page.set_viewport_size({"width": 1280, "height": 900})
    page.emulate_media(color_scheme="dark")
    sign_in(page, demo)
    assert sum(background(page)) < 150  # the system says dark: dark without any choice
    toggle = page.locator("[data-theme-toggle]")
    expect(toggle).to_have_text("Auto")
    toggle.click()  # Auto -> Dark
    expect(toggle).to_have_text("Dark")
    toggle.click()  # Dark -> Light, against the system
    expect(toggle).to_have_text("Light")
    assert sum(background(page)) > 600
    page.reload()  # remembered, and rendered so from the first paint
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    assert sum(background(page)) > 600
    toggle = page.locator("[data-theme-toggle]")
    toggle.click()  # Light -> Auto: the system's dark again
    expect(toggle).to_have_text("Auto")
    page.reload()
    assert page.locator("html").get_attribute("data-theme") is None
    assert sum(background(page)) < 150


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_every_page_in_both_themes_at_desktop_and_phone_widths(
    page, demo, csp_violations, screenshot, theme
):
    page.emulate_media(color_scheme=theme)
    sign_in(page, demo)
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        for name, path in THEME_PAGES:
            page.goto(demo + path)
            page.wait_for_load_state("networkidle")
            dark = sum(background(page)) < 150
            assert dark == (theme == "dark"), (name, width)
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 1, (name, width, overflow)
            screenshot(page, f"theme-{theme}-{width}-{name}")


def test_add_a_webhook_see_its_secret_once_and_a_delivered_test_event(page, demo, screenshot):
    from tests.test_webhooks import Receiver, verified

    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, demo)
    with Receiver(200) as receiver:
        page.goto(f"{demo}/webhooks/")
        page.fill("input[name=url]", receiver.url)
        page.fill("input[name=name]", "Deploy notifier")
        page.check("input[value='version.stage_changed']")
        page.check("input[value='alias.set']")
        page.fill("input[name=model]", "fraud-detector")
        page.click("button:has-text('Add webhook')")
        secret = page.locator("#new-secret").inner_text().strip()
        assert secret.startswith("whsec_")
        screenshot(page, "webhooks-created")
        page.reload()
        expect(page.locator("#new-secret")).to_have_count(0)
        page.click("a:has-text('Deploy notifier')")
        page.click("button:has-text('Send test event')")
        expect(page.locator("#deliveries")).to_contain_text("Delivered")
        screenshot(page, "webhook-deliveries")
    assert verified(receiver.received[0], secret)["event"] == "test"


def test_a_registry_is_added_from_the_page_with_its_flavors_fields(
    page, demo, csp_violations, screenshot
):
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, demo)
    page.goto(f"{demo}/registries/")
    page.get_by_role("link", name="Add a registry").click()
    expect(page.locator("h1")).to_have_text("Add a registry")
    expect(page.locator('[data-flavor-fields="mlflow"]')).to_be_visible()
    expect(page.locator('[data-flavor-fields="builtin"]')).to_be_hidden()
    screenshot(page, "22-registry-form-mlflow")
    page.get_by_label("Flavor").select_option("builtin")
    expect(page.locator('[data-flavor-fields="builtin"]')).to_be_visible()
    expect(page.locator('[data-flavor-fields="mlflow"]')).to_be_hidden()
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#connection-result")).to_contain_text("nothing to connect to")
    expect(page.locator('[data-flavor-fields="mlflow"]')).to_be_hidden()  # still the choice
    page.get_by_role("textbox", name="Name").fill("team-b")
    page.get_by_role("button", name="Add the registry").click()
    expect(page.locator("h1")).to_have_text("Registries")
    expect(page.locator("#registries")).to_contain_text("team-b")
    assert Registry.objects.get(name="team-b").flavor == "builtin"


def test_the_timeline_answers_what_was_live_and_rolls_back(page, demo, screenshot):
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, demo)
    page.goto(demo + "/models/default/fraud-detector/")
    page.get_by_role("link", name=re.compile("Timeline")).click()
    expect(page.locator("h1")).to_have_text("Timeline of fraud-detector")
    expect(page.locator("#entries")).to_contain_text("Archived because another version")

    page.fill("#id_at", "2000-01-01")
    page.click("#ledger >> text=Ask")
    expect(page.locator(".ledger-answer")).to_contain_text("no version was in Production")
    page.fill("#id_at", "2999-01-01T12:00:00+01:00")
    page.click("#ledger >> text=Ask")
    expect(page.locator(".ledger-answer")).to_contain_text("held v7")
    screenshot(page, "30-timeline-ledger")

    page.fill("#id_at", "noon")
    page.click("#ledger >> text=Ask")
    expect(page.locator("#at-error")).to_contain_text("Not an ISO 8601 time")

    page.get_by_text("Roll back to v6…").click()
    page.fill("#rollback-comment", "v7 doubles latency")
    screenshot(page, "31-timeline-rollback-confirm")
    page.get_by_role("button", name="Yes, roll back to v6").click()
    expect(page.locator("#messages")).to_contain_text("version 6 is in Production again")
    expect(page.locator("#entries")).to_contain_text("Rolled back from version 7. v7 doubles")
    screenshot(page, "32-timeline-rolled-back")
    assert ModelVersion.objects.get(registration__name="fraud-detector", version=6).stage == (
        "Production"
    )
