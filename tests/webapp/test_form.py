"""The prediction form as a GET, its reading of what people type, the honest answer, the API page, HEAD and the icon."""

import html
import re
import xml.etree.ElementTree as ElementTree

import pytest

from salary.answers import facts_from_manifest
from salary.modeling import dump_model
from salary.store.model_store import open_store
from tests.support import REPO
from tests.support.serving import response_schema
from webapp import create_app

MARGIN = 1.96 * 5419.0


@pytest.fixture
def ranged(store_uri, line_model):
    """The line model published with the range and the trained years recorded; its manifest."""
    return open_store(store_uri).publish(
        dump_model(line_model),
        metrics={"r2": 0.97, "rmse": 5419.0, "mae": 4000.0, "n_test": 4, "margin_95": MARGIN},
        data={"uri": "test.csv", "sha256": "0" * 64, "rows": 20, "years_min": 0.5, "years_max": 39.5},
        source={},
    )


@pytest.fixture
def ranged_client(store_uri, ranged):
    """A client of the app serving the ranged version."""
    return create_app({"TESTING": True, "MODEL_URI": store_uri, "MODEL_POLL_SECONDS": 0}).test_client()


def words(page) -> str:
    """The page's text with entities decoded and runs of white space as one space."""
    return " ".join(html.unescape(page.text).split())


def title(page) -> str:
    return html.unescape(re.search(r"<title>(.*?)</title>", page.text, re.S).group(1))


def test_the_form_is_a_get_and_a_result_has_its_own_address(client, published):
    page = client.get("/")
    form = re.search(r"<form[^>]*>", page.text).group(0)
    assert 'method="get"' in form and 'action="/"' in form
    assert 'type="text"' in page.text and 'inputmode="decimal"' in page.text and "csrf" not in page.text
    result = client.get("/?years=5")
    assert result.status_code == 200
    assert "$40,000" in result.text and published["version"] in result.text and 'value="5"' in result.text
    assert "for 5 years of experience" in result.text and "aria-invalid" not in result.text
    assert title(result) == "$40,000 for 5 years of experience · Salary predictor"
    # The page lands on the result without script: the result is focusable and autofocused.
    assert re.search(r'<section id="result"[^>]*tabindex="-1"[^>]*autofocus', result.text)
    assert "R²" not in result.text


@pytest.mark.parametrize(
    "typed, years, salary",
    [
        ("2,5", "2.5 years", "$35,000"),
        ("2.5", "2.5 years", "$35,000"),
        (" 7,25 ", "7.25 years", "$44,500"),
        (",5", "0.5 years", "$31,000"),
        ("1", "1 year", "$32,000"),
        ("60", "60 years", "$150,000"),
    ],
)
def test_a_decimal_comma_is_read_as_a_decimal(client, typed, years, salary):
    result = client.get("/", query_string={"years": typed})
    assert result.status_code == 200
    assert f"for {years} of experience" in result.text and salary in result.text
    assert f'value="{html.escape(typed)}"' in result.text  # what was typed stays as typed


@pytest.mark.parametrize(
    "typed, message",
    [
        ("", "Enter your years of experience."),
        ("5-", "“5-” is not a number: use digits with one decimal point or comma, like 5 or 7.5."),
        ("abc", "“abc” is not a number"),
        ("1,2,3", "“1,2,3” is not a number"),
        ("2,5.0", "“2,5.0” is not a number"),
        ("1_0", "“1_0” is not a number"),
        ("1e1", "“1e1” is not a number"),
        ("nan", "“nan” is not a number"),
        ("٥", "“٥” is not a number"),
        ("-1", "Years of experience must be between 0 and 60, got -1."),
        ("60,5", "Years of experience must be between 0 and 60, got 60.5."),
        ("1,500", "Years of experience must be between 0 and 60, got 1.5."[:0] or None),
    ],
)
def test_unparsable_or_out_of_range_input_is_kept_and_explained_next_to_it(client, typed, message):
    result = client.get("/", query_string={"years": typed})
    if message is None:  # "1,500" is one and a half years (no thousands separator fits in 0–60)
        assert result.status_code == 200 and "for 1.5 years of experience" in result.text
        return
    assert result.status_code == 400
    text = html.unescape(result.text)
    assert message in text and title(result).startswith(f"Error: {message}")
    assert f'value="{html.escape(typed)}"' in result.text and 'aria-invalid="true"' in result.text
    field = re.search(r"<input[^>]*>", result.text).group(0)
    assert 'aria-describedby="years-error years-hint"' in field and "autofocus" in field
    assert 'id="salary"' not in result.text


