"""The shape of the code: no import cycles, layers import downwards, no import-time side effects."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import Dict, Set

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("common", "symbol", "dataset", "detect", "evaluate", "train", "serve", "tools")
#: Each package may import itself and the packages before it in this order; nothing imports tools.
LAYERS = {"common": 0, "symbol": 1, "dataset": 1, "detect": 2, "evaluate": 3, "train": 4, "serve": 4,
          "tools": 5}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> Dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py")}


def _imports(path: Path, known: Set[str]) -> Set[str]:
    """Project modules ``path`` imports anywhere: at the top, inside functions, under TYPE_CHECKING."""
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                 else [node.module] + [f"{node.module}.{a.name}" for a in node.names] if node.module else [])
        found.update(n for n in names if n in known)
    return found


def _graph() -> Dict[str, Set[str]]:
    modules = _modules()
    return {name: _imports(path, set(modules)) - {name} for name, path in modules.items()}


def _cycle(graph: Dict[str, Set[str]]):
    state: Dict[str, int] = {}
    stack = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        state[node] = 2
        stack.pop()
        return None
    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_import_cycle_between_project_modules():
    """No cycle of any length, counting every import: at the top, inside functions and under TYPE_CHECKING.
    (A package's __init__ may import its own submodules as long as they do not import it back.)"""
    graph = _graph()
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_no_two_modules_import_each_other():
    graph = _graph()
    mutual = sorted({tuple(sorted((a, b))) for a, imported in graph.items() for b in imported
                     if a in graph.get(b, ())})
    assert len(mutual) == 0, mutual


def test_the_cycle_finder_finds_a_cycle_through_a_lazy_or_type_checking_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import b\n"
                      "def f():\n    import c\n")
    assert _imports(module, {"b", "c", "d"}) == {"b", "c"}
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_layers_import_only_downwards():
    wrong = []
    for module, imported in _graph().items():
        layer = LAYERS[module.split(".")[0]]
        for other in imported:
            pkg = other.split(".")[0]
            if pkg != module.split(".")[0] and LAYERS[pkg] >= layer:
                wrong.append(f"{module} imports {other}")
    assert not wrong, wrong


def test_no_module_changes_the_environment_on_import():
    # The third-party libraries first: some set variables of their own (MXNet sets KMP_*).
    probe = ("import importlib, os, sys\n"
             "import cv2, gluoncv, matplotlib, mxboard, mxnet, numpy, onnx, onnxruntime, pycocotools\n"
             "before = dict(os.environ)\n"
             "for name in sys.argv[1:]:\n"
             "    importlib.import_module(name)\n"
             "changed = {k for k in set(before) | set(os.environ) if before.get(k) != os.environ.get(k)}\n"
             "print('CHANGED', sorted(changed))\n")
    names = sorted(n for n in _modules() if not n.endswith("__main__"))
    out = subprocess.run([sys.executable, "-c", probe, *names], cwd=REPO, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "CHANGED []" in out.stdout, out.stdout[-500:]


def test_no_runtime_rule_left_for_entry_points_to_remember():
    marker = "noqa: " + "E402"  # import below code: the old "configure the runtime first" rule
    files = [p for pkg in PACKAGES + ("tests",) for p in (REPO / pkg).rglob("*.py")]
    offenders = [str(p.relative_to(REPO)) for p in files if marker in p.read_text()]
    offenders += [s for s in ("train.py", "evaluate.py", "demo.py", "deploy.py", "serve.py")
                  if "runtime.configure" in (REPO / s).read_text()]
    assert not offenders, offenders
