"""The prediction form: a GET, so a result has its own address (/?years=5) and Back and Reload just work."""

from flask import Blueprint, current_app, render_template, request

from webapp.answers import AnswerFacts
from webapp.model import ModelUnavailable, served_model
from webapp.prediction_log import prediction_log
from webapp.validation import InvalidInput, parse_years_text

bp = Blueprint("pages", __name__)


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
    return render_form(
        typed,
        years=years,
        salary=salaries[0],
        version=version,
        salary_range=facts.salary_range(salaries[0], years),
        facts=facts,
        outside=facts.outside_training(years),
    )


@bp.get("/favicon.ico")
def favicon():
    """The icon browsers ask for at the root whatever the page links (the pages link favicon.svg)."""
    return current_app.send_static_file("favicon.ico")
