"""KFP components of the salary pipeline and the plain logic they wrap.

The components are re-exported lazily: the web app imports components.model_store and
must not pay for (or need) the kfp SDK that the component modules import.
"""

import importlib

_MODULE_OF = {
    "load_data": "components.load",
    "train_model": "components.train",
    "evaluate_model": "components.evaluate",
    "export_model": "components.export",
    "register_model": "components.register",
}
__all__ = list(_MODULE_OF)


def __getattr__(name: str):
    """Import a component's module on first use of its name."""
    if name in _MODULE_OF:
        return getattr(importlib.import_module(_MODULE_OF[name]), name)
    raise AttributeError(f"module 'components' has no attribute {name!r}")
