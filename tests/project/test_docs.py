"""The README is a front door to the docs/ pages, and `make help` lists every target."""

import html
import json
import re
import subprocess
from types import SimpleNamespace

import pytest

from tests.support import REPO
from webapp import create_app

PAGES = sorted((REPO / "docs").glob("*.md"))


def test_the_readme_is_short_and_links_every_docs_page():
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    linked = set(re.findall(r"\]\(docs/([\w-]+\.md)\)", readme))
    assert linked == {page.name for page in PAGES}


def test_every_docs_page_says_what_it_covers_first():
    for page in PAGES:
        title, blank, purpose = page.read_text().splitlines()[:3]
        assert title.startswith("# ") and blank == "" and purpose.strip(), page.name


def test_relative_links_reach_a_file_and_a_heading():
    for document in [REPO / "README.md", *PAGES]:
        text = document.read_text()
        for target in re.findall(r"\]\(([^)\s]+)\)", text) + re.findall(r'src="([^"]+)"', text):
            if target.startswith(("http://", "https://")):
                continue
            path, _, anchor = target.partition("#")
            destination = (document.parent / path) if path else document
            assert destination.exists(), f"{document.name}: {target}"
            if anchor:
                headings = re.findall(r"^#+ (.+)$", destination.read_text(), flags=re.MULTILINE)
                # GitHub's anchors: lower case, punctuation dropped, spaces to hyphens.
                assert anchor in {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}, (
                    f"{document.name}: {target}"
                )


def test_no_issue_numbers_in_the_docs():
    for document in [REPO / "README.md", *PAGES]:
        assert not re.search(r"\bissues? #?\d+", document.read_text(), flags=re.IGNORECASE), document.name


def test_make_help_lists_every_target_once_with_a_line_of_its_own():
    makefile = (REPO / "Makefile").read_text()
    targets = re.findall(r"^([a-z][\w-]*):", makefile, flags=re.MULTILINE)
    phony = set(re.search(r"^\.PHONY: (.+)$", makefile, flags=re.MULTILINE).group(1).split())
    assert set(targets) == phony
    result = subprocess.run(
        ["make", "--no-print-directory", "help"], cwd=REPO, capture_output=True, text=True, timeout=60, check=True
    )
    listed = [line.split(None, 1) for line in result.stdout.splitlines() if line.startswith("  ")]
    assert sorted(name for name, _ in listed) == sorted(targets)
    assert all(description.strip() for _, description in listed)


# What a reader compares with their own run: the figures in the README and the docs come from the shipped
# data through the pipeline's own steps, the same way `make demo` gets them (the version's time differs).


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    """The shipped CSV through the pipeline's steps with the default parameters, published to a folder store."""
    from kfp.dsl import HTML, Artifact, Dataset, Metrics, Model

    from components import evaluate_model, export_model, load_data, train_model
    from salary import defaults
    from salary.dataset import bundled_data_path

    folder = tmp_path_factory.mktemp("shipped")

    def artifact(kind, name):
        return kind(name=name, uri=str(folder / name), metadata={})

    dataset, model, metrics = artifact(Dataset, "dataset"), artifact(Model, "model"), artifact(Metrics, "metrics")
    plot_svg = artifact(Artifact, "plot_svg")
    load_data.python_func(
        data_uri=str(bundled_data_path()), test_fraction=defaults.TEST_FRACTION, seed=defaults.SEED, dataset=dataset
    )
    train_model.python_func(dataset=dataset, model=model)
    store = str(folder / "store")
    decision = evaluate_model.python_func(
        model=model,
        dataset=dataset,
        min_r2=defaults.MIN_R2,
        model_uri=store,
        max_r2_drop=defaults.MAX_R2_DROP,
        force=False,
        metrics=metrics,
        plot=artifact(HTML, "plot"),
        plot_svg=plot_svg,
    )
    exported = export_model.python_func(
        model=model,
        dataset=dataset,
        metrics=metrics,
        plot_svg=plot_svg,
        blessed=decision.blessed,
        model_uri=store,
        git_commit="",
        pipeline_run="",
        data_uri=str(bundled_data_path()),
        test_fraction=defaults.TEST_FRACTION,
        seed=defaults.SEED,
        min_r2=defaults.MIN_R2,
        max_r2_drop=defaults.MAX_R2_DROP,
        force=False,
        image="",
        dependencies_sha256="",
    )
    assert exported.published
    app = create_app({"TESTING": True, "MODEL_URI": store, "MODEL_POLL_SECONDS": 0})
    yield SimpleNamespace(
        dataset=dataset,
        model=model,
        metrics=metrics,
        decision=decision,
        version=exported.version,
        client=app.test_client(),
    )
    app.extensions["salary_model"].stop()


