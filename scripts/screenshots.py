"""Pictures of the web app for the README, taken by the browser the tests use (`make screenshots`).

python -m scripts.screenshots [--output docs/screenshots]

Trains through the same local run as `make demo`, into a temporary folder (never ./model-store), serves it
with gunicorn on a free loopback port, and saves small palette PNGs of the form with a result and of the
model card.
"""

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

from tests.support import REPO
from tests.support.browser import MODES, launch
from tests.support.server import gunicorn

# (file name, mode, path, what to show): "page" is the whole page, "viewport" what one screen shows.
SHOTS = [
    ("form-result.png", {**MODES["desktop"], "viewport": {"width": 1000, "height": 760}}, "/?years=5", "viewport"),
    (
        "form-result-phone-dark.png",
        {**MODES["phone-375"], "device_scale_factor": 1, "color_scheme": "dark"},
        "/?years=60",
        "viewport",
    ),
    ("model-card.png", {**MODES["desktop"], "viewport": {"width": 1000, "height": 800}}, "/model", "page"),
]
COLOURS = 64


def train(folder: Path) -> str:
    """Run the pipeline's local run into a store under folder; return the store's URI."""
    store = folder / "model-store" / "salary"
    subprocess.run(
        [
            sys.executable,
            "compile.py",
            "--output",
            str(folder / "pipeline.yaml"),
            "--local-root",
            str(folder / "local-run"),
            "--model-uri",
            str(store),
        ],
        cwd=REPO,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return str(store)


def shrink(path: Path) -> None:
    """Re-save as a palette PNG: flat colours and text need few, and the file is a fraction of the size."""
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(COLOURS, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)


def main(argv: list[str] | None = None) -> int:
    """Take every picture in SHOTS and print where each went and its size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args(argv)
    args.output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        store = train(Path(folder))
        with gunicorn({"MODEL_URI": store, "MODEL_POLL_SECONDS": "0"}) as base, sync_playwright() as playwright:
            browser = launch(playwright)
            for name, options, path, extent in SHOTS:
                context = browser.new_context(**options)
                page = context.new_page()
                page.goto(f"{base}{path}")
                if path == "/model":
                    page.wait_for_function("() => document.querySelector('#fit-plot').complete", timeout=15_000)
                page.evaluate("window.scrollTo(0, 0)")
                target = args.output / name
                page.screenshot(path=target, full_page=extent == "page")
                context.close()
                shrink(target)
                with Image.open(target) as image:
                    print(
                        f"{target.relative_to(REPO) if target.is_relative_to(REPO) else target}: "
                        f"{image.width}×{image.height}, {target.stat().st_size:,} bytes"
                    )
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
