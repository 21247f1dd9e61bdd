"""Production server settings, overridable from the environment (Cloud Run sets PORT)."""

import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8080')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
accesslog = "-"
