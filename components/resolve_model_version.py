"""Component: the model version a scoring run uses, verified as the web app verifies it."""

from components.base import salary_component


@salary_component
def resolve_model_version(model_uri: str, version: str) -> str:
    """The store's verified version: `version` when given, else the one latest.json names (pinned or not)."""
    from salary.batch import resolve_model
    from salary.model_store import open_store

    loaded = resolve_model(open_store(model_uri), version)
    print(f"scoring with verified model version {loaded.version} from {model_uri}")
    return loaded.version
