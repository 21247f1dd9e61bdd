"""The prediction form."""

from flask import Blueprint, render_template, request

from webapp.model import ModelUnavailable, served_model
from webapp.validation import InvalidInput, parse_years_text

bp = Blueprint("pages", __name__)


@bp.route("/", methods=["GET", "POST"])
def index():
    """Show the form; on submit, the predicted salary or what was wrong with the input."""
    served = served_model()
    context = {"years": "", "error": None, "salary": None, "version": None, "unavailable": None}
    if served.loaded is None:
        context["unavailable"] = served.reason
    if request.method == "POST":
        context["years"] = request.form.get("years", "")
        try:
            salaries, context["version"] = served.predict([parse_years_text(context["years"])])
            context["salary"] = salaries[0]
        except InvalidInput as exc:
            return render_template("index.html", **{**context, "error": str(exc)}), 400
        except ModelUnavailable:
            return render_template("index.html", **context), 503
    return render_template("index.html", **context)
