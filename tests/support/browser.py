"""Debian's headless Chromium through Playwright, in the modes people use: desktop, phone, 200 % zoom, dark."""

import os

CHROMIUM = "/usr/bin/chromium"
# Headless Chromium as root, offline: no sandbox (root), no GPU, none of its background fetches.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Browser context options per mode. 200 % zoom on a 1280 px screen is a 640 px wide CSS viewport drawn at
# twice the pixels, which is what the browser's zoom does to layout.
MODES = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone-390": {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
    },
    "phone-375": {
        "viewport": {"width": 375, "height": 667},
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
    },
    "zoom-200": {"viewport": {"width": 640, "height": 400}, "device_scale_factor": 2},
    "dark": {"viewport": {"width": 1280, "height": 800}, "color_scheme": "dark"},
}


def launch(playwright):
    """Debian's Chromium, or a clear failure saying how to install it."""
    if not os.access(CHROMIUM, os.X_OK):
        raise RuntimeError(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium; .ci/run does)")
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
