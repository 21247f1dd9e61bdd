"""The fit plot: data, fitted line and residuals, as a self-contained SVG (and an HTML page around it)."""

import html
import io

import numpy as np

# More points than this are drawn as an evenly spaced sample: the SVG keeps one element per point, so
# a million-row data set would otherwise give a file of tens of megabytes and take seconds to write.
MAX_PLOT_POINTS = 2000
# Colours drawn as placeholders, then named as CSS variables that a <style> in the SVG sets for light and dark
# (a browser applies the page's colour scheme inside an SVG image too): readable on either background.
COLOURS = {"#010101": "ink", "#020202": "dot", "#030303": "line", "#040404": "residual"}
PALETTE = (
    "svg{--ink:#1d2330;--dot:#1a56db;--line:#b3261e;--residual:#5b6472}"
    "@media (prefers-color-scheme:dark){svg{--ink:#e6e9ef;--dot:#8ab4ff;--line:#ff8a80;--residual:#a3acbb}}"
)


def fit_plot_svg(years: np.ndarray, salary: np.ndarray, model, title: str = "Salary vs. experience") -> str:
    """Draw the rows, the model's line and its residuals; return SVG text with no external refs."""
    # Imported here: the pyplot-free API keeps this usable in servers and subprocesses alike.
    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    rows = years.size
    label = "data"
    if rows > MAX_PLOT_POINTS:
        keep = np.linspace(0, rows - 1, MAX_PLOT_POINTS).astype(np.intp)
        years, salary = years[keep], salary[keep]
        label = f"data ({MAX_PLOT_POINTS:,} of {rows:,} rows)"
    predicted = model.predict(years.reshape(-1, 1))
    line_x = np.linspace(0.0, max(float(years.max()), 1.0), 100)
    line_y = model.predict(line_x.reshape(-1, 1))
    buffer = io.StringIO()
    # A small page with large type, so a phone that shrinks it to 300 px still shows 9–10 px text;
    # text stays text (not glyph paths): a third of the size, and readable by tests.
    ink = "#010101"
    style = {
        "font.size": 15,
        "axes.titlesize": 15,
        "legend.fontsize": 13,
        "svg.fonttype": "none",
        **{name: ink for name in ("text.color", "axes.labelcolor", "axes.edgecolor", "xtick.color", "ytick.color")},
        # Transparent: the page's own background shows through, light or dark.
        **{name: "none" for name in ("figure.facecolor", "axes.facecolor", "savefig.facecolor", "legend.facecolor")},
    }
    with matplotlib.rc_context(style):
        figure = Figure(figsize=(6.4, 4.8))
        fit, residuals = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
        fit.scatter(years, salary, s=18, color="#020202", alpha=0.7, label=label)
        fit.plot(line_x, line_y, color="#030303", linewidth=2.5, label="fitted line")
        fit.set_ylabel("Salary")
        fit.set_title(title)
        fit.legend(loc="upper left")
        residuals.scatter(years, salary - predicted, s=12, color="#040404")
        residuals.axhline(0.0, color="#030303", linewidth=1.5)
        residuals.set_xlabel("Years of experience")
        residuals.set_ylabel("Residual")
        residuals.yaxis.set_major_locator(MaxNLocator(3))
        for axes in (fit, residuals):
            axes.yaxis.set_major_formatter(FuncFormatter(dollars))
            axes.grid(alpha=0.3)
        figure.tight_layout()
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    return themed(buffer.getvalue())


def themed(svg: str) -> str:
    """The plot's placeholder colours as CSS variables, set by a <style> for light and dark schemes."""
    for placeholder, name in COLOURS.items():
        svg = svg.replace(placeholder, f"var(--{name})")
    # Into matplotlib's own <style>: one style element, so the CSP the card serves it under admits one hash for it.
    opening = svg.index(">", svg.index("<style")) + 1
    return f"{svg[:opening]}{PALETTE}{svg[opening:]}"


def dollars(value: float, _position: int | None = None) -> str:
    """An axis tick in dollars with thousands separators: 160000 -> $160,000; -5000 -> -$5,000."""
    amount = round(value)
    return f"{'-' if amount < 0 else ''}${abs(amount):,}"


def svg_page(svg: str, title: str, caption: str = "") -> str:
    """A standalone HTML page showing an SVG document inline, as the Vertex AI console renders HTML artifacts."""
    # Inline SVG in HTML takes the <svg> element only: the XML prolog and DOCTYPE belong to standalone files.
    element = svg[svg.index("<svg") :]
    paragraph = f"<p>{html.escape(caption)}</p>\n" if caption else ""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>\n<body>\n<h1>{html.escape(title)}</h1>\n{paragraph}{element}</body>\n</html>\n"
    )


def histograms_svg(result) -> str:
    """A drift check's two histograms (salary.drift.Drift) side by side per bin, as shares, in a self-contained SVG."""
    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    from salary.histogram import EDGES

    training = np.asarray(result.training, dtype=np.float64)
    serving = np.asarray(result.serving, dtype=np.float64)
    left, width = np.asarray(EDGES[:-1]), EDGES[1] - EDGES[0]
    buffer = io.StringIO()
    with matplotlib.rc_context({"font.size": 13, "svg.fonttype": "none"}):
        figure = Figure(figsize=(6.4, 4.0))
        axes = figure.subplots()
        axes.bar(
            left + width * 0.05,
            training / training.sum(),
            width * 0.45,
            align="edge",
            color="#1a56db",
            label=f"trained on ({int(training.sum()):,})",
        )
        axes.bar(
            left + width * 0.5,
            serving / serving.sum(),
            width * 0.45,
            align="edge",
            color="#b3261e",
            label=f"asked ({int(serving.sum()):,})",
        )
        axes.set_xlabel("Years of experience")
        axes.yaxis.set_major_formatter(PercentFormatter(1.0))
        axes.set_title(f"{result.version}: JS divergence {result.divergence:.3f}")
        axes.legend(loc="upper right")
        axes.grid(alpha=0.3, axis="y")
        figure.tight_layout()
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()
