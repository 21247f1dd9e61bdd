"""Tests of the web app: routes, the served model, the production server, a real browser."""
