"""Production server settings, overridable from the environment (Cloud Run sets PORT)."""

import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8080')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Two sync workers measured steadiest on two cores, with the lowest p99 (docs/benchmarks.md, "Server settings").
worker_class = os.environ.get("WEB_WORKER_CLASS", "sync")
threads = int(os.environ.get("WEB_THREADS", "1"))
# The app writes each request as one JSON line to stdout (webapp/request_log.py); gunicorn's own
# access log would repeat it as text, with query strings and user agents.
accesslog = None
logconfig_dict = {
    "root": {"level": "INFO", "handlers": ["text"]},
    # Replaces gunicorn's own loggers, whose handlers this dict does not define: they log through root.
    "loggers": {},
    "handlers": {"text": {"class": "logging.StreamHandler", "formatter": "text", "stream": "ext://sys.stderr"}},
    "formatters": {"text": {"format": "%(asctime)s [%(process)d] [%(levelname)s] %(name)s: %(message)s"}},
}
