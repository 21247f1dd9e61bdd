"""The fit plot: data, fitted line and residuals, as a self-contained SVG (and an HTML page around it)."""

import html
import io

import numpy as np

# More points than this are drawn as an evenly spaced sample: the SVG keeps one element per point, so
# a million-row data set would otherwise give a file of tens of megabytes and take seconds to write.
MAX_PLOT_POINTS = 2000


def fit_plot_svg(years: np.ndarray, salary: np.ndarray, model, title: str = "Salary vs. experience") -> str:
    """Draw the rows, the model's line and its residuals; return SVG text with no external refs."""
    # Imported here: the pyplot-free API keeps this usable in servers and subprocesses alike.
    import matplotlib
    from matplotlib.figure import Figure

    rows = years.size
    label = "data"
    if rows > MAX_PLOT_POINTS:
        keep = np.linspace(0, rows - 1, MAX_PLOT_POINTS).astype(np.intp)
        years, salary = years[keep], salary[keep]
        label = f"data ({MAX_PLOT_POINTS:,} of {rows:,} rows)"
    predicted = model.predict(years.reshape(-1, 1))
    line_x = np.linspace(0.0, max(float(years.max()), 1.0), 100)
    line_y = model.predict(line_x.reshape(-1, 1))
    figure = Figure(figsize=(8, 6))
    fit, residuals = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    fit.scatter(years, salary, s=14, color="#1a56db", alpha=0.7, label=label)
    fit.plot(line_x, line_y, color="#b3261e", linewidth=2, label="fitted line")
    fit.set_ylabel("Salary")
    fit.set_title(title)
    fit.legend(loc="upper left")
    fit.grid(alpha=0.3)
    residuals.scatter(years, salary - predicted, s=10, color="#5b6472")
    residuals.axhline(0.0, color="#b3261e", linewidth=1)
    residuals.set_xlabel("Years of experience")
    residuals.set_ylabel("Residual")
    residuals.grid(alpha=0.3)
    figure.tight_layout()
    buffer = io.StringIO()
    # Text stays text (not glyph paths): a third of the size, and readable by tests and screen readers.
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def svg_page(svg: str, title: str, caption: str = "") -> str:
    """A standalone HTML page showing an SVG document inline, as the Vertex AI console renders HTML artifacts."""
    # Inline SVG in HTML takes the <svg> element only: the XML prolog and DOCTYPE belong to standalone files.
    element = svg[svg.index("<svg"):]
    paragraph = f"<p>{html.escape(caption)}</p>\n" if caption else ""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title></head>\n<body>\n<h1>{html.escape(title)}</h1>\n{paragraph}{element}</body>\n</html>\n"
    )
