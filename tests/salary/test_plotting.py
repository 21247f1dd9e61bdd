"""The fit plot is a self-contained SVG of the data, the line and the residuals."""

import xml.etree.ElementTree as ElementTree

import numpy as np

from salary.plotting import fit_plot_svg, svg_page


def test_fit_plot_is_standalone_svg(line_model):
    years = np.array([1.0, 5.0, 10.0, 20.0])
    svg = fit_plot_svg(years, 30000.0 + 2000.0 * years + 500.0, line_model)
    root = ElementTree.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert "Years of experience" in svg and "Residual" in svg and "fitted line" in svg
    # No external references or scripts: the console and the web app render it offline and safely.
    for element in root.iter():
        assert not element.tag.endswith(("script", "image", "foreignObject"))
        for attribute, value in element.attrib.items():
            if attribute.endswith("href"):
                assert value.startswith("#"), value


def test_svg_page_embeds_the_drawing_inline_and_escapes_text(line_model):
    years = np.array([1.0, 5.0, 10.0])
    svg = fit_plot_svg(years, 30000.0 + 2000.0 * years, line_model)
    page = svg_page(svg, "R² & <friends>", "caption <b>")
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") == 1
    assert "<?xml" not in page and "<!DOCTYPE svg" not in page
    assert "<title>R² &amp; &lt;friends&gt;</title>" in page and "<p>caption &lt;b&gt;</p>" in page
    # The embedded element is the SVG as drawn, whole.
    embedded = page[page.index("<svg") : page.rindex("</svg>") + len("</svg>")]
    assert ElementTree.fromstring(embedded).tag == "{http://www.w3.org/2000/svg}svg"
    assert embedded == svg[svg.index("<svg") :].rstrip()


def test_large_data_is_drawn_as_a_bounded_sample(line_model):
    from salary.plotting import MAX_PLOT_POINTS

    years = np.linspace(0.0, 40.0, 200_000)
    svg = fit_plot_svg(years, 30000.0 + 2000.0 * years, line_model)
    small = fit_plot_svg(years[:MAX_PLOT_POINTS], 30000.0 + 2000.0 * years[:MAX_PLOT_POINTS], line_model)
    assert "data (2,000 of 200,000 rows)" in svg
    # One marker per drawn point in each panel (plus a few tick marks): no bigger than a 2,000-row plot.
    assert 2 * MAX_PLOT_POINTS <= svg.count("<use ") < 2 * MAX_PLOT_POINTS + 50
    assert abs(svg.count("<use ") - small.count("<use ")) < 20 and len(svg) < 1.1 * len(small)


def test_salary_axes_read_in_dollars_with_separators(line_model):
    from salary.plotting import dollars

    assert (dollars(160000.0), dollars(-5000.0), dollars(0.4)) == ("$160,000", "-$5,000", "$0")
    years = np.arange(0.0, 40.0)
    svg = fit_plot_svg(years, 30000.0 + 2000.0 * years + (years % 3) * 1000.0, line_model)
    texts = [element.text or "" for element in ElementTree.fromstring(svg).iter() if element.tag.endswith("text")]
    assert "$100,000" in texts and "100000" not in svg


def test_text_stays_legible_when_a_phone_shows_the_plot_300_px_wide(line_model):
    import re

    years = np.arange(0.0, 40.0)
    svg = fit_plot_svg(years, 30000.0 + 2000.0 * years, line_model)
    width = float(ElementTree.fromstring(svg).get("viewBox").split()[2])
    sizes = [float(size) for size in re.findall(r"font-size: ([\d.]+)px", svg)]
    assert sizes and min(sizes) * 300 / width >= 8
