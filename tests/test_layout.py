"""The package's layering: remote code is self-contained, lower layers never import higher ones, and no module
imports itself back through a circle (every import counts, in-function ones included)."""

from __future__ import annotations

import ast
import os
import re
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "wavlink"

# Rank of each top-level part of the package: a module may import its own part or a part of lower rank.
RANKS = {
    "remote_code": 0, "metrics": 0,  # self-contained: the model folders' code, the evaluate metric modules
    "errors": 0,  # the environment failures the CLI reports in one line (full disk, ...)
    "defaults": 0,  # plain constants the CLI shows without importing torch (finetune defaults)
    "files": 0,  # where the caches live, and the one atomic writer (caches, indexes, embeddings, checkpoints)
    "families": 0,  # the family registry: names its classes and builders as strings, imported on first use
    "builders": 1, "data": 1,
    "optimize": 1,  # opt-in int8 dynamic quantisation (torch only), applied by `Embedder.load(int8=True)`
    "long_audio": 1,  # long files embedded window by window, used by `Embedder.encode_audio`
    "search_cache": 1,  # `wavlink search`'s per-folder embedding cache (numpy + json files, no wavlink imports)
    "model_identity": 1,  # a model folder's display name and licence, read from its card (the app, `wavlink app`)
    "__init__": 2,  # the public API (registers the families)
    "trust": 2.5,  # which model code may run: needs the registered families, used by every loader
    "inference": 3,
    "training": 4, "evaluation": 4,
    "onnx_export": 4,  # `wavlink export-onnx` and the onnxruntime embedder
    "hub": 5, "app": 5,  # app: the browser demo behind `wavlink app`
    "index": 5,  # FAISS indexes of large collections (`wavlink index`, `search --index`)
    "commands": 6, "cli": 7, "__main__": 8,
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """wavlink module -> the wavlink modules it imports (absolute and relative, anywhere in the file)."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets.update(a.name for a in node.names if a.name in modules)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                submodules = {f"{source}.{a.name}" for a in node.names} & modules.keys()
                targets.update(submodules)
                if len(submodules) < len(node.names) and source in modules:
                    targets.add(source)  # some imported names are attributes of `source` itself
        graph[name] = targets - {name}
    return graph


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_part_of_the_package_has_a_rank():
    assert {_part(m) for m in import_graph()} == set(RANKS)


def test_no_import_from_a_lower_layer_up():
    bad = [f"{m} -> {t}" for m, targets in import_graph().items() for t in targets
           if _part(t) != _part(m) and RANKS[_part(t)] >= RANKS[_part(m)]]
    assert not bad, bad


def test_no_import_circles():
    graph = import_graph()
    circles, index, low, stack, on_stack = [], {}, {}, [], set()

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    assert not circles, circles


def test_remote_code_imports_only_itself():
    folder = PACKAGE / "remote_code"
    for path in folder.glob("*.py"):
        if path.name == "__init__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                assert node.level == 1 and node.module, f"{path.name}:{node.lineno}"
                assert (folder / f"{node.module}.py").is_file(), f"{path.name}:{node.lineno} .{node.module}"
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
                assert not any(n.split(".")[0] == "wavlink" for n in names), f"{path.name}:{node.lineno}"


# Where an import may sit inside a function: the modules `wavlink --help` loads (they keep torch & co. out of
# start-up) and remote code (run in users' environments, where soundfile / soxr may be missing and some
# transformers model modules exist only in newer releases).
LAZY_MODULES = ("wavlink.cli", "wavlink", "wavlink.families", "wavlink.commands")
REMOTE_CODE = "wavlink.remote_code"


def _declared_dependencies() -> set[str]:
    """Import names of the packages pyproject.toml always installs (``dependencies``)."""
    import tomllib

    project = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["project"]
    names = {re.split(r"[<>=!~\[ ;]", d, maxsplit=1)[0].strip().lower() for d in project["dependencies"]}
    return {n.replace("-", "_") for n in names}


def _guarded(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """Inside a ``try`` that handles ImportError / ModuleNotFoundError (an optional or version-dependent import)."""
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.Try) and any(
                h.type is not None and any(isinstance(n, ast.Name) and n.id in ("ImportError", "ModuleNotFoundError")
                                           for n in ast.walk(h.type)) for h in node.handlers):
            return True
    return False


def test_imports_inside_functions_only_for_start_up_and_optional_packages():
    """Outside the start-up modules and remote code, a function imports only an optional package (an extra, or
    one no declared dependency guarantees), under an ImportError guard, or with a ``# lazy:`` comment giving the
    seconds it would add to every import of a module that light paths use (sentence-transformers, peft,
    transformers' Auto classes, the builders); the standard library, the declared dependencies and the package
    itself are otherwise imported at the top of the module."""
    always = _declared_dependencies() | {"wavlink"}
    stdlib = set(sys.stdlib_module_names)
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        if module in LAZY_MODULES or module.startswith(("wavlink.commands.", REMOTE_CODE)):
            continue
        text = path.read_text()
        lines = text.splitlines()
        tree = ast.parse(text)
        parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if not isinstance(node, (ast.Import, ast.ImportFrom)) or _guarded(node, parents):
                    continue
                if "# lazy:" in lines[node.end_lineno - 1]:
                    continue
                if isinstance(node, ast.ImportFrom) and node.level:
                    top = "wavlink"
                else:
                    top = (node.module if isinstance(node, ast.ImportFrom) else node.names[0].name).split(".")[0]
                if top in stdlib or top in always:
                    bad.append(f"{module}:{node.lineno} {ast.unparse(node)}")
    assert not bad, sorted(set(bad))


def test_no_script_shadows_an_installed_module():
    """`python scripts/x.py` puts scripts/ first on sys.path: a script named like a package (a scripts/evaluate.py
    once hid the `evaluate` library that wavlink.metrics imports) breaks every import of that package there."""
    import importlib.util

    scripts = PACKAGE.parent / "scripts"
    shadowing = []
    for path in sorted(scripts.rglob("*.py")):
        folder = str(path.parent)
        found = importlib.util.find_spec(path.stem) if path.stem not in sys.modules else True
        if found is True or (found is not None and os.path.dirname(found.origin or "") != folder):
            shadowing.append(str(path.relative_to(PACKAGE.parent)))
    assert not shadowing, shadowing
