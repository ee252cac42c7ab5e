"""The architecture holds: one way for data to flow, no import cycle, small modules, and the case
model loadable without the rules engine (a form or an import needs no C extension)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("knowledge", "decision", "ui")
MAX_LINES = 600
# The engine's own modules (decision/*.py) hold no transport, storage or interchange code.
NOT_IN_THE_ENGINE = ("fastapi", "starlette", "httpx", "sqlalchemy", "argparse", "fhir", "streamlit", "uvicorn")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imports(path: Path, known: set[str]) -> set[str]:
    """Project modules a module imports when it runs (at any depth; `if TYPE_CHECKING:` excluded)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {
        id(child)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for child in ast.walk(node)
    }
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name in known}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(path, known) - {name} for name, path in modules.items()}


def test_no_module_is_over_600_lines() -> None:
    long = {
        name: count
        for name, path in _modules().items()
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_there_is_no_import_cycle() -> None:
    graph = _graph()
    # A package's __init__ importing its own modules is not a cycle of the design; drop those edges.
    for name in graph:
        graph[name] = {t for t in graph[name] if not t.startswith(name + ".")}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycles.append([*trail[trail.index(target) :], target] if target in trail else [node, target])
            elif target not in state:
                visit(target, [*trail, target])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_data_flows_one_way() -> None:
    """knowledge knows no engine; the engine knows no app; nothing but ui imports ui."""
    for module, targets in _graph().items():
        if module.startswith("knowledge"):
            assert not [t for t in targets if not t.startswith("knowledge")], module
        if module.startswith("decision"):
            assert not [t for t in targets if t.startswith("ui")], module


@pytest.mark.parametrize("module", sorted(m for m in _modules() if m.count(".") == 1 and m.startswith("decision.")))
def test_the_engine_modules_hold_no_transport_storage_or_interchange(module: str) -> None:
    tree = ast.parse(_modules()[module].read_text(encoding="utf-8"))
    imported = {
        (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    offending = {name for name in imported if name.split(".")[0] in NOT_IN_THE_ENGINE}
    assert not offending, f"{module} imports {offending}"


def test_the_case_model_loads_without_the_rules_engine() -> None:
    probe = (
        "import sys\n"
        "from decision.case import Case\n"
        "from decision.report import Report\n"
        "import decision\n"
        "Case.model_validate({'age': 50})\n"
        "loaded = [m for m in ('durable_rules_engine', 'durable', 'decision.engine') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
        "from decision import evaluate\n"
        "assert 'durable_rules_engine' in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=False)
    assert result.returncode == 0, result.stderr


def test_the_package_names_are_the_engine_functions_whatever_was_imported_first() -> None:
    """A submodule named like a package attribute would replace it on import (`decision.evaluate`
    the module instead of the function): the names `decision` offers must stay the functions."""
    probe = (
        "import decision.evaluator, decision.case, decision.report\n"
        "from decision import Case, Report, evaluate, default_evaluator, InvalidCase, CaseEvaluator\n"
        "assert callable(evaluate) and not isinstance(evaluate, type(decision)), evaluate\n"
        "assert isinstance(Case, type) and isinstance(Report, type) and issubclass(InvalidCase, Exception)\n"
        "assert evaluate({}).candidates == []\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=False)
    assert result.returncode == 0, result.stderr
