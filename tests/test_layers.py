"""The layering of the project's packages, read from the source with ``ast``.

- ``simulation/`` is the ground floor: it imports no other project package;
- no module takes a private name (``_x``) from a module of another package;
- no module of a system package calls a private method or reads a private attribute of an
  object other than its own (``self``/``cls``): the gateway's async channel uses the gateway's
  public checkpoint, an api module its service's public methods;
- the modules of the gateway package import one another without a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = (
    "egov_sim", "simulation", "runtime", "control", "reglaments", "gateway_protocol", "gateway",
    "registries", "portal", "corporation_ws", "provider_ws", "signatures", "e_akimdik", "e_sobes",
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            modules[module_name(path)] = path
    return modules


MODULES = project_modules()


def package_of(module: str) -> str:
    return module.split(".")[0]


def resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    """The absolute module an ``import from`` names (relative ones resolved against ``module``)."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if path.name != "__init__.py":
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imports(module: str) -> list[tuple[str, str | None, int]]:
    """(imported module, imported name or None, line) for every import of ``module``, also the
    ones inside functions and ``if TYPE_CHECKING``: a late import is still a dependency."""
    path = MODULES[module]
    found: list[tuple[str, str | None, int]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.extend((alias.name, None, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = resolve(module, path, node)
            for alias in node.names:
                # `from package import module` imports that module, not a name of the package
                submodule = f"{source}.{alias.name}"
                if submodule in MODULES:
                    found.append((submodule, None, node.lineno))
                else:
                    found.append((source, alias.name, node.lineno))
    return found


def is_project(module: str) -> bool:
    return package_of(module) in PACKAGES


def test_the_modules_are_found():
    # a wrong root would make every other test pass on nothing
    assert {"simulation.clock", "gateway.service", "gateway.asyncchannel", "runtime"} <= set(MODULES)


def test_simulation_imports_no_other_project_package():
    offences = [
        f"{module}:{line} imports {target}"
        for module in MODULES
        if package_of(module) == "simulation"
        for target, _, line in imports(module)
        if is_project(target) and package_of(target) != "simulation"
    ]
    assert not offences, "\n".join(offences)


def test_no_private_name_is_imported_from_another_package():
    offences = [
        f"{module}:{line} imports {name} from {target}"
        for module in MODULES
        for target, name, line in imports(module)
        if name is not None and name.startswith("_") and not name.startswith("__")
        and is_project(target) and package_of(target) != package_of(module)
    ]
    assert not offences, "\n".join(offences)


# Packages whose modules keep to their own objects' private members (the lead is rewriting
# portal and provider_ws; egov_sim and runtime touch library internals such as ``os._exit``).
OWN_PRIVATES = ("control", "gateway", "registries", "corporation_ws", "signatures", "e_akimdik", "e_sobes")


@pytest.mark.parametrize("package", OWN_PRIVATES)
def test_no_private_member_of_another_object_is_used(package: str):
    offences = []
    for module, path in MODULES.items():
        if package_of(module) != package:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if (
                isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
            ):
                offences.append(f"{module}:{node.lineno} {ast.unparse(node)}")
    assert not offences, "\n".join(offences)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle found by a depth-first walk (one per back edge)."""
    found: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                found.append([*path[path.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("package", ["gateway"])
def test_no_import_cycle_inside_the_package(package: str):
    inside = {m for m in MODULES if package_of(m) == package}
    graph = {
        module: {target for target, _, _ in imports(module) if target in inside and target != module}
        for module in inside
    }
    assert not cycles(graph), "\n".join(" -> ".join(c) for c in cycles(graph))
