"""HTTP errors as RFC 9457 problem details (application/problem+json), or a page for browsers."""

from http import HTTPStatus

from flask import Flask, Response, current_app, json, render_template, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

PROBLEM_JSON = "application/problem+json"
# The pages' own words for the errors a visitor meets, in place of the framework's stock sentences.
PAGE_WORDS = {
    404: (
        "Page not found",
        "There is no page at this address. It may have been mistyped, or the link that led here is out of date.",
    ),
    405: ("Not allowed here", "This address cannot be used that way. Start again from the salary predictor."),
    500: ("Something went wrong", "The salary predictor failed to answer. Please try again in a moment."),
}


def problem(status: int, detail: str, headers: tuple = ()) -> Response:
    """A problem+json response; its type is about:blank, so its title is the status phrase."""
    body = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status, "detail": detail}
    return current_app.response_class(json.dumps(body) + "\n", status=status, mimetype=PROBLEM_JSON, headers=headers)


def http_error(exc: HTTPException):
    """Any HTTP error: problem+json, except a page for a browser outside the JSON API."""
    status = exc.code or 500
    if isinstance(exc, RequestEntityTooLarge):
        detail = f"request body is larger than the limit of {current_app.config['MAX_CONTENT_LENGTH']} bytes"
    else:
        detail = exc.description or HTTPStatus(status).phrase
    # Keep headers such as Allow (405); the body's type is ours to choose.
    headers = tuple((name, value) for name, value in exc.get_headers() if name.lower() != "content-type")
    if not request.path.startswith("/api/") and _prefers_html():
        title = HTTPStatus(status).phrase
        if exc.description == type(exc).description and status in PAGE_WORDS:
            title, detail = PAGE_WORDS[status]
        page = render_template("error.html", status=status, title=title, detail=detail)
        return page, status, headers
    return problem(status, detail, headers)


def _prefers_html() -> bool:
    """The client ranks text/html above JSON (browsers do; curl and API clients do not)."""
    accept = request.accept_mimetypes
    return accept.best_match([PROBLEM_JSON, "application/json", "text/html"]) == "text/html"


def init_app(app: Flask) -> None:
    """Answer every HTTP error, including unhandled exceptions (500), as a problem."""
    app.register_error_handler(HTTPException, http_error)
