"""The prediction form."""

from flask import Blueprint, render_template, request
from flask_wtf.csrf import CSRFError

from webapp.model import ModelUnavailable, served_model
from webapp.validation import InvalidInput, parse_years_text

bp = Blueprint("pages", __name__)


def render_form(years: str = "", error: str = "", status: int = 200, **result):
    """The form page with the value kept, and either an error or a result; never cached (it holds a token)."""
    served = served_model()
    page = render_template(
        "index.html", years=years, error=error, unavailable=None if served.loaded else served.reason,
        loaded=served.loaded, salary=result.get("salary"), version=result.get("version"),
    )
    return page, status, {"Cache-Control": "no-store"}


@bp.route("/", methods=["GET", "POST"])
def index():
    """Show the form; on submit, the predicted salary or what was wrong with the input."""
    if request.method == "GET":
        return render_form()
    years = request.form.get("years", "")
    try:
        salaries, version = served_model().predict([parse_years_text(years)])
    except InvalidInput as exc:
        return render_form(years, str(exc), 400)
    except ModelUnavailable:
        return render_form(years, status=503)
    return render_form(years, salary=salaries[0], version=version)


@bp.errorhandler(CSRFError)
def csrf_error(exc: CSRFError):
    """A form without a valid token (expired, or posted from elsewhere) is refused, with a fresh form."""
    message = "This form has expired or was not sent from this site. Please submit it again."
    return render_form(request.form.get("years", ""), message, 400)
