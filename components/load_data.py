"""Component: one pass over the training data: validate, split, and reduce the training rows to their sums."""

from kfp.dsl import Dataset, Output

from components.base import salary_component


@salary_component
def load_data(data_uri: str, test_fraction: float, seed: int, dataset: Output[Dataset]) -> None:
    """Validate the CSV or BigQuery table at data_uri (empty: the shipped CSV), split it, and summarize it into a Dataset."""
    from salary.dataset import resolve_data_uri
    from salary.training_data import summarize

    summary = summarize(resolve_data_uri(data_uri), test_fraction, seed, dataset.path)
    dataset.metadata.update({"data": summary.data_facts(), "n_train": summary.train.n, "n_test": summary.n_test})
    print(
        f"loaded {summary.rows} valid rows from {summary.uri}: {summary.train.n} to train on, {summary.n_test} held out"
    )
