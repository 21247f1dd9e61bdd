"""Smoke check of a deployed web app before it takes traffic: /ready, a prediction that matches /openapi.json, its model version.

    python3 scripts/smoke.py URL [--expect-version V]
    python3 scripts/smoke.py --service-json FILE --tag TAG [--revision NAME]   (the URL of a Cloud Run tag)

Standard library only, so it runs in the Cloud SDK builder image. SMOKE_ID_TOKEN, when set, is sent as a
bearer token (a private Cloud Run service; its audience is the service URL); when the tag URL answers 401 to it,
the check is retried once with SMOKE_TAG_ID_TOKEN (audience: the tag URL), since Google documents the service
URL as the audience but the requests go to the tag's URL. Requests that get no answer, 429, 502 or 504 are
retried. Prints one line per check; exit 0 when all pass, 3 when the app is up but nothing is published yet
(the first build), 1 otherwise.
"""

import argparse
import json
import math
import os
import sys
import time
import urllib.error
import urllib.request

TIMEOUT_SECONDS = 30
# Pauses before the 2nd and 3rd try of a request that got no answer or a transient status (Cloud Run answers
# 429 while instances start and 502/504 from its front end).
RETRY_PAUSES = (2.0, 5.0)
TRANSIENT = {429, 502, 504}
# webapp/model.py's public reason while the store holds no model: the first build, before its pipeline run publishes.
UNPUBLISHED = "no model has been published yet"
NOTHING_PUBLISHED = 3


class SmokeFailure(Exception):
    """A check failed; the message says which and why."""


class NothingPublished(SmokeFailure):
    """The app answers but serves no model because the store holds none yet."""


def fetch(url: str, body=None, token: str = "") -> tuple:
    """(status, parsed JSON body or None) of one request, retried after RETRY_PAUSES while it gets no answer or a transient status."""
    for pause in RETRY_PAUSES:
        try:
            status, answer = fetch_once(url, body, token)
        except SmokeFailure as exc:
            print(f"retrying in {pause:g} s: {exc}", file=sys.stderr)
        else:
            if status not in TRANSIENT:
                return status, answer
            print(f"retrying in {pause:g} s: {url} answered {status}", file=sys.stderr)
        time.sleep(pause)
    return fetch_once(url, body, token)


def fetch_once(url: str, body=None, token: str = "") -> tuple:
    """(status, parsed JSON body or None) of one request."""
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, headers=headers, method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except (OSError, ValueError) as exc:
        raise SmokeFailure(f"{url}: no answer ({exc})") from None
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, None


def schema_errors(value, schema: dict, document: dict, where: str = "$") -> list:
    """What in `value` breaks `schema` (the subset of JSON Schema /openapi.json uses); empty when it conforms."""
    if "$ref" in schema:
        target = document
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target[part]
        return schema_errors(value, target, document, where)
    if "oneOf" in schema:
        matching = [option for option in schema["oneOf"] if not schema_errors(value, option, document, where)]
        return [] if len(matching) == 1 else [f"{where} matches {len(matching)} of the oneOf schemas, not exactly one"]
    kind = schema.get("type")
    checks = {
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v),
    }
    if kind in checks and not checks[kind](value):
        return [f"{where} is not a finite {kind}" if kind == "number" else f"{where} is not a {kind}"]
    errors = []
    if kind == "object":
        errors += [f"{where}.{name} is missing" for name in schema.get("required", []) if name not in value]
        properties = schema.get("properties", {})
        if schema.get("additionalProperties") is False:
            errors += [f"{where}.{name} is not allowed" for name in value if name not in properties]
        for name, sub in properties.items():
            if name in value:
                errors += schema_errors(value[name], sub, document, f"{where}.{name}")
    if kind == "array":
        for index, item in enumerate(value):
            errors += schema_errors(item, schema.get("items", {}), document, f"{where}[{index}]")
    return errors


