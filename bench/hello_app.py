"""The ceiling of the stack: a Flask hello-world POST route, served by the same gunicorn settings."""

from flask import Flask


def create_app() -> Flask:
    """A Flask app whose one POST route answers a fixed text."""
    app = Flask(__name__)

    @app.post("/hello")
    def hello():
        return "Hello, World!"

    return app
