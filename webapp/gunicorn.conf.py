"""Production server settings, from the web app's environment variables (Cloud Run sets PORT)."""

import sys

from webapp.config import ConfigError, read_environment
from webapp.server_hooks import body_deadline, post_request, refuse_busy_port, when_ready  # noqa: F401  (gunicorn reads hooks by name)

try:
    settings = read_environment()
except ConfigError as exc:
    # Before any worker starts: one line, no traceback.
    sys.exit(f"error: {exc}")

# Vertex AI names the port in AIP_HTTP_PORT (custom container contract, webapp/vertex.py).
port = int(settings["AIP_HTTP_PORT"] or settings["PORT"])
# Only when gunicorn is about to bind: not for --check-config, nor a test reading these settings.
if "gunicorn" in sys.argv[0] and "--check-config" not in sys.argv:
    refuse_busy_port(settings["HOST"], port)
bind = f"{settings['HOST']}:{port}"
workers = settings["WEB_CONCURRENCY"]
# gevent: a connection costs a greenlet, not a worker, so slow clients cannot stall the server; sync and
# gthread workers stopped answering /healthz under 50 slow connections (docs/performance.md, "Serving under slow clients").
worker_class = settings["WEB_WORKER_CLASS"]
threads = settings["WEB_THREADS"]
# Connections one worker holds at once; past it new ones wait in the listen backlog.
worker_connections = 1000
# With gevent, a request's line and headers must arrive within keepalive seconds (gevent's timeout
# around each request's parse), which is also how long an idle kept-alive connection stays open.
keepalive = 5
# The whole body, however it trickles in, within this many seconds (webapp/server_hooks.py); then 408.
BODY_READ_SECONDS = 10.0
pre_request = body_deadline(BODY_READ_SECONDS)
# On SIGTERM, workers get this long to finish in-flight requests: within the 10 s Cloud Run allows
# before SIGKILL (https://cloud.google.com/run/docs/container-contract#instance-shutdown).
graceful_timeout = 5
# No control socket: gunicorn 27's default is one path per user ($HOME/.gunicorn), shared by every
# server on the host; nothing here uses gunicornc.
control_socket_disable = True
# The app writes each request as one JSON line to stdout (webapp/request_log.py); gunicorn's own
# access log would repeat it as text, with query strings and user agents.
accesslog = None
logconfig_dict = {
    "root": {"level": "INFO", "handlers": ["text"]},
    "loggers": {"gunicorn.error": {"level": "INFO", "handlers": ["text"], "propagate": False}},
    "filters": {"no_addresses": {"()": "webapp.server_hooks.NoClientAddresses"}},
    "handlers": {
        "text": {
            "class": "logging.StreamHandler",
            "formatter": "text",
            "stream": "ext://sys.stderr",
            "filters": ["no_addresses"],
        },
    },
    "formatters": {"text": {"format": "%(asctime)s [%(process)d] [%(levelname)s] %(name)s: %(message)s"}},
}
