"""The prediction form: a GET, so a result has its own address (/?years=5) and Back and Reload just work."""

from dataclasses import dataclass

from flask import Blueprint, current_app, render_template, request

from salary.answers import AnswerFacts
from webapp.model import ModelUnavailable, served_model
from webapp.prediction_log import prediction_log
from webapp.validation import InvalidInput, parse_years_text

bp = Blueprint("pages", __name__)
# The small plot beside an answer, in SVG user units (it scales with the page).
PLOT_WIDTH, PLOT_HEIGHT, PLOT_PAD = 320, 160, 12


@dataclass(frozen=True)
class AnswerPlot:
    """Where the model's line, the answer's point and its range fall on the small plot, in SVG units."""

    line: tuple[float, float, float, float]
    point: tuple[float, float]
    range: tuple[float, float] | None
    span: tuple[float, float] | None


def answer_plot(years: float, salary: float, line: tuple[float, float], salary_range, facts: AnswerFacts) -> AnswerPlot:
    """Scale the line from 0 years to past the answer, the point and its range bar into the plot's box."""
    x_max = max(years, facts.years_max or 0.0, 1.0) * 1.05
    low, high = salary_range or (salary, salary)
    y_min, y_max = min(*line, low), max(*line, high)
    y_pad = (y_max - y_min) * 0.08 or 1.0
    y_min, y_max = y_min - y_pad, y_max + y_pad

    def x(value: float) -> float:
        return round(PLOT_PAD + value / x_max * (PLOT_WIDTH - 2 * PLOT_PAD), 1)

    def y(value: float) -> float:
        return round(PLOT_HEIGHT - PLOT_PAD - (value - y_min) / (y_max - y_min) * (PLOT_HEIGHT - 2 * PLOT_PAD), 1)

    span = None if facts.years_min is None or facts.years_max is None else (x(facts.years_min), x(facts.years_max))
    return AnswerPlot(
        (x(0.0), y(line[0]), x(x_max), y(line[1])),
        (x(years), y(salary)),
        None if salary_range is None else (y(low), y(high)),
        span,
    )


def render_form(typed: str = "", error: str = "", status: int = 200, **result):
    """The form page with what was typed kept, and either what is wrong with it or the answer."""
    served = served_model()
    page = render_template(
        "index.html",
        typed=typed,
        error=error,
        unavailable=None if served.loaded else served.reason,
        loaded=served.loaded,
        **result,
    )
    # A result may change when a new model is published: revalidate rather than show a stale one.
    return page, status, {"Cache-Control": "no-cache"}


@bp.get("/")
def index():
    """The form; with ?years=, the predicted salary, its range and how far to trust it, or what was wrong."""
    if "years" not in request.args:
        return render_form()
    typed = request.args.get("years", "")
    try:
        years = parse_years_text(typed)
        salaries, version = served_model().predict([years])
    except InvalidInput as exc:
        return render_form(typed, str(exc), 400)
    except ModelUnavailable:
        return render_form(typed, status=503)
    prediction_log().record("form", [years], version)
    facts: AnswerFacts = served_model().answer_facts(version)
    salary_range = facts.salary_range(salaries[0], years)
    x_end = max(years, facts.years_max or 0.0, 1.0) * 1.05
    line, line_version = served_model().predict([0.0, x_end])
    return render_form(
        typed,
        years=years,
        salary=salaries[0],
        version=version,
        salary_range=salary_range,
        facts=facts,
        # Drawn only when the line is the same model's (a refresh between the two calls would mix models).
        plot=answer_plot(years, salaries[0], tuple(line), salary_range, facts) if line_version == version else None,
        outside=facts.outside_training(years),
    )


@bp.get("/favicon.ico")
def favicon():
    """The icon browsers ask for at the root whatever the page links (the pages link favicon.svg)."""
    return current_app.send_static_file("favicon.ico")
