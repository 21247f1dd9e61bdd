"""Configuration checks and the security headers on every response."""

from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask

# The pages use no script, no frame, no font or resource from elsewhere: only our stylesheet,
# our images (plot, icon) and the form sending back to us. The site has no state-changing browser
# request (the form is a GET) and sets no cookie, so there is nothing for CSRF to forge: anything
# state-changing added later brings CSRF protection back with it.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "style-src 'self'",
        "img-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = [
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    # Ignored over plain HTTP; behind Cloud Run's HTTPS it keeps browsers from downgrading.
    ("Strict-Transport-Security", "max-age=31536000"),
]


class InsecureConfig(RuntimeError):
    """The app is configured in a way that must not reach production; the message says how."""


def check_config(app: Flask) -> None:
    """Refuse debug mode outside tests."""
    if app.debug and not app.testing:
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


def init_app(app: Flask) -> None:
    """Add the headers to every response; call check_config first."""
    app.wsgi_app = SecurityHeaders(app.wsgi_app)
