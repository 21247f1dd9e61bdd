"""A Kubeflow pipelines template registry on loopback (a real http.server), and the outbound calls routed to it.

It answers as Artifact Registry's KFP repositories do for what this project sends: an upload (multipart POST to
the repository URL, answered `package/sha256:version`), a download by tag or version (GET
REPOSITORY/PACKAGE/REF) and a tag lookup (GET https://artifactregistry.googleapis.com/v1/…/packages/P/tags/T).
Every request is recorded with its method, path, headers (names in lower case) and body.
"""

import contextlib
import email.parser
import email.policy
import hashlib
import json
import re
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest import mock

import requests
import yaml

GOOGLE_HOSTS = re.compile(r"https://([a-z0-9-]+-kfp\.pkg\.dev|artifactregistry\.googleapis\.com)/")


def multipart(content_type: str, body: bytes) -> dict[str, tuple[str, bytes]]:
    """The parts of a multipart/form-data body: field name -> (file name or empty, bytes)."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    return {
        part.get_param("name", header="content-disposition"): (part.get_filename() or "", part.get_payload(decode=True))
        for part in message.iter_parts()
    }


class FakeRegistry:
    """One KFP repository, /PROJECT/REPOSITORY on 127.0.0.1, with the packages uploaded to it."""

    def __init__(self, project: str = "my-proj", repository: str = "salary-pipelines", region: str = "europe-west1"):
        self.project, self.repository, self.region = project, repository, region
        self.requests: list[dict] = []
        self.routed: list[str] = []
        self.versions: dict[tuple[str, str], bytes] = {}
        self.tags: dict[tuple[str, str], str] = {}
        self.status = 200

    def add(self, content: bytes, tags=()) -> tuple[str, str]:
        """Store a spec as a version of the package its pipeline names; (package, version)."""
        package = yaml.safe_load(content)["pipelineInfo"]["name"]
        version = "sha256:" + hashlib.sha256(content).hexdigest()
        self.versions[package, version] = content
        self.tags.update({(package, tag): version for tag in tags})
        return package, version

    def answer(self, method: str, path: str, headers: dict, body: bytes) -> tuple[int, str, bytes]:
        self.requests.append({"method": method, "path": path, "headers": headers, "body": body})
        if self.status != 200:
            return self.status, "text/plain", b"denied"
        base = f"/{self.project}/{self.repository}"
        if method == "POST" and path == base:
            parts = multipart(headers["content-type"], body)
            tags = parts["tags"][1].decode().split(",") if "tags" in parts else []
            package, version = self.add(parts["content"][1], tags)
            return 200, "text/plain", f"{package}/{version}".encode()
        if method == "GET" and path.startswith(base + "/"):
            package, _, reference = path[len(base) + 1 :].partition("/")
            version = reference if reference.startswith("sha256:") else self.tags.get((package, reference), "")
            if (package, version) in self.versions:
                return 200, "application/x-yaml", self.versions[package, version]
        api = f"/v1/projects/{self.project}/locations/{self.region}/repositories/{self.repository}/packages/"
        tag = re.fullmatch(re.escape(api) + r"([^/]+)/tags/([^/]+)", path)
        if method == "GET" and tag and tuple(tag.groups()) in self.tags:
            name = f"{api[4:]}{tag[1]}"
            document = {"name": f"{name}/tags/{tag[2]}", "version": f"{name}/versions/{self.tags[tuple(tag.groups())]}"}
            return 200, "application/json", json.dumps(document).encode()
        return 404, "text/plain", b"not found"


@contextlib.contextmanager
def running(registry: FakeRegistry):
    """Serve the registry on 127.0.0.1; yields its base URL, http://127.0.0.1:PORT."""

    class Handler(BaseHTTPRequestHandler):
        def handle_one(self, method):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, kind, payload = registry.answer(
                method, self.path, {key.lower(): value for key, value in self.headers.items()}, body
            )
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self):
            self.handle_one("GET")

        def do_POST(self):
            self.handle_one("POST")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def routed_to(registry: FakeRegistry, base: str):
    """Send the HTTPS calls for Artifact Registry (requests, and urllib for aiplatform's download) to the loopback
    server instead, recording each URL as it was meant; any other outbound call fails the test."""

    def reroute(url: str) -> str:
        if not GOOGLE_HOSTS.match(url):
            raise AssertionError(f"unexpected outbound request to {url}")
        registry.routed.append(url)
        return GOOGLE_HOSTS.sub(base + "/", url)

    real_send, real_urlopen = requests.adapters.HTTPAdapter.send, urllib.request.urlopen

    def send(self, request, **kwargs):
        meant = request.url
        request.url = reroute(meant)
        response = real_send(self, request, **kwargs)
        # The caller sees the URL it asked for, as in its error messages.
        response.url = request.url = meant
        return response

    def urlopen(target, *args, **kwargs):
        if isinstance(target, urllib.request.Request):
            target.full_url = reroute(target.full_url)
        else:
            target = reroute(target)
        return real_urlopen(target, *args, **kwargs)

    with (
        mock.patch.object(requests.adapters.HTTPAdapter, "send", send),
        mock.patch.object(urllib.request, "urlopen", urlopen),
    ):
        yield
