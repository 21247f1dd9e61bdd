"""scripts/smoke.py: the checks against the production server on loopback, and its pieces on exact inputs."""

import contextlib
import http.server
import threading
import urllib.error
import urllib.request

import pytest

from scripts import smoke
from webapp.openapi import openapi_document

DOCUMENT = openapi_document(max_batch=100, max_body_bytes=1000)
RESPONSE = DOCUMENT["paths"]["/api/predict"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]


@pytest.mark.parametrize(
    "answer, errors",
    [
        ({"salary": 1.5, "model_version": "v"}, []),
        ({"predictions": [1.0, 2], "model_version": "v"}, []),
        ({"salary": "1.5", "model_version": "v"}, ["$ matches 0 of the oneOf schemas, not exactly one"]),
        ({"salary": 1.5}, ["$ matches 0 of the oneOf schemas, not exactly one"]),
        ([], ["$ matches 0 of the oneOf schemas, not exactly one"]),
    ],
)
def test_responses_are_checked_against_the_api_description(answer, errors):
    assert smoke.schema_errors(answer, RESPONSE, DOCUMENT) == errors


def test_schema_errors_name_what_is_wrong():
    single = DOCUMENT["components"]["schemas"]["SingleResponse"]
    assert smoke.schema_errors({"salary": float("nan"), "model_version": 3}, single, DOCUMENT) == [
        "$.salary is not a finite number",
        "$.model_version is not a string",
    ]
    assert smoke.schema_errors(
        {"years_experience": 1, "x": 2}, {"$ref": "#/components/schemas/SingleRequest"}, DOCUMENT
    ) == [
        "$.x is not allowed",
    ]


def test_the_tag_url_is_found_and_must_name_the_revision():
    service = {
        "status": {
            "traffic": [
                {"revisionName": "r1", "percent": 100},
                {"revisionName": "r2", "tag": "candidate", "url": "https://x"},
            ]
        }
    }
    assert smoke.tag_url(service, "candidate") == "https://x"
    assert smoke.tag_url(service, "candidate", "r2") == "https://x"
    with pytest.raises(smoke.SmokeFailure, match="tag candidate points at revision r2, not r3"):
        smoke.tag_url(service, "candidate", "r3")
    with pytest.raises(smoke.SmokeFailure, match="no traffic tag other"):
        smoke.tag_url(service, "other")


def test_bad_usage_exits_2(capsys):
    with pytest.raises(SystemExit) as caught:
        smoke.main(["--tag", "candidate"])
    assert caught.value.code == 2 and "give either URL, or --service-json with --tag" in capsys.readouterr().err


@pytest.fixture
def no_pauses(monkeypatch):
    """Retries without waiting (the pauses are for Cloud Run's start-up, not for a loopback server)."""
    monkeypatch.setattr(smoke, "RETRY_PAUSES", (0, 0))


@contextlib.contextmanager
def front_end(upstream: str, audience_token: str, transient: int = 0):
    """A stand-in for Cloud Run's front end on loopback: 401 unless the bearer token is `audience_token`,
    502 to the first `transient` requests, otherwise the request forwarded to `upstream`; yields (URL, seen)."""
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _answer(self):
            seen.append((self.command, self.path, self.headers.get("Authorization", "")))
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) or None
            if len(seen) <= transient:
                status, raw = 502, b"bad gateway"
            elif self.headers.get("Authorization") != f"Bearer {audience_token}":
                status, raw = 401, b"unauthorized"
            else:
                request = urllib.request.Request(
                    upstream + self.path,
                    data=body,
                    method=self.command,
                    headers={"Content-Type": "application/json"} if body else {},
                )
                try:
                    with urllib.request.urlopen(request, timeout=10) as response:
                        status, raw = response.status, response.read()
                except urllib.error.HTTPError as exc:
                    status, raw = exc.code, exc.read()
            self.send_response(status)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = _answer

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
def test_a_token_for_the_tag_url_is_tried_once_after_a_401(store_uri, published, monkeypatch, capsys, no_pauses):
    from tests.support.server import gunicorn

    version = published["version"]
    monkeypatch.setenv("SMOKE_ID_TOKEN", "service-audience")
    monkeypatch.setenv("SMOKE_TAG_ID_TOKEN", "tag-audience")
    with (
        gunicorn({"MODEL_URI": store_uri}) as upstream,
        front_end(upstream, "tag-audience", transient=1) as (base, seen),
    ):
        assert smoke.main([base, "--expect-version", version]) == 0
        out = capsys.readouterr().out.splitlines()
        assert out[1] == "the token for the service URL was refused (401): retrying with the tag URL as audience"
        assert out[2] == f"ok /ready: ready, model version {version}"
        # The 502 was retried with the same token, the 401 once with the tag's, and every later request used it.
        assert [entry[2] for entry in seen[:3]] == [
            "Bearer service-audience",
            "Bearer service-audience",
            "Bearer tag-audience",
        ]
        assert {entry[2] for entry in seen[3:]} == {"Bearer tag-audience"} and seen[0][1] == "/ready"
    with gunicorn({"MODEL_URI": store_uri}) as upstream, front_end(upstream, "someone-else") as (base, seen):
        assert smoke.main([base]) == 1
        assert capsys.readouterr().err == "smoke check failed: /ready answered 401 None: no verified model is served\n"
        assert len(seen) == 2


@pytest.mark.slow
def test_against_the_production_server(store_uri, published, tmp_path, capsys, no_pauses):
    from tests.support.server import gunicorn

    version = published["version"]
    with gunicorn({"MODEL_URI": store_uri}) as base:
        assert smoke.main([base, "--expect-version", version]) == 0
        out = capsys.readouterr().out.splitlines()
        assert out == [
            f"smoke check of {base}",
            f"ok /ready: ready, model version {version}",
            "ok /openapi.json: describes POST /api/predict",
            f"ok POST /api/predict (batch example): matches /openapi.json, model version {version}",
            f"ok POST /api/predict (single example): matches /openapi.json, model version {version}",
        ]
        assert smoke.main([base, "--expect-version", "20990101T000000Z-00000000"]) == 1
        assert capsys.readouterr().err == (
            f"smoke check failed: /ready serves model version {version}, expected 20990101T000000Z-00000000\n"
        )
        # The probe paths Cloud Run serves answer as the ones that stay for Vertex AI and local use.
        for short, long in (("/health", "/healthz"), ("/ready", "/readyz")):
            answers = [smoke.fetch_once(base + path) for path in (short, long)]
            assert answers[0] == answers[1] and answers[0][0] == 200
    # An empty store (the first build, before its pipeline run publishes): exit 3, not a failure of the app.
    with gunicorn({"MODEL_URI": str(tmp_path / "empty")}) as base:
        assert smoke.main([base]) == smoke.NOTHING_PUBLISHED == 3
        assert (
            capsys.readouterr().err
            == "smoke check: /ready answered 503: no model has been published yet; the app itself answers\n"
        )
    assert smoke.main([base]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3 and err[0].startswith("retrying in 0 s: ") and "no answer" in err[-1]
