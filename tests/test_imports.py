"""The package's layers: no import cycle anywhere in sercore, and the schemas import nothing heavy."""
import ast
import subprocess
import sys

from sercore.paths import project_root

PKG = project_root() / "sercore"


def _module(path):
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _graph() -> dict:
    """module -> sercore modules it imports (at any depth of the file: function-level imports count)."""
    mods = {_module(p): p for p in PKG.rglob("*.py")}
    graph = {}
    for name, path in mods.items():
        pkg = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = pkg.split(".")
                    base = base[: len(base) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                cands = [target] + [f"{target}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                cands = [a.name for a in node.names]
            else:
                continue
            for c in cands:
                if c in mods and c != name:
                    deps.add(c)
        graph[name] = deps
    return graph


def _cycles(graph):
    seen, stack, on, out = set(), [], set(), []

    def visit(n):
        seen.add(n)
        stack.append(n)
        on.add(n)
        for d in sorted(graph[n]):
            if d in on:
                out.append(stack[stack.index(d):] + [d])
            elif d not in seen:
                visit(d)
        stack.pop()
        on.discard(n)

    for n in sorted(graph):
        if n not in seen:
            visit(n)
    return out


def test_graph_sees_known_edges():
    g = _graph()
    assert "sercore.runs" in g["sercore.book"] and "sercore.schemas" in g["sercore.runs.params"]   # from ..schemas
    assert "sercore.results" in g["sercore.leaderboard"]


def test_a_cycle_is_found():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


def test_no_import_cycle_in_sercore():
    g = _graph()
    # a package's __init__ importing its own submodules is how Python packages work; edges from a
    # submodule back to its package's __init__ (e.g. `from . import Method`) are what make cycles
    for name in list(g):
        g[name] = {d for d in g[name] if not (name.startswith(d + ".") and name in g[d])}
    cycles = _cycles(g)
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_schemas_and_cli_parsing_import_no_torch():
    code = "import sys, sercore.cli, sercore.runs; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
