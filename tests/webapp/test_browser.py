"""A real browser (Debian's headless Chromium, driven by Playwright) against gunicorn on loopback, with axe-core."""

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect, sync_playwright

from salary.dataset import read_salary_csv
from salary.modeling import dump_model, fit_salary_model, margin_95, score, training_range
from salary.moments import Moments
from salary.plotting import fit_plot_svg
from salary.split import held_out_mask
from salary.store.model_store import open_store
from tests.support.browser import MODES, launch
from tests.support.server import gunicorn
from webapp.formatting import currency

pytestmark = pytest.mark.slow
# Every page a person can reach, in each state worth seeing.
PAGES = ["/", "/?years=5", "/?years=5-", "/?years=60", "/model", "/api", "/nope"]


@pytest.fixture(scope="module")
def browser():
    """One Chromium for the module; each test opens its own context."""
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser):
    """A desktop page that fails the test on any dialog (a resubmission prompt) or CSP report."""
    context = browser.new_context(**MODES["desktop"])
    page = context.new_page()
    page.problems = []
    page.on("dialog", lambda dialog: (page.problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    page.on(
        "console",
        lambda message: page.problems.append(message.text) if "Content Security Policy" in message.text else None,
    )
    try:
        yield page
    finally:
        context.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """gunicorn serving a model trained as the pipeline trains it; yields (base URL, model, manifest)."""
    import numpy as np

    from salary.dataset import write_salary_csv

    folder = tmp_path_factory.mktemp("browser")
    rng = np.random.default_rng(7)
    years = np.round(rng.uniform(0.5, 39.5, 60), 1)
    csv = folder / "salary.csv"
    # Noise wide enough for a five-digit margin ("±$14,331"), the widest tile value a real model shows.
    write_salary_csv(str(csv), years, 38000 + 2900 * years + rng.normal(0, 7300, 60))
    rows = read_salary_csv(str(csv))
    test = held_out_mask(rows.years, rows.salary, 0.2, 42)
    model = fit_salary_model(rows.years[~test], rows.salary[~test])
    scores = score(model, rows.years[test], rows.salary[test])
    store_uri = str(folder / "store" / "salary")
    manifest = open_store(store_uri).publish(
        dump_model(model),
        metrics={
            **scores,
            "n_train": int((~test).sum()),
            "n_test": int(test.sum()),
            "margin_95": margin_95(scores["rmse"]),
        },
        data={
            "uri": str(csv),
            "sha256": rows.sha256,
            "rows": rows.rows,
            **training_range(Moments.of(rows.years[~test], rows.salary[~test])),
        },
        source={},
        attachments={
            "plot.svg": fit_plot_svg(rows.years, rows.salary, model, title="Fit").encode()
        },  # as export publishes it
    )
    with gunicorn({"MODEL_URI": store_uri}) as base:
        yield base, model, manifest


def predicted(model, years: float) -> str:
    """The amount the form shows: to the nearest $100, as the range beside it is."""
    return currency(round(float(model.predict([[years]])[0]), -2))


def test_the_form_gives_a_shareable_result_that_back_and_reload_keep(page, served):
    base, model, manifest = served
    page.goto(f"{base}/")
    expect(page).to_have_title("Predict a salary · Salary predictor")
    page.get_by_label("Years of experience", exact=True).fill("5")
    page.get_by_role("button", name="Predict salary").click()
    expect(page).to_have_url(f"{base}/?years=5")
    expect(page.locator("#salary")).to_have_text(predicted(model, 5.0))
    expect(page).to_have_title(f"{predicted(model, 5.0)} for 5 years of experience · Salary predictor")
    expect(page.locator("#model-version")).to_have_text(manifest["version"])
    # The page lands on the result: focused, so a screen reader starts there. (Browsers apply autofocus
    # on a later rendering step, not at load: wait for it.)
    expect(page.locator("#result")).to_be_focused()
    page.get_by_role("link", name="About this model").click()
    expect(page.locator("#card-version")).to_have_text(manifest["version"])
    page.go_back()
    expect(page).to_have_url(f"{base}/?years=5")
    expect(page.locator("#salary")).to_have_text(predicted(model, 5.0))
    page.reload()
    expect(page.locator("#salary")).to_have_text(predicted(model, 5.0))
    # Shared: the address alone gives the same answer in a new tab.
    other = page.context.new_page()
    other.goto(f"{base}/?years=5")
    expect(other.locator("#salary")).to_have_text(predicted(model, 5.0))
    assert page.problems == []


def test_a_decimal_comma_is_two_and_a_half_not_twenty_five(page, served):
    base, model, _ = served
    page.goto(f"{base}/")
    years = page.get_by_label("Years of experience", exact=True)
    years.fill("2,5")
    years.press("Enter")
    expect(page.locator("#salary")).to_have_text(predicted(model, 2.5))
    expect(page.locator("#result-title")).to_have_text("Predicted salary for 2.5 years of experience")
    expect(years).to_have_value("2,5")


def test_what_cannot_be_read_is_kept_and_explained_next_to_the_input(page, served):
    base, _, _ = served
    page.goto(f"{base}/")
    years = page.get_by_label("Years of experience", exact=True)
    years.fill("5-")
    page.get_by_role("button", name="Predict salary").click()
    message = "“5-” is not a number: use digits with one decimal point or comma, like 5 or 7.5."
    expect(page.locator("#years-error")).to_contain_text(message)
    expect(page).to_have_title(f"Error: {message} · Salary predictor")
    expect(years).to_have_value("5-")
    expect(years).to_have_attribute("aria-invalid", "true")
    expect(years).to_have_accessible_description(re.compile(re.escape(message)))
    expect(years).to_be_focused()
    expect(page.locator("#salary")).to_have_count(0)
    assert page.problems == []


def test_the_range_and_the_note_beyond_the_years_trained_on(page, served):
    base, model, manifest = served
    margin = manifest["metrics"]["margin_95"]
    page.goto(f"{base}/?years=5")
    salary = float(model.predict([[5.0]])[0])
    low, high = currency(round(salary - margin, -2)), currency(round(salary + margin, -2))
    expect(page.locator("#range")).to_contain_text(f"Likely between {low} and {high}")
    expect(page.locator("#outside")).to_have_count(0)
    page.goto(f"{base}/?years=60")
    expect(page.locator("#outside")).to_be_visible()
    expect(page.locator("#outside")).to_contain_text("60 years is outside that")


def test_the_result_is_above_the_fold_on_a_small_phone(browser, served):
    base, _, _ = served
    context = browser.new_context(**MODES["phone-375"])
    try:
        page = context.new_page()
        page.goto(f"{base}/?years=5")
        page.evaluate("window.scrollTo(0, 0)")
        for selector in ("#salary", "#range"):
            box = page.locator(selector).bounding_box()
            assert box["y"] >= 0 and box["y"] + box["height"] <= 667, selector
    finally:
        context.close()


def test_model_card_shows_the_plot_and_hides_the_jargon_until_asked(page, served, tmp_path):
    base, _, manifest = served
    page.goto(f"{base}/")
    page.get_by_role("link", name="Model card").click()
    expect(page.locator("#card-version")).to_have_text(manifest["version"])
    expect(page.locator("#tiles")).to_contain_text("Typical error")
    plot = page.locator("#fit-plot")
    expect(plot).to_be_visible()
    # Loaded and decoded: an image the browser refused (wrong type, CSP) would have no natural width.
    page.wait_for_function("() => document.querySelector('#fit-plot').complete", timeout=15_000)
    assert plot.evaluate("image => image.naturalWidth") > 0
    expect(page.get_by_text(manifest["sha256"])).to_be_hidden()
    page.get_by_text("Technical details").click()
    expect(page.get_by_text(manifest["sha256"])).to_be_visible()
    page.get_by_role("link", name="API", exact=True).click()
    expect(page).to_have_url(f"{base}/api")
    expect(page.get_by_role("heading", name="JSON API", level=1)).to_be_visible()
    assert page.problems == []


CONTRAST = """([a, b]) => {
    const channels = (css) => css.match(/[\\d.]+/g).slice(0, 3).map(Number);
    const luminance = (css) => {
        const [r, g, b] = channels(css).map((c) => c / 255).map((c) => c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
        return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const [high, low] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (high + 0.05) / (low + 0.05);
}"""


@pytest.mark.parametrize("mode", ["desktop", "dark"])
def test_focus_ring_and_input_border_contrast_at_least_3_to_1(browser, served, mode):
    base, _, _ = served
    context = browser.new_context(**MODES[mode])
    try:
        page = context.new_page()
        page.goto(f"{base}/")
        page.keyboard.press("Tab")  # the skip link, then the brand, the nav and the input
        while page.evaluate("document.activeElement.id") != "years":
            page.keyboard.press("Tab")
        style = page.locator("#years").evaluate(
            "input => { const s = getComputedStyle(input); return [s.outlineColor, s.outlineStyle, s.borderTopColor]; }"
        )
        card = page.locator(".card").evaluate("card => getComputedStyle(card).backgroundColor")
        outline, outline_style, border = style
        assert outline_style == "solid"
        assert page.evaluate(CONTRAST, [outline, card]) >= 3.0
        assert page.evaluate(CONTRAST, [border, card]) >= 3.0
    finally:
        context.close()


@pytest.mark.parametrize("mode", MODES)
def test_axe_finds_no_violations(browser, served, mode):
    base, _, _ = served
    axe = Axe()
    context = browser.new_context(**MODES[mode])
    found = {}
    try:
        page = context.new_page()
        for path in PAGES:
            page.goto(f"{base}{path}")
            if path == "/model":
                page.wait_for_function("() => document.querySelector('#fit-plot').complete", timeout=15_000)
                page.locator("#technical summary").click()  # scan the collapsed section too
            violations = axe.run(page).response["violations"]
            found[path] = [(v["id"], v["impact"], [node["target"] for node in v["nodes"]]) for v in violations]
    finally:
        context.close()
    assert found == {path: [] for path in PAGES}


@pytest.mark.parametrize("width", [320, 375, 600, 900, 1024, 1280, 1600])
def test_no_tile_and_no_page_overflows_at_any_width(browser, served, width):
    base, _, manifest = served
    assert manifest["metrics"]["margin_95"] >= 10_000  # the five-digit range that overflowed at 900–1280 px
    context = browser.new_context(viewport={"width": width, "height": 800})
    try:
        page = context.new_page()
        for path in ("/model", "/?years=5"):
            page.goto(f"{base}{path}")
            page.wait_for_load_state("load")
            # Every tile, and the page itself: content wider than its box is cut off or scrolls sideways.
            overflowing = page.evaluate(
                """() => [...document.querySelectorAll('.tile, .tile .value, main, body')]
                    .filter((box) => box.scrollWidth > box.clientWidth)
                    .map((box) => `${box.className || box.tagName}: ${box.scrollWidth} > ${box.clientWidth}`)"""
            )
            assert overflowing == [], (path, width)
    finally:
        context.close()


@pytest.mark.parametrize("mode", ["desktop", "dark"])
def test_the_fit_plot_is_readable_in_light_and_dark(browser, served, mode):
    base, _, _ = served
    context = browser.new_context(**MODES[mode])
    try:
        page = context.new_page()
        page.goto(f"{base}/model")
        card = page.locator(".card").evaluate("card => getComputedStyle(card).backgroundColor")
        # The SVG as its own document takes the same colour scheme as it does inside the card's <img>.
        page.goto(f"{base}/model/plot.svg")
        colours = page.evaluate(
            """() => ({
                text: [...document.querySelectorAll('text')].map((t) => getComputedStyle(t).fill),
                dots: [...document.querySelectorAll('[id^="PathCollection"] use')]
                    .map((d) => getComputedStyle(d).fill).filter((fill) => fill !== 'none'),
                background: [...document.querySelectorAll('[id^="patch"] path')]
                    .map((p) => getComputedStyle(p).fill).filter((fill) => fill !== 'none'),
            })"""
        )
        assert colours["text"] and colours["dots"]
        for fill in colours["text"]:
            assert page.evaluate(CONTRAST, [fill, card]) >= 4.5, (mode, fill)
        for fill in colours["dots"]:
            assert page.evaluate(CONTRAST, [fill, card]) >= 3.0, (mode, fill)
        assert colours["background"] == []  # no white panel: the card shows through
    finally:
        context.close()
