"""Production server settings, overridable from the environment (Cloud Run sets PORT)."""

import os

# Vertex AI names the port in AIP_HTTP_PORT (custom container contract, webapp/vertex.py).
bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('AIP_HTTP_PORT') or os.environ.get('PORT', '8080')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Two sync workers measured steadiest on two cores, with the lowest p99 (docs/benchmarks.md, "Server settings").
worker_class = os.environ.get("WEB_WORKER_CLASS", "sync")
threads = int(os.environ.get("WEB_THREADS", "1"))
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
