"""The flow is visible in the imports: no import cycles, and no module imports from a later
layer than its own (the layers are ``indextts_dub.LAYERS``)."""
from __future__ import annotations

import ast
from pathlib import Path

import indextts_dub

PACKAGE = Path(indextts_dub.__file__).parent


def _modules() -> dict[str, Path]:
    out = {}
    for f in sorted(PACKAGE.rglob("*.py")):
        parts = ("indextts_dub",) + f.relative_to(PACKAGE).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules ``name`` imports (anywhere in it, lazy imports included): a
    ``from X import y`` names the module ``X.y`` when there is one, else ``X``."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([node.module] if node.module else []))
            for a in node.names:
                found.add(f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base)
    return {m for m in found if m in modules and m != name}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _layer(module: str) -> int | None:
    parts = module.split(".")
    if len(parts) < 2:
        return None                 # the package itself (its dub() is the top)
    for k, names in enumerate(indextts_dub.LAYERS):
        if parts[1] in names:
            return k
    return None


def test_every_module_is_in_a_layer():
    loose = [m for m in _graph() if _layer(m) is None and m not in ("indextts_dub", "indextts_dub.__main__")]
    assert not loose, f"modules outside indextts_dub.LAYERS: {loose}"


def test_no_import_from_a_later_layer():
    wrong = []
    for module, deps in _graph().items():
        own = _layer(module)
        if own is None:
            continue
        for dep in deps:
            theirs = _layer(dep)
            if theirs is not None and theirs > own:
                wrong.append(f"{module} (layer {own}) imports {dep} (layer {theirs})")
    assert not wrong, "\n".join(sorted(wrong))


def test_no_import_cycles():
    graph = _graph()
    cycles = []
    state: dict[str, int] = {}          # 1 on the path, 2 done
    path: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        path.append(m)
        for d in sorted(graph[m]):
            if state.get(d) == 1:
                cycles.append(" -> ".join(path[path.index(d):] + [d]))
            elif d not in state:
                visit(d)
        path.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    assert not cycles, "\n".join(cycles)


def test_the_checker_sees_what_it_must():
    """The walker finds relative, lazy and attribute imports (else the tests above pass by accident)."""
    graph = _graph()
    assert "indextts_dub.deliver.timelines.editors.base" in graph["indextts_dub.deliver.timelines.editors.fcp7"]
    assert "indextts_dub.engines.base" in graph["indextts_dub.engines.kokoro"]
    assert "indextts_dub.text.zh" in graph["indextts_dub.engines.kokoro"]          # a lazy import
    assert "indextts_dub.pipeline" in graph["indextts_dub"]
