"""Markdown descriptions and model cards: rendered, sanitised (no script runs), editable on
the page, readable and writable through the API."""

from html.parser import HTMLParser

import pytest
from django.urls import reverse

from models_app import services
from models_app.rendering import markdown_html

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def model(make_version):
    return make_version("churn").registration


def test_markdown_renders_the_usual_formatting():
    out = markdown_html("# Churn\n\n**bold** _it_ `code` [docs](https://example.org/x)\n\n- a\n- b")
    assert "<h1>Churn</h1>" in out and "<strong>bold</strong>" in out and "<em>it</em>" in out
    assert "<code>code</code>" in out and "<li>a</li>" in out
    assert '<a href="https://example.org/x" rel="noopener noreferrer nofollow">docs</a>' in out
    table = markdown_html("| a | b |\n|---|---|\n| 1 | 2 |")
    assert "<table>" in table and "<td>1</td>" in table


HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="https://ok.example" onclick="alert(1)">x</a>',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](vbscript:msgbox(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![x](javascript:alert(1))",
    "<iframe src=https://evil.example></iframe>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    "<svg onload=alert(1)>",
    "```\n</code><script>alert(1)</script>\n```",
    "<a href='javascript:alert(1)'>raw</a>",
    '[x](https://ok.example "t" onmouseover=alert(1))',
]


class Elements(HTMLParser):
    """The real elements and attributes of rendered HTML (escaped text is not markup)."""

    def __init__(self, text):
        super().__init__()
        self.found = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))


SAFE_TAGS = {"p", "a", "code", "pre", "em", "strong", "h1", "h2", "ul", "ol", "li", "br"}


@pytest.mark.parametrize("text", HOSTILE)
def test_no_script_link_handler_or_raw_html_survives(text):
    elements = Elements(str(markdown_html(text))).found
    for tag, attributes in elements:
        assert tag in SAFE_TAGS, tag
        assert not any(name.startswith("on") or name == "style" for name in attributes)
        href = attributes.get("href")
        if href is not None:
            scheme = href.split(":", 1)[0].lower() if ":" in href.split("/", 1)[0] else ""
            assert scheme in ("", "http", "https", "mailto"), href


def test_raw_html_is_shown_as_text_not_markup():
    out = str(markdown_html("<b>bold</b> and <script>x()</script>"))
    assert "&lt;b&gt;bold&lt;/b&gt;" in out and "&lt;script&gt;" in out


def test_the_page_renders_description_and_card_as_safe_markdown(admin_client, model):
    services.registration_update(
        registration=model,
        description="Predicts **churn**. <script>alert(1)</script>",
        card={"intended_use": "Retention offers\n\n[x](javascript:alert(1))", "limitations": ""},
        user=None,
    )
    body = admin_client.get(model.get_absolute_url()).content.decode()
    assert "Predicts <strong>churn</strong>." in body
    assert "<script>alert(1)" not in body and 'href="javascript' not in body
    assert "<h3>Intended use</h3>" in body and "Retention offers" in body
    assert "<h3>Limitations</h3>" not in body  # an empty section is not shown


def test_the_card_is_edited_in_place(admin_client, model):
    url = reverse("registration_card_edit", args=("default", "churn"))
    response = admin_client.post(
        url,
        {"card.intended_use": "Scoring *monthly* churn", "card.evaluation": "AUC 0.91 on Q3"},
        **HTMX,
    )
    body = response.content.decode()
    assert body.startswith('\n<section id="card"') or 'id="card"' in body.split(">")[0]
    assert "<html" not in body and "Scoring <em>monthly</em> churn" in body
    model.refresh_from_db()
    assert model.card == {
        "intended_use": "Scoring *monthly* churn",
        "evaluation": "AUC 0.91 on Q3",
    }
    # Emptying a box removes that section.
    admin_client.post(url, {"card.intended_use": "Scoring *monthly* churn"}, **HTMX)
    model.refresh_from_db()
    assert model.card == {"intended_use": "Scoring *monthly* churn"}


def test_a_too_long_section_is_refused_next_to_its_box(admin_client, model):
    url = reverse("registration_card_edit", args=("default", "churn"))
    body = admin_client.post(url, {"card.limitations": "x" * 20_001}, **HTMX).content.decode()
    assert "field-error" in body and "at most 20000 characters" in body
    model.refresh_from_db()
    assert model.card == {}


def test_the_api_shows_and_patches_the_card(api, model):
    path = "/api/v1/models/default/churn/"
    assert api.get(path).json()["card"] == {}
    response = api.patch(
        path, {"card": {"intended_use": "Offers", "limitations": "EU only"}}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["card"] == {"intended_use": "Offers", "limitations": "EU only"}
    response = api.patch(path, {"card": {"limitations": None}}, format="json")
    assert response.json()["card"] == {"intended_use": "Offers"}


@pytest.mark.parametrize(
    "card,message",
    [
        ({"secrets": "x"}, "Unknown section"),
        ({"limitations": "x" * 20_001}, "at most 20000"),
        ({"limitations": "a\x00b"}, "NUL"),
    ],
)
def test_a_bad_card_is_a_400_and_changes_nothing(api, model, card, message):
    response = api.patch("/api/v1/models/default/churn/", {"card": card}, format="json")
    assert response.status_code == 400, response.content
    assert message in response.content.decode()
    model.refresh_from_db()
    assert model.card == {}
