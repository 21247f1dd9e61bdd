"""Component: score the model on held-out rows, against the published champion, and decide."""

from typing import NamedTuple

from kfp.dsl import HTML, Artifact, Dataset, Input, Metrics, Model, Output

from components.base import salary_component


@salary_component
def evaluate_model(
    model: Input[Model],
    dataset: Input[Dataset],
    min_r2: float,
    model_uri: str,
    max_r2_drop: float,
    force: bool,
    metrics: Output[Metrics],
    plot: Output[HTML],
    plot_svg: Output[Artifact],
) -> NamedTuple("EvaluationOutputs", blessed=bool, reason=str):
    """Score the model and the published champion on held-out rows, draw the fit plot, and decide."""
    from collections import namedtuple

    from salary.modeling import Line, decide, margin_95, range_model, scores_from_sums
    from salary.plotting import fit_plot_svg, svg_page
    from salary.store.model_store import latest_or_none, open_store
    from salary.training_data import score_held_out

    # The line train_model recorded is the pickled model's own coef_ and intercept_ (JSON keeps floats exactly).
    challenger = Line(model.metadata["coef"], model.metadata["intercept"])
    champion = latest_or_none(open_store(model_uri))
    lines = [challenger] if champion is None else [challenger, Line(champion.model.slope, champion.model.intercept)]
    held_out = score_held_out(dataset.path, lines)
    scores = scores_from_sums(held_out.residuals[0], held_out.moments)
    for name, value in scores.items():
        metrics.log_metric(name, value)
    metrics.log_metric("margin_95", margin_95(scores["rmse"]))
    # The range by years (salary.modeling.range_model); the server falls back to margin_95 where it is absent.
    for name, value in (range_model(held_out.residuals[0], held_out.moments) or {}).items():
        metrics.log_metric(name, value)
    metrics.log_metric("n_train", model.metadata["n_train"])
    metrics.log_metric("n_test", held_out.moments.n)
    champion_r2 = None
    if champion is not None:
        champion_scores = scores_from_sums(held_out.residuals[1], held_out.moments)
        for name, value in champion_scores.items():
            metrics.log_metric(f"champion_{name}", value)
        metrics.metadata["champion_version"] = champion.version
        champion_r2 = champion_scores["r2"]
    blessed, reason = decide(scores["r2"], min_r2, champion_r2, max_r2_drop, force)
    # One drawing, two artifacts: the page the Vertex console renders, and the SVG export publishes as plot.svg.
    svg = fit_plot_svg(
        held_out.sample_years, held_out.sample_salary, challenger, title="Held-out rows and the fitted line"
    )
    with open(plot_svg.path, "w") as handle:
        handle.write(svg)
    plot_svg.metadata["mime_type"] = "image/svg+xml"
    caption = f"{'Blessed' if blessed else 'Rejected'}: {reason}. RMSE {scores['rmse']:,.0f}, MAE {scores['mae']:,.0f} on {held_out.moments.n:,} held-out rows."
    with open(plot.path, "w") as handle:
        handle.write(svg_page(svg, "Salary model evaluation", caption))
    print(f"{'blessed' if blessed else 'rejected'}: {reason}")
    return namedtuple("EvaluationOutputs", ["blessed", "reason"])(blessed, reason)
