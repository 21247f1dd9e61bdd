"""Component: read the salary CSV, validate it, and hand on a clean copy."""

from kfp.dsl import Dataset, Output

from components.base import salary_component


@salary_component
def load_data(data_uri: str, dataset: Output[Dataset]) -> None:
    """Validate the salary CSV at data_uri (empty: the shipped one) into a Dataset."""
    from salary.dataset import read_salary_csv, resolve_data_uri, write_salary_csv

    data = read_salary_csv(resolve_data_uri(data_uri))
    write_salary_csv(dataset.path, data.years, data.salary)
    dataset.metadata.update({"source_uri": data.uri, "sha256": data.sha256, "rows": data.rows})
    print(f"loaded {data.rows} valid rows from {data.uri}")
