"""Configuration checks and the security headers on every response."""

from flask import Flask, Response

# The pages use no script, no frame, no font or resource from elsewhere: only our stylesheet,
# our images (plot, icon) and the form sending back to us. The site has no state-changing browser
# request (the form is a GET) and sets no cookie, so there is nothing for CSRF to forge: anything
# state-changing added later brings CSRF protection back with it.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'none'",
    "style-src 'self'",
    "img-src 'self'",
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
])
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    # Ignored over plain HTTP; behind Cloud Run's HTTPS it keeps browsers from downgrading.
    "Strict-Transport-Security": "max-age=31536000",
}


class InsecureConfig(RuntimeError):
    """The app is configured in a way that must not reach production; the message says how."""


def check_config(app: Flask) -> None:
    """Refuse debug mode outside tests."""
    if app.debug and not app.testing:
        raise InsecureConfig("debug mode is on (FLASK_DEBUG): it must never be on in production")


def add_security_headers(response: Response) -> Response:
    """Every response gets the headers; a route may set a stricter CSP of its own."""
    headers = response.headers
    if "Content-Security-Policy" not in headers:
        headers.add("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    # No route sets these, so adding them (not set(), which scans for each) keeps them single.
    headers.extend(SECURITY_HEADERS)
    return response


def init_app(app: Flask) -> None:
    """Add the headers to every response; call check_config first."""
    app.after_request(add_security_headers)