def test_a_long_input_is_shortened_in_the_message(client):
    result = client.get("/", query_string={"years": "x" * 500})
    assert result.status_code == 400 and "“" + "x" * 24 + "…” is not a number" in html.unescape(result.text)


def test_the_answer_has_a_range(ranged_client, ranged):
    result = ranged_client.get("/?years=5")
    text = words(result)
    # 40,000 ± 10,621.24, to the nearest hundred.
    assert "Likely between <strong>$29,400</strong> and <strong>$50,600</strong>" in text
    assert 'id="outside"' not in text and ranged["version"] in text


@pytest.mark.parametrize("years, outside", [("0.5", False), ("39.5", False), ("0", True), ("60", True), ("40", True)])
def test_a_note_when_asked_beyond_the_years_trained_on(ranged_client, years, outside):
    text = words(ranged_client.get(f"/?years={years}"))
    assert ('id="outside"' in text) is outside
    if outside:
        assert "learned from people with 0.5 to 39.5 years of experience" in text


def test_an_old_manifest_still_serves_without_range_or_note(client):
    text = client.get("/?years=60").text
    assert "$150,000" in text and 'id="range"' not in text and 'id="outside"' not in text


@pytest.mark.parametrize(
    "manifest, expected",
    [
        ({}, (None, None, None)),
        ({"metrics": {"margin_95": 10.0}, "data": {"years_min": 1, "years_max": 2}}, (10.0, 1.0, 2.0)),
        ({"metrics": {"margin_95": "10"}, "data": {"years_min": 3, "years_max": 2}}, (None, None, None)),
        ({"metrics": {"margin_95": float("nan")}, "data": {"years_min": True, "years_max": 2}}, (None, None, None)),
        ({"metrics": [], "data": None}, (None, None, None)),
    ],
)
def test_answer_facts_from_any_manifest(manifest, expected):
    facts = facts_from_manifest(manifest)
    assert (facts.margin_95, facts.years_min, facts.years_max) == expected


def test_the_api_returns_the_range(ranged_client, ranged):
    single = ranged_client.post("/api/predict", json={"years_experience": 5}).json
    assert single == {
        "salary": pytest.approx(40000.0),
        "model_version": ranged["version"],
        "margin_95": MARGIN,
        "salary_range": {"low": pytest.approx(40000.0 - MARGIN), "high": pytest.approx(40000.0 + MARGIN)},
    }
    batch = ranged_client.post("/api/predict", json={"instances": [1, 2]}).json
    assert batch["margin_95"] == MARGIN and batch["predictions"] == pytest.approx([32000.0, 34000.0])
    # Both answer as /openapi.json describes them.
    document = ranged_client.get("/openapi.json").json
    for body in (single, batch):
        response_schema(document, 200, "application/json").validate(body)


def test_head_is_answered_wherever_get_is(client):
    app = client.application
    paths = [rule.rule for rule in app.url_map.iter_rules() if "GET" in rule.methods and not rule.arguments]
    paths += ["/?years=5", "/?years=5-", "/static/style.css"]
    for path in paths:
        with client.get(path) as got, client.head(path) as head:
            assert head.status_code == got.status_code < 500, path
            assert head.data == b"" and head.headers["Content-Type"] == got.headers["Content-Type"], path


def test_favicon_ico_is_served(client):
    with client.get("/favicon.ico") as response:
        assert response.status_code == 200 and response.mimetype == "image/vnd.microsoft.icon"
        assert response.data[:4] == b"\x00\x00\x01\x00"  # an ICO header


