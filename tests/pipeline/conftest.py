"""Fixtures of the pipeline tests."""

import pytest

import compile as compile_py
from tests.support.vertex import IMAGE


@pytest.fixture
def spec(tmp_path):
    """The training pipeline compiled to a spec file (test_compile.py makes its own through the command line)."""
    output = tmp_path / "pipeline.yaml"
    compile_py.compile_spec(IMAGE, str(output))
    return output
