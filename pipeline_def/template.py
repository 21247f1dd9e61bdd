"""Pipeline templates in Artifact Registry: a compiled spec uploaded with kfp's registry client, and run by URI.

A Kubeflow pipelines (KFP-format) repository is https://REGION-kfp.pkg.dev/PROJECT/REPOSITORY; each upload is a
version (`sha256:` of its bytes) of the package named after the pipeline, with tags that may move; Vertex AI runs
https://REGION-kfp.pkg.dev/PROJECT/REPOSITORY/PACKAGE/(TAG|sha256:VERSION)
(https://cloud.google.com/vertex-ai/docs/pipelines/create-pipeline-template).
"""

import re
from typing import Any

CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
_REPOSITORY = (
    r"https://(?P<region>[a-z]+-[a-z]+[0-9]+)-kfp\.pkg\.dev"
    r"/(?P<project>[a-z][a-z0-9-]{4,28}[a-z0-9])/(?P<repository>[a-z][a-z0-9-]{0,62})"
)
REPOSITORY = re.compile(_REPOSITORY)
VERSION = re.compile(r"sha256:[0-9a-f]{64}")
# Docker-like tags: release tags such as v1.2.3 and latest; `sha256:` names a version, never a tag.
TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
TEMPLATE = re.compile(_REPOSITORY + r"/(?P<package>[a-z][a-z0-9-]{0,127})/(?P<reference>sha256:[0-9a-f]{64}|[^/]+)")


def check_repository(text: str) -> str:
    """A KFP repository URL, https://REGION-kfp.pkg.dev/PROJECT/REPOSITORY (the scheme may be left out)."""
    url = text.rstrip("/")
    url = url if url.startswith("https://") else f"https://{url}"
    if not REPOSITORY.fullmatch(url):
        raise ValueError(
            f"{text!r} is not a Kubeflow pipelines repository, https://REGION-kfp.pkg.dev/PROJECT/REPOSITORY"
        )
    return url


def check_tags(text: str) -> list[str]:
    """Comma-separated template tags such as v1.2.3,latest."""
    tags = [tag.strip() for tag in text.split(",") if tag.strip()]
    for tag in tags:
        if not TAG.fullmatch(tag) or tag.startswith("sha256"):
            raise ValueError(f"{tag!r} is not a tag (letters, digits, '.', '_', '-', at most 128, not sha256…)")
    if len(set(tags)) != len(tags):
        raise ValueError(f"{text!r} names a tag twice")
    return tags


def check_template(text: str) -> str:
    """A template URI: a KFP repository, the pipeline's package, and a tag or a sha256: version."""
    match = TEMPLATE.fullmatch(text)
    reference = match and match["reference"]
    if not match or not (VERSION.fullmatch(reference) or (TAG.fullmatch(reference) and "sha256" not in reference)):
        raise ValueError(
            f"{text!r} is not a template URI, https://REGION-kfp.pkg.dev/PROJECT/REPOSITORY/PIPELINE/(TAG|sha256:VERSION)"
        )
    return text


def parts(template: str) -> dict[str, str]:
    """region, project, repository, package and reference (tag or version) of a checked template URI."""
    return TEMPLATE.fullmatch(template).groupdict()


def repository_url(template: str) -> str:
    """The repository a template URI is in."""
    return template[: template.rindex("/", 0, template.rindex("/"))]


def default_credentials():
    """Application default credentials scoped for Artifact Registry and Vertex AI."""
    import google.auth

    credentials, _ = google.auth.default(scopes=[CLOUD_PLATFORM])
    return credentials


def upload(spec_path: str, repository: str, tags: list[str], auth: Any) -> tuple[str, str]:
    """Upload a compiled spec as a new version of its package; (package, sha256 version)."""
    from kfp.registry import RegistryClient

    client = RegistryClient(host=repository, auth=auth)
    return client.upload_pipeline(spec_path, tags=tags or None)


def resolve(template: str, auth: Any) -> str:
    """The same template named by its version: a tag is looked up in Artifact Registry, a version is kept.

    A tag can move, and Vertex AI resolves one with its own service agent
    (https://github.com/googleapis/python-aiplatform/issues/2398): a run or schedule records the version instead.
    """
    found = parts(template)
    if VERSION.fullmatch(found["reference"]):
        return template
    from kfp.registry import RegistryClient

    client = RegistryClient(host=repository_url(template), auth=auth)
    version = client.get_tag(found["package"], found["reference"])["version"].rsplit("/", 1)[-1]
    if not VERSION.fullmatch(version):
        raise ValueError(f"tag {found['reference']} of {found['package']} names {version!r}, not a sha256: version")
    return f"{repository_url(template)}/{found['package']}/{version}"
