"""The secret key, CSRF protection of the form, and the security headers on every response."""

import secrets
from collections.abc import Callable, Iterable
from typing import Any

from flask import Blueprint, Flask, Request
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from flask_wtf.csrf import CSRFProtect

MIN_SECRET_KEY_LENGTH = 16
# The pages use no script, no frame, no font or resource from elsewhere: only our stylesheet,
# our images (plot, icon) and the form posting back to us.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'none'",
    "style-src 'self'",
    "img-src 'self'",
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
])
SECURITY_HEADERS = [
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    # same-origin, not no-referrer: Flask-WTF's HTTPS check needs our own Referer on form posts.
    ("Referrer-Policy", "same-origin"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    # Ignored over plain HTTP; behind Cloud Run's HTTPS it keeps browsers from downgrading.
    ("Strict-Transport-Security", "max-age=31536000"),
]
GENERATE_HINT = "python -c 'import secrets; print(secrets.token_hex(32))'"


class InsecureConfig(RuntimeError):
    """The app is configured in a way that must not reach production; the message says how."""


def check_config(app: Flask) -> None:
    """Refuse a missing or short SECRET_KEY and debug mode, except in tests (which get a random key)."""
    key = app.config.get("SECRET_KEY")
    if app.testing:
        app.config["SECRET_KEY"] = key or secrets.token_hex(32)
        return
    if not key:
        raise InsecureConfig(
            "SECRET_KEY is not set: the server signs the form's CSRF tokens with it. "
            f"Set it in the environment to a random value, e.g. SECRET_KEY=$({GENERATE_HINT})"
        )
    if len(key) < MIN_SECRET_KEY_LENGTH:
        raise InsecureConfig(
            f"SECRET_KEY is too short ({len(key)} characters): use at least {MIN_SECRET_KEY_LENGTH} "
            f"random characters, e.g. $({GENERATE_HINT})"
        )
    if app.debug:
        raise InsecureConfig("debug mode is on (FLASK_DEBUG): it must never be on in production")


class SecurityHeaders:
    """WSGI middleware: every response gets the headers; a route may set a stricter CSP of its own.

    Added to the WSGI header list as the response starts: an after_request hook going through
    werkzeug's Headers cost several times more per request (docs/benchmarks.md).
    """

    def __init__(self, wsgi_app: Callable):
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        def start(status: str, headers: list, exc_info: Any = None) -> Callable:
            if not any(name.lower() == "content-security-policy" for name, _ in headers):
                headers.append(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
            # No route sets these, so appending them keeps them single.
            headers.extend(SECURITY_HEADERS)
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, start)


class SessionlessApiInterface(SecureCookieSessionInterface):
    """Cookie sessions for the pages only: the JSON API reads no session cookie and sets none."""

    def __init__(self, api_prefixes: tuple[str, ...]):
        self.api_prefixes = api_prefixes

    def open_session(self, app: Flask, request: Request) -> SessionMixin | None:
        # None makes Flask use its null session, which refuses writes and is never saved. Opening a
        # real one costs a signing serializer and a cookie parse on every API call (docs/benchmarks.md).
        if request.path.startswith(self.api_prefixes):
            return None
        return super().open_session(app, request)


def init_app(app: Flask, csrf_exempt: tuple[Blueprint, ...] = ()) -> None:
    """Protect forms against CSRF and add the headers; call check_config first."""
    csrf = CSRFProtect(app)
    # A JSON-only API cannot be posted cross-site by a plain form, and it acts on no session.
    for blueprint in csrf_exempt:
        csrf.exempt(blueprint)
    app.session_interface = SessionlessApiInterface(tuple(f"{blueprint.url_prefix}/" for blueprint in csrf_exempt))
    app.wsgi_app = SecurityHeaders(app.wsgi_app)
