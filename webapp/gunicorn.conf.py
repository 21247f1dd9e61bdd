"""Production server settings, overridable from the environment (Cloud Run sets PORT)."""

import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8080')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Two sync workers measured steadiest on two cores, with the lowest p99 (docs/benchmarks.md, "Server settings").
worker_class = os.environ.get("WEB_WORKER_CLASS", "sync")
threads = int(os.environ.get("WEB_THREADS", "1"))
accesslog = "-"
