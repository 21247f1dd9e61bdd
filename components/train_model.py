"""Component: split the rows and fit the linear salary model."""

from kfp.dsl import Dataset, Input, Model, Output

from components.base import salary_component


@salary_component
def train_model(
    dataset: Input[Dataset],
    test_fraction: float,
    seed: int,
    model: Output[Model],
    test_data: Output[Dataset],
) -> None:
    """Fit LinearRegression on a seeded split; the held-out rows go on to evaluation."""
    import json
    import os

    import sklearn

    from salary.dataset import read_salary_csv, write_salary_csv
    from salary.model_codec import MODEL_FILE
    from salary.modeling import dump_model, fit_salary_model, split_rows, years_span

    data = read_salary_csv(dataset.path)
    split = split_rows(data.rows, test_fraction, seed)
    estimator = fit_salary_model(data.years[split.train], data.salary[split.train])
    facts = {
        "framework": "scikit-learn",
        "estimator": "LinearRegression",
        "sklearn_version": sklearn.__version__,
        "n_train": int(split.train.size),
        "n_test": int(split.test.size),
        "coef": float(estimator.coef_[0]),
        "intercept": float(estimator.intercept_),
        **years_span(data.years[split.train]),
    }
    os.makedirs(model.path, exist_ok=True)
    with open(os.path.join(model.path, MODEL_FILE), "wb") as handle:
        handle.write(dump_model(estimator))
    with open(os.path.join(model.path, "metadata.json"), "w") as handle:
        json.dump(facts, handle, indent=2)
    model.metadata.update(facts)
    write_salary_csv(test_data.path, data.years[split.test], data.salary[split.test])
    test_data.metadata["rows"] = int(split.test.size)
    print(f"trained on {split.train.size} rows: salary = {facts['intercept']:.2f} + {facts['coef']:.2f} * years")
