"""Component: fit the linear salary model from the training rows' sums."""

from kfp.dsl import Dataset, Input, Model, Output

from components.base import salary_component


@salary_component
def train_model(dataset: Input[Dataset], model: Output[Model]) -> None:
    """Build the LinearRegression that least squares gives on the training rows (closed form, exact)."""
    import json
    import os
    from importlib import metadata

    from salary.model_codec import MODEL_FILE
    from salary.modeling import fitted_state, linear_regression_pickle
    from salary.training_data import read_summary

    summary = read_summary(dataset.path)
    sklearn_version = metadata.version("scikit-learn")
    state = fitted_state(summary.train, sklearn_version)
    # The pickle scikit-learn writes, written without importing it (about 1.5 s of this task's start).
    content = linear_regression_pickle(state)
    facts = {
        "framework": "scikit-learn",
        "estimator": "LinearRegression",
        "sklearn_version": sklearn_version,
        "n_train": summary.train.n,
        "n_test": summary.n_test,
        "coef": float(state["coef_"][0]),
        "intercept": float(state["intercept_"]),
    }
    os.makedirs(model.path, exist_ok=True)
    with open(os.path.join(model.path, MODEL_FILE), "wb") as handle:
        handle.write(content)
    with open(os.path.join(model.path, "metadata.json"), "w") as handle:
        json.dump(facts, handle, indent=2)
    model.metadata.update(facts)
    print(f"trained on {summary.train.n} rows: salary = {facts['intercept']:.2f} + {facts['coef']:.2f} * years")
