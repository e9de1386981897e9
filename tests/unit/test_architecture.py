"""The layers stay visible: no upward import, no import cycle.

A module is as long as its one job needs: split by job, not by line count.

Function-level imports count too: a cycle hidden inside a function is still a cycle.
"""
from __future__ import annotations

import ast
from pathlib import Path


ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("harness", "acpi_tables", "kernels", "debarchive", "tools")

# Lowest first; a module may import its own layer and the layers below it.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("harness.errors", "harness.units", "harness.paths", "harness.userinput"),
    ("acpi_tables", "kernels", "debarchive"),
    ("harness.memblock",),
    ("harness.logparse",),
    # What memhp knows of QEMU, and asking a binary: below the scenario, which asks them.
    ("harness.qemu.binary", "harness.qemu.facts", "harness.qemu.probe"),
    ("harness.scenario",),
    ("harness.analysis",),
    ("harness.qemu",),
    ("harness.guest",),
    ("harness.run",),
    ("harness.lab",),
    ("harness.cli", "harness.pytest_plugin", "harness"),
    ("tools",),  # a checkout's fixture writers: above all they write for
)


def _modules() -> dict[str, Path]:
    mods = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            mods[name.removesuffix(".__init__")] = path
    return mods


def _imports(name: str, path: Path, mods: dict[str, Path]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            # ``from pkg import module`` depends on that module; ``from pkg import name`` on pkg.
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            continue
        found.update(t for t in targets if t in mods and t != name)
    return found


def _layer(name: str) -> int:
    best, rank = -1, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (name == prefix or name.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), index
    assert rank >= 0, f"{name} belongs to no layer: add it to LAYERS"
    return rank


MODULES = _modules()
GRAPH = {name: _imports(name, path, MODULES) for name, path in MODULES.items()}


def test_every_module_has_a_layer() -> None:
    for name in MODULES:
        _layer(name)


def test_nothing_imports_upward() -> None:
    upward = [f"{src} imports {dst}" for src, dsts in sorted(GRAPH.items()) for dst in sorted(dsts)
              if _layer(dst) > _layer(src)]
    assert upward == []


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_cycle() -> None:
    # A package's __init__ importing its own submodules is not a cycle of responsibility.
    graph = {m: {d for d in deps if not m.startswith(d + ".")} for m, deps in GRAPH.items()}
    assert _find_cycle(graph) is None


def test_cycle_finder_finds_a_cycle() -> None:
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None


def test_machine_knows_nothing_of_scenarios() -> None:
    # Like QEMU's own machine.py: the process and its channels, not what runs in it.
    assert not {d for d in GRAPH["harness.qemu.machine"] if d.startswith("harness.scenario")}
    assert not {d for d in GRAPH["harness.qemu.machine"] if d.startswith("harness.qemu.cmdline")}


def test_harness_root_holds_only_entrances_and_ground() -> None:
    loose = sorted(p.name for p in (ROOT / "harness").glob("*.py"))
    assert loose == ["__init__.py", "cli.py", "errors.py", "paths.py", "pytest_plugin.py", "units.py",
                     # ground: every layer opens user files and checks user names through it
                     "userinput.py"]


def test_test_files_have_unique_names() -> None:
    """pytest imports test files by basename (rootdir, no packages): two of one name stop
    the whole suite at collection."""
    names = [p.name for p in (ROOT / "tests").rglob("test_*.py")]
    assert sorted({n for n in names if names.count(n) > 1}) == []
