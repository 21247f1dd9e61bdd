"""A real browser (Debian's headless Chromium, driven by Playwright) against gunicorn on loopback."""

import os

import pytest
from playwright.sync_api import expect, sync_playwright

from salary.dataset import read_salary_csv
from salary.model_store import open_store
from salary.modeling import dump_model, fit_salary_model
from salary.plotting import fit_plot_svg
from tests.server import gunicorn
from webapp.formatting import currency

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"
# Headless Chromium as root, offline: no sandbox (root), no GPU, none of its background fetches.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture
def browser_page(tmp_path):
    """A page in a fresh Chromium profile; console messages collected in page.console_messages."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium; .ci/run does)")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1100, "height": 800},
        )
        page = context.new_page()
        page.console_messages = []
        page.on("console", lambda message: page.console_messages.append(message.text))
        try:
            yield page
        finally:
            context.close()


@pytest.fixture
def served(store_uri, salary_csv):
    """gunicorn serving a model trained on salary_csv; yields (base URL, model, manifest)."""
    rows = read_salary_csv(str(salary_csv))
    model = fit_salary_model(rows.years, rows.salary)
    manifest = open_store(store_uri).publish(
        dump_model(model), metrics={"r2": 0.97, "rmse": 3000.0, "mae": 2400.0, "rows": 8},
        data={"uri": str(salary_csv), "sha256": rows.sha256, "rows": rows.rows}, source={},
        attachments={"plot.svg": fit_plot_svg(rows.years, rows.salary, model).encode()},  # as export publishes it
    )
    with gunicorn({"MODEL_URI": store_uri}) as base:
        yield base, model, manifest


def test_form_predicts_and_explains_errors(browser_page, served, tmp_path):
    base, model, manifest = served
    page = browser_page
    page.goto(f"{base}/")
    expect(page).to_have_title("Salary predictor")
    years = page.get_by_label("Years of experience")
    years.fill("5")
    page.get_by_role("button", name="Predict salary").click()
    expected = currency(float(model.predict([[5.0]])[0]))
    expect(page.locator("#salary")).to_have_text(expected)
    expect(page.locator("#model-version")).to_have_text(manifest["version"])
    expect(years).to_have_value("5")
    page.screenshot(path=tmp_path / "form.png", full_page=True)

    years.fill("-1")
    years.press("Enter")
    expect(page.get_by_role("alert")).to_have_text("Years of experience must be between 0 and 60, got -1.")
    expect(years).to_have_value("-1")
    expect(years).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#salary")).to_have_count(0)
    page.screenshot(path=tmp_path / "form-error.png", full_page=True)
    assert not [text for text in page.console_messages if "Content Security Policy" in text]


def test_model_card_shows_the_plot(browser_page, served, tmp_path):
    base, _, manifest = served
    page = browser_page
    page.goto(f"{base}/")
    page.get_by_role("link", name="Model card").click()
    expect(page.locator("#card-version")).to_have_text(manifest["version"])
    plot = page.locator("#fit-plot")
    expect(plot).to_be_visible()
    # Loaded and decoded: an image the browser refused (wrong type, CSP) would have no natural width.
    page.wait_for_function("() => document.querySelector('#fit-plot').complete", timeout=15_000)
    assert plot.evaluate("image => image.naturalWidth") > 0
    assert plot.bounding_box()["width"] > 500
    page.screenshot(path=tmp_path / "model.png", full_page=True)
    assert (tmp_path / "model.png").stat().st_size > 0
    assert not [text for text in page.console_messages if "Content Security Policy" in text]
