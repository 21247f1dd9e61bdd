"""Production server settings, from the web app's environment variables (Cloud Run sets PORT)."""

import sys

from webapp.config import ConfigError, read_environment

try:
    settings = read_environment()
except ConfigError as exc:
    # Before any worker starts: one line, no traceback.
    sys.exit(f"error: {exc}")

bind = f"{settings['HOST']}:{settings['PORT']}"
workers = settings["WEB_CONCURRENCY"]
# Two sync workers measured steadiest on two cores, with the lowest p99 (docs/benchmarks.md, "Server settings").
worker_class = settings["WEB_WORKER_CLASS"]
threads = settings["WEB_THREADS"]
# The app logs each request as one JSON line (webapp/request_log.py); gunicorn's own access
# log would repeat it as text, with query strings and user agents.
accesslog = None
logconfig_dict = {
    "root": {"level": "INFO", "handlers": ["text"]},
    "loggers": {"webapp.requests": {"level": "INFO", "handlers": ["json_lines"], "propagate": False}},
    "handlers": {
        "text": {"class": "logging.StreamHandler", "formatter": "text", "stream": "ext://sys.stderr"},
        "json_lines": {"class": "logging.StreamHandler", "formatter": "bare", "stream": "ext://sys.stdout"},
    },
    "formatters": {
        "text": {"format": "%(asctime)s [%(process)d] [%(levelname)s] %(name)s: %(message)s"},
        "bare": {"format": "%(message)s"},
    },
}