def check(base: str, token: str = "", expect_version: str = "", tag_token: str = "") -> list:
    """Run every check against the app at `base`; the lines to print. SmokeFailure on the first failure."""
    base = base.rstrip("/")
    lines = []
    # /ready, not /readyz: Cloud Run reserves paths ending in z (https://cloud.google.com/run/docs/known-issues, "Reserved URL paths").
    status, ready = fetch(f"{base}/ready", token=token)
    if status == 401 and tag_token:
        lines.append("the token for the service URL was refused (401): retrying with the tag URL as audience")
        token = tag_token
        status, ready = fetch(f"{base}/ready", token=token)
    if status == 503 and isinstance(ready, dict) and ready.get("reason") == UNPUBLISHED:
        raise NothingPublished(f"/ready answered 503: {UNPUBLISHED}")
    if status != 200 or not isinstance(ready, dict) or not ready.get("model_version"):
        raise SmokeFailure(f"/ready answered {status} {ready}: no verified model is served")
    version = ready["model_version"]
    if expect_version and version != expect_version:
        raise SmokeFailure(f"/ready serves model version {version}, expected {expect_version}")
    lines.append(f"ok /ready: ready, model version {version}")
    status, spec = fetch(f"{base}/openapi.json", token=token)
    try:
        operation = spec["paths"]["/api/predict"]["post"]
        examples = operation["requestBody"]["content"]["application/json"]["examples"]
        response_schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    except (KeyError, TypeError):
        raise SmokeFailure(
            f"/openapi.json answered {status} without POST /api/predict's examples and 200 schema"
        ) from None
    lines.append("ok /openapi.json: describes POST /api/predict")
    for name, example in sorted(examples.items()):
        status, answer = fetch(f"{base}/api/predict", body=example["value"], token=token)
        if status != 200:
            raise SmokeFailure(f"POST /api/predict ({name} example) answered {status}: {answer}")
        errors = schema_errors(answer, response_schema, spec)
        if errors:
            raise SmokeFailure(f"POST /api/predict ({name} example) does not match /openapi.json: {'; '.join(errors)}")
        if answer["model_version"] != version:
            raise SmokeFailure(
                f"POST /api/predict ({name} example) names model version {answer['model_version']}, /ready {version}"
            )
        lines.append(f"ok POST /api/predict ({name} example): matches /openapi.json, model version {version}")
    return lines


def tag_url(service: dict, tag: str, revision: str = "") -> str:
    """The URL of a Cloud Run traffic tag in `gcloud run services describe --format=json` output."""
    for target in (service.get("status") or {}).get("traffic") or []:
        if target.get("tag") == tag:
            if revision and target.get("revisionName") != revision:
                raise SmokeFailure(f"tag {tag} points at revision {target.get('revisionName')}, not {revision}")
            if not target.get("url"):
                raise SmokeFailure(f"tag {tag} has no URL yet")
            return target["url"]
    raise SmokeFailure(f"the service has no traffic tag {tag}")


def main(argv=None) -> int:
    """Exit 0 when every check passes, 1 with the failed check on stderr, 2 on bad usage, 3 when nothing is published yet."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", nargs="?", help="base URL of the web app")
    parser.add_argument(
        "--service-json", help="`gcloud run services describe --format=json` output to find --tag's URL in"
    )
    parser.add_argument("--tag", help="the Cloud Run traffic tag to check")
    parser.add_argument("--revision", default="", help="fail unless --tag points at this revision")
    parser.add_argument("--expect-version", default="", help="fail unless this model version is served")
    args = parser.parse_args(argv)
    if bool(args.url) == bool(args.service_json) or bool(args.service_json) != bool(args.tag):
        parser.error("give either URL, or --service-json with --tag")
    try:
        url = args.url
        if args.service_json:
            try:
                with open(args.service_json) as handle:
                    service = json.load(handle)
            except (OSError, ValueError) as exc:
                raise SmokeFailure(f"{args.service_json}: not a service description ({exc})") from None
            url = tag_url(service, args.tag, args.revision)
        print(f"smoke check of {url}")
        for line in check(
            url, os.environ.get("SMOKE_ID_TOKEN", ""), args.expect_version, os.environ.get("SMOKE_TAG_ID_TOKEN", "")
        ):
            print(line)
    except NothingPublished as exc:
        print(f"smoke check: {exc}; the app itself answers", file=sys.stderr)
        return NOTHING_PUBLISHED
    except SmokeFailure as exc:
        print(f"smoke check failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
