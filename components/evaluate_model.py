"""Component: score the model on held-out rows, against the published champion, and decide."""

from typing import NamedTuple

from kfp.dsl import HTML, Artifact, Dataset, Input, Metrics, Model, Output

from components.base import salary_component


@salary_component
def evaluate_model(
    model: Input[Model],
    test_data: Input[Dataset],
    min_r2: float,
    model_uri: str,
    max_r2_drop: float,
    force: bool,
    metrics: Output[Metrics],
    plot: Output[HTML],
    plot_svg: Output[Artifact],
) -> NamedTuple("EvaluationOutputs", blessed=bool, reason=str):
    """Score the model and the published champion on held-out rows, draw the fit plot, and decide."""
    import os
    from collections import namedtuple

    from salary.dataset import read_salary_csv
    from salary.model_codec import MODEL_FILE, decode_model
    from salary.model_store import latest_or_none, open_store
    from salary.modeling import as_estimator, decide, score
    from salary.plotting import fit_plot_svg, svg_page

    with open(os.path.join(model.path, MODEL_FILE), "rb") as handle:
        estimator = as_estimator(decode_model("candidate", handle.read()))
    held_out = read_salary_csv(test_data.path, min_rows=1)
    scores = score(estimator, held_out.years, held_out.salary)
    for name, value in scores.items():
        metrics.log_metric(name, value)
    metrics.log_metric("n_train", model.metadata["n_train"])
    metrics.log_metric("n_test", held_out.rows)
    champion = latest_or_none(open_store(model_uri))
    champion_r2 = None
    if champion is not None:
        champion_scores = score(as_estimator(champion.model), held_out.years, held_out.salary)
        for name, value in champion_scores.items():
            metrics.log_metric(f"champion_{name}", value)
        metrics.metadata["champion_version"] = champion.version
        champion_r2 = champion_scores["r2"]
    blessed, reason = decide(scores["r2"], min_r2, champion_r2, max_r2_drop, force)
    # One drawing, two artifacts: the page the Vertex console renders, and the SVG export publishes as plot.svg.
    svg = fit_plot_svg(held_out.years, held_out.salary, estimator, title="Held-out rows and the fitted line")
    with open(plot_svg.path, "w") as handle:
        handle.write(svg)
    plot_svg.metadata["mime_type"] = "image/svg+xml"
    caption = f"{'Blessed' if blessed else 'Rejected'}: {reason}. RMSE {scores['rmse']:,.0f}, MAE {scores['mae']:,.0f} on {held_out.rows} held-out rows."
    with open(plot.path, "w") as handle:
        handle.write(svg_page(svg, "Salary model evaluation", caption))
    print(f"{'blessed' if blessed else 'rejected'}: {reason}")
    return namedtuple("EvaluationOutputs", ["blessed", "reason"])(blessed, reason)