def same_model(version: str, documented: str) -> bool:
    """Versions name the publish time and the model's hash: a reader's run has the same hash, another time."""
    return re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{8}", documented) is not None and documented[-8:] == version[-8:]


def test_the_readme_local_run_lines_are_what_the_shipped_data_gives(shipped):
    from compile import metrics_line
    from pipeline_def.local_run import key_output

    readme = (REPO / "README.md").read_text()
    sample = readme[readme.index("```\n.venv/bin/python compile.py\n") :]
    sample = sample[: sample.index("\n```\n")].splitlines()
    steps = {line.split()[0]: line.split(None, 4)[4] for line in sample if line.startswith("  ")}

    def outputs(name, artifact, **parameters):
        return {"artifacts": {name: {"artifacts": [{"metadata": artifact.metadata}]}}, "parameterValues": parameters}

    assert steps["load-data"] == key_output("load-data", outputs("dataset", shipped.dataset))
    assert steps["train-model"] == key_output("train-model", outputs("model", shipped.model))
    assert steps["evaluate-model"] == key_output(
        "evaluate-model", outputs("metrics", shipped.metrics, **shipped.decision._asdict())
    )
    published = steps["export-model"].removeprefix("published ")
    assert same_model(shipped.version, published)
    assert metrics_line(shipped.metrics.metadata) in sample
    assert sample[-1].startswith(f"published model version {published} to ")


def test_the_readme_curl_answers_are_the_shipped_models(shipped):
    readme = (REPO / "README.md").read_text()
    examples = re.findall(r"-d '(\{.*\})'\n# (\{.*\})\n", readme)
    assert len(examples) == 3
    for body, documented in examples:
        documented = json.loads(documented)
        answer = shipped.client.post("/api/predict", json=json.loads(body)).get_json()
        if "model_version" in documented:
            assert same_model(answer.pop("model_version"), documented.pop("model_version"))
        # The same bytes of model through the same arithmetic: the same floats, to the last digit.
        assert answer == documented


def test_the_api_examples_are_the_shipped_models_answers_rounded(shipped):
    from webapp.openapi import openapi_document

    examples = openapi_document(10, 10)["paths"]["/api/predict"]["post"]["responses"]["200"]["content"][
        "application/json"
    ]["examples"]
    requests = {"single": {"years_experience": 5}, "batch": {"instances": [1, 2.5, 10]}}
    for name, request in requests.items():
        documented = dict(examples[name]["value"])
        answer = shipped.client.post("/api/predict", json=request).get_json()
        assert same_model(answer.pop("model_version"), documented.pop("model_version"))
        rounded = json.loads(json.dumps(answer), parse_float=lambda text: round(float(text), 2))
        assert rounded == documented


def visible_text(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


@pytest.mark.parametrize(
    "picture, path",
    [("form-result.png", "/?years=5"), ("form-result-phone-dark.png", "/?years=60"), ("model-card.png", "/model")],
)
def test_every_figure_in_a_pictures_alt_text_is_on_the_page_it_shows(shipped, picture, path):
    readme = (REPO / "README.md").read_text()
    alts = dict(re.findall(r"!\[([^\]]+)\]\(docs/screenshots/([\w.-]+)\)", readme))
    alts = {name: alt for alt, name in alts.items()} | {
        name: alt for name, alt in re.findall(r'<img src="docs/screenshots/([\w.-]+)" alt="([^"]+)"', readme)
    }
    alt = alts[picture]
    text = visible_text(shipped.client.get(path).get_data(as_text=True))
    figures = re.findall(r"\d+(?:,\d{3})*(?:\.\d+)?", alt)
    assert len(figures) >= 3
    assert [figure for figure in figures if figure not in text] == []


def test_the_docs_quote_the_shipped_models_title_and_scores(shipped):
    title = re.search(r"<title>(.*?)</title>", shipped.client.get("/?years=5").get_data(as_text=True)).group(1)
    assert f"`{html.unescape(title)}`" in (REPO / "docs" / "serving.md").read_text()
    metrics = shipped.metrics.metadata
    now = f"now {metrics['n_train']} and {metrics['n_test']} rows, r2 {metrics['r2']:.4f}, RMSE {metrics['rmse']:,.0f}, MAE {metrics['mae']:,.0f}"
    assert now in " ".join((REPO / "docs" / "pipeline.md").read_text().split())