def test_the_api_page_shows_copyable_examples(client):
    page = client.get("/api")
    assert page.status_code == 200 and page.mimetype == "text/html"
    text = html.unescape(page.text)
    assert "curl -s -X POST http://localhost/api/predict -H 'Content-Type: application/json'" in text
    assert """-d '{"years_experience": 5}'""" in text and """-d '{"instances": [1, 2.5, 10]}'""" in text
    for field in ('"margin_95"', '"salary_range"', '"detail"', "415 Unsupported Media Type", "503 Service Unavailable"):
        assert field in text
    assert 'href="/openapi.json"' in page.text
    assert re.search(r'<a href="/api" aria-current="page">API</a>', page.text)


def test_the_footer_leads_a_person_to_the_api_page_not_raw_json(client):
    footer = client.get("/").text.split('<footer class="site">')[1]
    assert 'href="/api"' in footer and "openapi.json" not in footer


def test_the_readme_pictures_are_committed_and_small():
    pictures = re.findall(r"docs/screenshots/[\w-]+\.png", (REPO / "README.md").read_text())
    assert len(set(pictures)) >= 3
    for picture in pictures:
        data = (REPO / picture).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) < 100_000, picture


def test_the_plot_alt_text_says_which_rows_it_shows(store_uri, line_model):
    import numpy as np

    from salary.plotting import fit_plot_svg

    years = np.arange(0.0, 20.0)
    open_store(store_uri).publish(
        dump_model(line_model),
        metrics={"r2": 1.0, "rmse": 0.0, "mae": 0.0, "rows": 4},
        data={"uri": "gs://bucket/salary.csv", "sha256": "0" * 64, "rows": 20},
        source={},
        attachments={"plot.svg": fit_plot_svg(years, 30000.0 + 2000.0 * years, line_model).encode()},
    )
    page = create_app({"TESTING": True, "MODEL_URI": store_uri, "MODEL_POLL_SECONDS": 0}).test_client().get("/model")
    alt = html.unescape(re.search(r'<img id="fit-plot"[^>]*alt="([^"]+)"', page.text).group(1))
    # The published plot is drawn by evaluate_model from the held-out rows, not the training rows.
    assert "held-out rows" in alt and "training" not in alt.replace("not used in training", "")


# The range by years: |residual| ≈ 1,000 + 100 × years, at least 500 (salary.modeling.range_model).
SPREAD = {"range_intercept": 1000.0, "range_slope": 100.0, "range_floor": 500.0}
SCALE = 1.96 * (3.141592653589793 / 2) ** 0.5


@pytest.fixture
def by_years_client(store_uri, line_model):
    """A client of the app serving the line model published with its range by years; and the manifest."""
    manifest = open_store(store_uri).publish(
        dump_model(line_model),
        metrics={"r2": 0.97, "rmse": 5419.0, "mae": 4000.0, "n_test": 4, "margin_95": MARGIN, **SPREAD},
        data={"uri": "test.csv", "sha256": "0" * 64, "rows": 20, "years_min": 0.5, "years_max": 39.5},
        source={},
    )
    app = create_app({"TESTING": True, "MODEL_URI": store_uri, "MODEL_POLL_SECONDS": 0})
    return app.test_client(), manifest


def test_the_range_grows_with_years_on_the_form_rounded_with_the_amount(by_years_client):
    client, manifest = by_years_client
    # 5.25 years: 30,000 + 2,000 × 5.25 = 40,500 ± 1.96·√(π/2)·1,525 = ± 3,746.1, to the nearest hundred.
    text = words(client.get("/?years=5.25"))
    assert "Likely between <strong>$36,800</strong> and <strong>$44,200</strong>" in text
    assert '<strong id="salary">$40,500</strong>' in text  # 40,500 exactly; the amount rounds as the range does
    text = words(client.get("/?years=7.33"))
    assert '<strong id="salary">$44,700</strong>' in text and "$44,660" not in text
    # 35 years: ± 1.96·√(π/2)·4,500, three times as wide as at 5 years.
    text = words(client.get("/?years=35"))
    low, high = 100_000 - SCALE * 4500, 100_000 + SCALE * 4500
    assert (
        f"Likely between <strong>${round(low, -2):,.0f}</strong> and <strong>${round(high, -2):,.0f}</strong>" in text
    )


