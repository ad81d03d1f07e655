"""The layout holds by structure: who may import whom, no cycles, a core that starts nothing.

Rooms: `creditrisk` (core), `creditrisk_assets` (Dagster), `serving` (Ray Serve), `creditrisk_app`
(CLI, demo, process supervision). Every import statement counts, also those inside functions or
under `TYPE_CHECKING`: a lazy import is still a dependency of the design.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("creditrisk", "creditrisk_assets", "serving", "creditrisk_app")
# What each room may import of the others (the core none; the shell all).
MAY_IMPORT = {"creditrisk": set(), "creditrisk_assets": {"creditrisk"}, "serving": {"creditrisk"},
              "creditrisk_app": {"creditrisk", "creditrisk_assets", "serving"}}
# The core runs inside Dagster runs and Serve replicas alike: it must not drag either in, nor start
# processes (that is the shell's job), nor reach out of its package to the checkout.
CORE_FORBIDDEN = {"dagster", "dagster_gcp", "dagster_webserver", "ray", "subprocess", "multiprocessing"}
PROCESS_CALLS = {"system", "popen", "fork", "forkpty", "execv", "execve", "execvp", "spawnv", "spawnl",
                 "posix_spawn"}
# The core's feature packages (and top-level modules) in dependency order: each may import only
# itself and those before it. Reading down the table is reading the product from its contract up.
CORE_ORDER = (
    "settings",    # the environment, read lazily
    "applicants",  # the applicant contract, the CSV loader, synthetic applicants, outcome delays
    "model",       # scoring, the decision rule, features, reasons, pricing, the age rule, pyfunc
    "store",       # the request store, its row contract and request ids
    "registry",    # the MLflow registry under change control: states, audit trail, lock, validation
    "training",    # a training run, its holdout and lineage, retraining, the evidence rule
    "model_card",  # the card issued after each decision
    "monitoring",  # the week report: drift, concept drift, performance, episodes
    "alerts",      # the alert sink
    "pyfunc",      # the wrapper's old path, for versions registered before the packages
    "wiring",      # the one composition root
)


def modules() -> dict[str, Path]:
    found = {}
    for pkg in PACKAGES:
        for path in sorted((REPO / pkg).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imported(path: Path, known: dict[str, Path]) -> Iterator[str]:
    """Every module name an import statement in `path` names (first-party ones resolved to modules)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:  # `from pkg import module` imports the module
                yield f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else node.module


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: {m for m in imported(path, known) if m in known and m != name}
            for name, path in known.items()}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in g[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while (w := stack.pop()) != v:
                comp.append(w)
            comp.append(v)
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_between_modules() -> None:
    assert cycles(graph()) == []


def test_each_room_imports_only_the_rooms_below_it() -> None:
    wrong = [f"{mod} imports {dep}" for mod, deps in graph().items() for dep in deps
             if (room := mod.split(".")[0]) != (other := dep.split(".")[0]) and other not in MAY_IMPORT[room]]
    assert wrong == []


def core_unit(module: str) -> str:
    """The entry of CORE_ORDER a core module belongs to (`creditrisk.model.explain` -> `model`)."""
    return module.split(".")[1] if "." in module else ""


def against_order(g: dict[str, set[str]]) -> list[str]:
    """Each core import of a package listed later in CORE_ORDER than the importer's own."""
    rank = {unit: i for i, unit in enumerate(CORE_ORDER)}
    return [f"{mod} imports {dep} ({core_unit(dep)} comes after {core_unit(mod)})"
            for mod, deps in sorted(g.items()) if mod.startswith("creditrisk.")
            for dep in sorted(deps) if dep.startswith("creditrisk.")
            and rank[core_unit(dep)] > rank[core_unit(mod)]]


def test_the_order_check_finds_an_import_against_the_order() -> None:
    planted = {"creditrisk.applicants.schema": {"creditrisk.model.features"},
               "creditrisk.model.features": {"creditrisk.applicants.schema", "creditrisk.model.pricing"}}
    assert against_order(planted) == ["creditrisk.applicants.schema imports creditrisk.model.features "
                                      "(model comes after applicants)"]


def test_every_core_package_and_module_has_its_place_in_the_order() -> None:
    units = {core_unit(m) for m in modules() if m.startswith("creditrisk.")}
    assert units == set(CORE_ORDER)


def test_the_core_packages_import_only_those_before_them() -> None:
    assert against_order(graph()) == []


def test_each_package_docstring_names_its_modules() -> None:
    """A package's `__init__` says what it is and lists its modules, so a reader starts there."""
    unnamed = []
    for init in sorted(REPO.glob("creditrisk/*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        unnamed += [f"{init.parent.name}/{m.name}" for m in sorted(init.parent.glob("*.py"))
                    if m.stem != "__init__" and f"`{m.stem}`" not in doc]
        assert doc, f"{init} has no docstring"
    assert unnamed == []


def test_a_package_import_loads_none_of_its_modules() -> None:
    """No eager re-exports: the week arithmetic does not drag Evidently in, nor the store BigQuery."""
    probe = ("import sys, creditrisk.monitoring.windows, creditrisk.store.base, creditrisk.model.features\n"
             "print(sorted({m.split('.')[0] for m in sys.modules} & {'evidently', 'google', 'mlflow'}))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"


def test_no_test_module_imports_another() -> None:
    """Shared test helpers live in helper modules or conftest, never in a module of tests."""
    wrong = [f"{path.relative_to(REPO)} imports {name}"
             for path in sorted((REPO / "tests").rglob("*.py"))
             for name in imported(path, {}) if name.split(".")[-1].startswith("test_")]
    assert wrong == []


def test_the_core_imports_no_orchestrator_no_ray_and_starts_no_process() -> None:
    known = modules()
    bad = []
    for name, path in known.items():
        if not name.startswith("creditrisk.") and name != "creditrisk":
            continue
        bad += [f"{name} imports {m}" for m in imported(path, known) if m.split(".")[0] in CORE_FORBIDDEN]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and node.value.id == "os" and node.attr in PROCESS_CALLS:
                bad.append(f"{name} calls os.{node.attr}")
            if isinstance(node, ast.Attribute) and node.attr == "parents":
                bad.append(f"{name} walks up from its own file (.parents): the core knows no checkout path")
    assert bad == []


def test_importing_the_whole_core_loads_no_dagster_and_no_ray() -> None:
    """The static check above sees direct imports; this one sees what third-party packages pull in."""
    core = sorted(m for m in modules() if m.split(".")[0] == "creditrisk")
    probe = (f"import importlib, sys\nfor m in {core!r}: importlib.import_module(m)\n"
             "print(sorted({m.split('.')[0] for m in sys.modules} & {'dagster', 'ray', 'dagster_gcp'}))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"
