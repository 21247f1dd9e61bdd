"""Every builder image in both Cloud Build configs is pinned to a tag under a year old by its version scheme, or to a maintained tag."""

import datetime
import re
from dataclasses import dataclass, field

import pytest
import yaml

from tests.support import REPO

YEAR = datetime.timedelta(days=365)

# Release dates as the release notes give them (https://cloud.google.com/sdk/docs/release-notes). The Cloud SDK
# images delete versions older than a year (https://github.com/GoogleCloudPlatform/cloud-sdk-docker#readme,
# "Package retention policy"), so an older pin stops existing. Add a version here before pinning it.
CLOUD_SDK_RELEASES = {
    "545.0.0": datetime.date(2025, 10, 28),
    "552.0.0": datetime.date(2026, 1, 13),
    "558.0.0": datetime.date(2026, 2, 24),
    "588.0.0": datetime.date(2026, 10, 6),
    "594.0.0": datetime.date(2026, 11, 17),
    "594.0.1": datetime.date(2026, 11, 21),
}
# CPython release dates from python.org (https://www.python.org/downloads/release/python-31115/ and the 3.11
# changelog, https://docs.python.org/3.11/whatsnew/changelog.html). Docker's official python image rebuilds a
# patch tag (3.11.X-trixie) for OS fixes only until the next patch release, so the patch's date bounds its age.
PYTHON_RELEASES = {
    "3.11.14": datetime.date(2025, 10, 9),
    "3.11.15": datetime.date(2026, 3, 3),
    "3.11.18": datetime.date(2026, 10, 25),
}


@dataclass(frozen=True)
class Scheme:
    """How one image repository's tags are versioned, and how a tag's date is known."""

    tag: str  # full-match regex; the `version` group is what `releases` is keyed by
    releases: dict = field(default_factory=dict)
    maintained: frozenset = frozenset()  # tags without a date, kept current by their publisher
    reason: str = ""


SCHEMES = {
    # The current name; `cloud-sdk` is the old name of the same images, under the same retention policy.
    "gcr.io/google.com/cloudsdktool/google-cloud-cli": Scheme(
        r"(?P<version>\d+\.\d+\.\d+)-(stable|slim|alpine)", CLOUD_SDK_RELEASES
    ),
    "gcr.io/google.com/cloudsdktool/cloud-sdk": Scheme(r"(?P<version>\d+\.\d+\.\d+)-(slim|alpine)", CLOUD_SDK_RELEASES),
    "python": Scheme(r"(?P<version>3\.11\.\d+)-(slim-)?(bookworm|trixie)", PYTHON_RELEASES),
    # The tag names the Docker client inside; Cloud Build's team rebuilds its supported tags in place
    # (GoogleCloudPlatform/cloud-builders, docker/cloudbuild.yaml; 24.0.9 since PR #980) and no retention
    # policy deletes them, so the tag carries no date to check.
    "gcr.io/cloud-builders/docker": Scheme(
        r"(?P<version>\d+\.\d+\.\d+)",
        maintained=frozenset({"24.0.9"}),
        reason="maintained by the Cloud Build team, rebuilt in place",
    ),
}


def _key(version: str) -> tuple:
    return tuple(int(part) for part in version.split("."))


def stale_reason(image: str, today: datetime.date) -> str | None:
    """Why a builder image is not an acceptable pin on `today`, or None when it is."""
    name, _, tag = image.rpartition(":")
    if not name or "@" in image or "/" in tag:
        return f"{image} is not pinned to a tag"
    scheme = SCHEMES.get(name)
    if scheme is None:
        return f"{image}: no version scheme is known for {name}; add one to SCHEMES"
    match = re.fullmatch(scheme.tag, tag)
    if match is None:
        return f"{image}: tag {tag} does not follow {name}'s scheme {scheme.tag}"
    if tag in scheme.maintained:
        return None
    version = match.group("version")
    if not scheme.releases:
        return f"{image}: only the maintained tags {sorted(scheme.maintained)} are known to exist"
    # Release numbers grow with time: a version is no newer than the next one with a known date.
    later = [date for known, date in scheme.releases.items() if _key(known) >= _key(version)]
    if later and today - min(later) > YEAR:
        return f"{image}: version {version} was released by {min(later)}, more than a year before {today}"
    if version not in scheme.releases:
        return f"{image}: the release date of {version} is unknown; add it from the release notes"
    return None


def builder_images() -> list:
    """Every step image of both Cloud Build configs."""
    configs = [yaml.safe_load((REPO / name).read_text()) for name in ("cloudbuild.yaml", "cloudbuild-release.yaml")]
    return sorted({step["name"] for document in configs for step in document["steps"]})


@pytest.mark.parametrize("image", builder_images())
def test_builder_image_is_a_current_pin(image):
    assert stale_reason(image, datetime.date.today()) is None, stale_reason(image, datetime.date.today())


def test_the_deploying_page_names_every_builder_image():
    page = (REPO / "docs" / "deploying.md").read_text()
    assert [image for image in builder_images() if f"`{image}`" not in page] == []


@pytest.mark.parametrize(
    "image, today, message",
    [
        ("gcr.io/google.com/cloudsdktool/google-cloud-cli:594.0.0-stable", datetime.date(2026, 11, 27), None),
        (
            "gcr.io/google.com/cloudsdktool/google-cloud-cli:594.0.0-stable",
            datetime.date(2027, 11, 18),
            "version 594.0.0 was released by 2026-11-17, more than a year before 2027-11-18",
        ),
        # Today's main before this change: deleted under the retention policy.
        (
            "gcr.io/google.com/cloudsdktool/cloud-sdk:470.0.0-slim",
            datetime.date(2026, 11, 27),
            "version 470.0.0 was released by 2025-10-28, more than a year before 2026-11-27",
        ),
        (
            "gcr.io/google.com/cloudsdktool/google-cloud-cli:600.0.0-stable",
            datetime.date(2026, 11, 27),
            "the release date of 600.0.0 is unknown",
        ),
        ("gcr.io/google.com/cloudsdktool/google-cloud-cli:latest", datetime.date(2026, 11, 27), "does not follow"),
        (
            "python:3.11.14-bookworm",
            datetime.date(2026, 11, 27),
            "version 3.11.14 was released by 2025-10-09, more than a year before 2026-11-27",
        ),
        ("python:3.11.18-trixie", datetime.date(2026, 11, 27), None),
        ("python:3.11-trixie", datetime.date(2026, 11, 27), "does not follow"),
        ("gcr.io/cloud-builders/docker:24.0.9", datetime.date(2030, 1, 1), None),
        ("gcr.io/cloud-builders/docker:20.10.3", datetime.date(2026, 11, 27), "only the maintained tags ['24.0.9']"),
        ("gcr.io/cloud-builders/docker", datetime.date(2026, 11, 27), "is not pinned to a tag"),
        ("gcr.io/cloud-builders/gcloud:latest", datetime.date(2026, 11, 27), "no version scheme is known"),
        ("python@sha256:0123", datetime.date(2026, 11, 27), "is not pinned to a tag"),
    ],
)
def test_stale_reason_by_scheme(image, today, message):
    reason = stale_reason(image, today)
    assert reason is None if message is None else message in reason