def test_the_api_gives_each_answer_its_own_margin_at_full_precision(by_years_client):
    client, manifest = by_years_client
    single = client.post("/api/predict", json={"years_experience": 7.33}).json
    margin = SCALE * (1000.0 + 100.0 * 7.33)
    assert single == {
        "salary": pytest.approx(44660.0),
        "model_version": manifest["version"],
        "margin_95": pytest.approx(margin, rel=1e-12),
        "salary_range": {"low": pytest.approx(44660.0 - margin), "high": pytest.approx(44660.0 + margin)},
    }
    batch = client.post("/api/predict", json={"instances": [0, 20, 40]}).json
    # At 0 years the line gives 1,000; the floor (500) never binds here, so every margin is on the line.
    assert batch["margins_95"] == pytest.approx([SCALE * 1000.0, SCALE * 3000.0, SCALE * 5000.0], rel=1e-12)
    assert "margin_95" not in batch
    document = client.get("/openapi.json").json
    for body in (single, batch):
        response_schema(document, 200, "application/json").validate(body)
    # The fast path (exact Content-Type) and Flask's route (with a charset) answer byte for byte alike.
    for body in (b'{"years_experience": 7.33}', b'{"instances": [0, 20, 40]}'):
        fast = client.post("/api/predict", data=body, content_type="application/json")
        route = client.post("/api/predict", data=body, content_type="application/json; charset=utf-8")
        assert fast.status_code == route.status_code == 200 and fast.data == route.data


def test_the_card_shows_the_range_at_both_ends_of_the_years(by_years_client):
    client, _ = by_years_client
    text = words(client.get("/model"))
    at_low, at_high = SCALE * (1000.0 + 50.0), SCALE * (1000.0 + 3950.0)
    assert f"±${round(at_low, -2):,.0f} to ±${round(at_high, -2):,.0f}" in text
    assert "at 0.5 to 39.5 years" in text


@pytest.mark.parametrize(
    "metrics, expected",
    [
        (SPREAD, SPREAD),
        ({**SPREAD, "range_slope": -5.0}, {**SPREAD, "range_slope": -5.0}),
        ({**SPREAD, "range_floor": 0.0}, None),
        ({**SPREAD, "range_slope": "1"}, None),
        ({**SPREAD, "range_intercept": float("inf")}, None),
        ({"range_intercept": 1.0, "range_slope": 1.0}, None),
        ({**SPREAD, "range_floor": True}, None),
    ],
)
def test_the_range_by_years_is_read_only_when_whole(metrics, expected):
    facts = facts_from_manifest({"metrics": {"margin_95": 10.0, **metrics}})
    assert facts.spread == expected
    assert facts.margin(0.0) == (10.0 if expected is None else pytest.approx(SCALE * max(1000.0, 500.0)))


@pytest.mark.parametrize("years", [5.0, 60.0])
def test_the_answer_is_marked_on_a_small_plot_of_the_line_without_javascript(ranged_client, years):
    page = ranged_client.get(f"/?years={years:g}").text
    assert "<script" not in page
    svg = ElementTree.fromstring(re.search(r'<svg id="answer-plot".*?</svg>', page, re.S).group(0))
    shapes = {element.get("class"): element.attrib for element in svg}
    fit, dot, bar, span = shapes["fit"], shapes["point"], shapes["range"], shapes["span"]
    x1, y1, x2, y2 = (float(fit[name]) for name in ("x1", "y1", "x2", "y2"))
    cx, cy = float(dot["cx"]), float(dot["cy"])
    # On the model's line, at its own years, with the range bar through it; 0 years at the line's left end.
    assert abs(cy - (y1 + (y2 - y1) * (cx - x1) / (x2 - x1))) < 0.2
    assert abs((cx - x1) / (x2 - x1) - years / max(years * 1.05, 39.5 * 1.05)) < 0.002
    assert float(bar["x1"]) == cx and float(bar["y2"]) < cy < float(bar["y1"])
    assert abs((float(bar["y1"]) - cy) - (cy - float(bar["y2"]))) < 0.2  # the range is symmetric here
    # The shaded years it learned from contain 5 years and not 60.
    inside = float(span["x"]) <= cx <= float(span["x"]) + float(span["width"])
    assert inside is (years == 5.0)
