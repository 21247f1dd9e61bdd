"""The tree's layers: salary ← components ← pipeline_def ← compile.py, salary ← webapp; nothing else, and no import cycle."""

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import REPO

FIRST_PARTY = {"salary", "components", "pipeline_def", "compile", "webapp", "tests", "bench", "scripts"}
# What each layer may import of ours besides itself.
BELOW = {
    "salary": set(),
    "components": {"salary"},
    "pipeline_def": {"components", "salary"},
    "compile": {"pipeline_def", "salary"},
    "webapp": {"salary"},
}
# Third-party packages a layer must never import: the web app image has no kfp or Vertex client, and the
# library (which both images hold) needs neither kfp nor Flask.
FORBIDDEN = {
    "salary": {"kfp", "flask", "flask_wtf"},
    "components": {"flask", "flask_wtf"},
    "pipeline_def": {"flask", "flask_wtf"},
    "compile": {"flask", "flask_wtf"},
    "webapp": {"kfp", "google.cloud.aiplatform", "google.cloud.aiplatform_v1"},
}


def layer_files(layer: str) -> list[Path]:
    if layer == "compile":
        return [REPO / "compile.py"]
    return sorted((REPO / layer).rglob("*.py"))


def imported(path: Path) -> set[str]:
    """Every module a file imports, anywhere in it (deferred imports inside functions too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add(path.relative_to(REPO).parts[0])
    return names


@pytest.mark.parametrize("layer", sorted(BELOW))
def test_each_layer_imports_only_the_layers_below_it(layer):
    found = []
    for path in layer_files(layer):
        for name in sorted(imported(path)):
            top = name.split(".")[0]
            if top in FIRST_PARTY and top != layer and top not in BELOW[layer]:
                found.append(f"{path.relative_to(REPO)} imports {name}")
            if any(name == banned or name.startswith(banned + ".") for banned in FORBIDDEN[layer]):
                found.append(f"{path.relative_to(REPO)} imports {name}")
    assert not found, "\n".join(found)


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Each module of a package and the modules of the same package it imports (deferred and type-only too)."""
    modules = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {}
    for name, path in modules.items():
        here = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = here.split(".")[: len(here.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                targets |= {base} | {f"{base}.{alias.name}" for alias in node.names}
        # An imported name resolves to the longest module it starts with (salary.modeling.Line -> salary.modeling).
        graph[name] = {
            max((module for module in modules if target == module or target.startswith(module + ".")), key=len)
            for target in targets
            if target.split(".")[0] == package
        } - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import each other, directly or round a loop (strongly connected, more than one)."""
    index, low, stack, found, counter = {}, {}, [], [], [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


@pytest.mark.parametrize("package", sorted(set(BELOW) - {"compile"}))
def test_no_import_cycle_inside_a_package(package):
    assert cycles(import_graph(REPO, package)) == []


def test_an_import_cycle_is_found_however_it_is_written(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg.b import thing\n")
    (package / "b.py").write_text("def f():\n    from .sub import c\n")
    (package / "sub" / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.a\n")
    (package / "d.py").write_text("from pkg import a\n")
    assert cycles(import_graph(tmp_path, "pkg")) == [["pkg.a", "pkg.b", "pkg.sub.c"]]


def loaded_after(code: str) -> set[str]:
    """The top-level packages a fresh interpreter has loaded after running `code`."""
    probe = f"{code}\nimport sys\nprint(' '.join(sorted({{name.split('.')[0] for name in sys.modules}})))"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120, check=True
    )
    return set(result.stdout.split())


def test_import_compile_loads_no_kfp_until_it_compiles():
    assert not loaded_after("import compile") & {"kfp", "components", "webapp"}


def test_the_web_app_loads_neither_kfp_nor_the_shells_nor_the_pipeline(tmp_path):
    loaded = loaded_after(
        f"from webapp import create_app\ncreate_app({{'TESTING': True, 'MODEL_URI': {str(tmp_path)!r}}})"
    )
    assert "flask" in loaded and not loaded & {"kfp", "components", "pipeline_def", "compile"}


def test_no_test_module_imports_another():
    """Tests share code through tests/support and conftest.py fixtures only, so moving or deleting a test module breaks nothing else."""
    modules = sorted((REPO / "tests").rglob("test_*.py"))
    assert REPO / "tests" / "project" / "test_layers.py" in modules
    found = [
        f"{path.relative_to(REPO)} imports {name}"
        for path in modules
        for name in sorted(imported(path))
        if name.split(".")[0] == "tests" and name.split(".")[:2] != ["tests", "support"]
    ]
    assert found == []


def image_packages(dockerfile: str) -> list[str]:
    """The packages of ours an image's build stage puts in its wheel (scripts/build_venv.sh project PACKAGE...)."""
    lines = [
        line
        for line in (REPO / dockerfile).read_text().splitlines()
        if line.startswith("RUN sh scripts/build_venv.sh project ")
    ]
    assert len(lines) == 1, f"{dockerfile} should install the project once"
    return lines[0].split()[4:]


@pytest.mark.parametrize(
    "dockerfile, packages",
    [("webapp/Dockerfile", {"salary", "webapp"}), ("components/Dockerfile", {"salary", "components"})],
)
def test_each_image_wheel_holds_only_the_code_it_runs(tmp_path, dockerfile, packages):
    import zipfile

    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    subprocess.run(
        ["sh", "scripts/build_wheel.sh", str(tmp_path), *image_packages(dockerfile)],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split("/")[0] for name in names if ".dist-info/" not in name} == packages
    if "webapp" in packages:
        # Package data travels with it: the templates, the static files and the shipped CSV.
        assert {"webapp/templates/index.html", "webapp/static/style.css", "salary/data/salary.csv"} <= set(names)


def test_the_library_defines_its_errors_in_one_module_whose_docstring_draws_them():
    import salary.errors

    defined = {
        name
        for name, value in vars(salary.errors).items()
        if isinstance(value, type) and issubclass(value, BaseException)
    }
    assert defined and all(re.search(rf"\b{name}\b", salary.errors.__doc__) for name in defined)
    exceptions = defined | {
        "Exception",
        "BaseException",
        "ValueError",
        "RuntimeError",
        "OSError",
        "KeyError",
        "TypeError",
    }
    elsewhere = [
        f"{path.relative_to(REPO)}: {node.name}"
        for path in layer_files("salary")
        if path.name != "errors.py"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ClassDef)
        and {getattr(base, "id", getattr(base, "attr", "")) for base in node.bases} & exceptions
    ]
    assert elsewhere == []
