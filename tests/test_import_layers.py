"""The import graph of taming_lite: the modules stand on floors and every import points down (issue 33).

The graph is read from the source with `ast` (nothing is imported): every `import` and `from ... import`
of a taming_lite module, at the top of a file or inside a function (a lazy import is a dependency all
the same), relative imports resolved, a name the package exports lazily (`from taming_lite import
Pipeline`, `taming_lite._EXPORTS`) counted as an import of the module that defines it."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import deque
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "taming_lite"

# The floors, lowest first. A module may import only modules on lower floors (modules of one floor stand
# beside each other: neither imports the other). The modules not named here (data/, train/, evaluate,
# evaluators, ...) are held by the rule of no circle only.
TASK_MODULES = ("completion", "depth", "labels", "superres", "pose")
FLOORS = (
    ("device", "seeds", "superres", "images"),  # where models run; arrays <-> tensors; imports nothing of ours
    ("gpt", "vqgan", "cond_encoder"),          # the models
    ("sampling",),
    ("net2net", "pixelgpt", "quantize"),
    ("tasks.base",),                           # what a task is (its model-side methods read the models)
    tuple(f"tasks.{t}" for t in TASK_MODULES),  # one module per task
    ("tasks",),                                # the table of tasks
    ("checkpoints",),                          # our format and the original's
    ("registry",),                             # the registry schema: the lowest of the io that uses it
    ("download",),                             # direct download links
    ("hub",),                                  # names -> files: folders, the registry, the Hub, download links
    ("pipeline", "imagegpt", "photo"),         # a task end to end; the pixel baseline; photo -> condition estimators
)
# what the app (app.py, demos/) must not import: it reaches models through the pipeline and its model store
MODEL_MODULES = {f"{PACKAGE}.{m}" for m in ("gpt", "net2net", "vqgan", "cond_encoder", "pixelgpt", "quantize")}
MODEL_NAMES = {"GPT", "GPTConfig", "KVCache", "Net2NetTransformer", "Net2NetConfig", "VQGAN", "VQGANConfig",
               "PixelGPT", "PixelGPTConfig", "CondEncoder", "CondEncoderConfig"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted((ROOT / PACKAGE).rglob("*.py"))}


def lazy_exports() -> dict[str, str]:
    """taming_lite.__init__'s `_EXPORTS`: name -> the module that defines it."""
    tree = ast.parse((ROOT / PACKAGE / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "_EXPORTS" for t in node.targets):
            return {k: f"{PACKAGE}.{v}" for k, v in ast.literal_eval(node.value).items()}
    return {}


def imports_of(path: Path, known: set[str], exports: dict[str, str],
               name: str | None = None) -> list[tuple[str, str, int]]:
    """(module, name, line) for each taming_lite import in a file, anywhere in it; `name` is what a
    `from` import takes ("" for a plain import). `name`: the file's module name (default: from its path)."""
    name = name or module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(a.name, "", node.lineno) for a in node.names if a.name.split(".")[0] == PACKAGE]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != PACKAGE:
                continue
            for a in node.names:
                sub = f"{target}.{a.name}"
                if sub in known:             # from taming_lite import hub
                    out.append((sub, "", node.lineno))
                elif target == PACKAGE and a.name in exports:  # from taming_lite import Pipeline (lazy)
                    out.append((exports[a.name], a.name, node.lineno))
                else:
                    out.append((target, a.name, node.lineno))
    return out


def import_graph() -> dict[str, set[str]]:
    modules = package_modules()
    exports = lazy_exports()
    return {m: {t for t, _, _ in imports_of(p, set(modules), exports) if t != m} for m, p in modules.items()}


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def path_between(graph: dict[str, set[str]], a: str, b: str) -> list[str]:
    """A shortest import path from a to b (breadth first)."""
    came = {a: None}
    todo = deque([a])
    while todo:
        m = todo.popleft()
        for nxt in sorted(graph.get(m, ())):
            if nxt == b:
                path = [b, m]
                while came[path[-1]] is not None:
                    path.append(came[path[-1]])
                return path[::-1]
            if nxt not in came:
                came[nxt] = m
                todo.append(nxt)
    return []


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One circle per group of modules that import each other, as an import path a -> ... -> a."""
    reach = {m: reachable(graph, m) for m in graph}
    done: set[str] = set()
    out = []
    for m in sorted(graph):
        if m in done or m not in reach[m]:
            continue
        done |= {n for n in reach[m] if m in reach[n]}
        out.append(path_between(graph, m, m))
    return out


def short(m: str) -> str:
    return m.removeprefix(f"{PACKAGE}.")


@pytest.fixture(scope="module")
def graph():
    return import_graph()


def test_the_graph_is_read_right(graph):
    """The reader finds top-level, function-level, relative and lazily exported imports."""
    assert f"{PACKAGE}.tasks" in graph[f"{PACKAGE}.data.datasets"]          # from ..tasks import ...
    assert f"{PACKAGE}.hub" in graph[f"{PACKAGE}.pipeline"]                  # from . import hub, in a method
    assert f"{PACKAGE}.download" in graph[f"{PACKAGE}.hub"]                  # from .download import ..., in a function
    assert graph[f"{PACKAGE}.data"] >= {f"{PACKAGE}.data.human", f"{PACKAGE}.data.labels"}
    exports = lazy_exports()
    assert exports["Pipeline"] == f"{PACKAGE}.pipeline" and exports["VQGANConfig"] == f"{PACKAGE}.vqgan"
    assert {m for floor in FLOORS for m in floor} <= {short(m) for m in graph}


def test_no_circle_among_the_modules(graph):
    found = cycles(graph)
    assert not found, "modules that import each other in a circle:\n" + "\n".join(
        " -> ".join(short(m) for m in c) for c in found)


def test_every_import_among_the_floors_points_down(graph):
    floor_of = {f"{PACKAGE}.{m}": i for i, floor in enumerate(FLOORS) for m in floor}
    wrong = [f"{short(m)} (floor {floor_of[m]}) imports {short(t)} (floor {floor_of[t]})"
             for m in sorted(floor_of) for t in sorted(graph[m]) if t in floor_of and floor_of[t] >= floor_of[m]]
    assert not wrong, "\n".join(wrong)


def test_the_tasks_stand_below_io(graph):
    """A task module reads the models and the data (lazily, in its methods), never io or the pipeline; the
    table imports only its task modules; and importing it loads neither torch nor anything else of ours
    (tests/test_tasks.py): the data sets and the registry read it."""
    task_modules = {f"{PACKAGE}.tasks.{t}" for t in ("base",) + TASK_MODULES}
    assert graph[f"{PACKAGE}.tasks"] == task_modules | {f"{PACKAGE}.data.labels"}  # COCO_STUFF_CLASSES, lazily
    io = {f"{PACKAGE}.{m}" for m in ("checkpoints", "registry", "download", "hub", "pipeline", "evaluate",
                                     "evaluators", "train")}
    wrong = {m: sorted(graph[m] & io) for m in task_modules if graph[m] & io}
    assert not wrong, wrong


def test_io_is_a_line(graph):
    """The registry (schema) imports neither download nor the Hub nor the pipeline; download imports neither
    the Hub nor the pipeline; the Hub not the pipeline."""
    above = {"registry": {"download", "hub", "pipeline"}, "download": {"hub", "pipeline"}, "hub": {"pipeline"},
             "checkpoints": {"registry", "download", "hub", "pipeline"}}
    for low, high in above.items():
        got = {short(t) for t in graph[f"{PACKAGE}.{low}"]} & high
        assert not got, f"{low} imports {sorted(got)}"


def test_the_app_reaches_models_through_the_pipeline():
    """app.py and demos/ take no model module and no model or config class (GPTConfig, Net2NetConfig,
    VQGANConfig, ...): they get models from the pipeline and the model store (demos/models.py)."""
    known = set(package_modules())
    exports = lazy_exports()
    wrong = []
    for path in [ROOT / "app.py", *sorted((ROOT / "demos").glob("*.py"))]:
        for module, name, line in imports_of(path, known, exports):
            if module in MODEL_MODULES or name in MODEL_NAMES:
                wrong.append(f"{path.relative_to(ROOT)}:{line}: {module}{'.' + name if name else ''}")
    assert not wrong, "\n".join(wrong)


def test_a_planted_circle_is_found(tmp_path):
    """The checks themselves: a registry that imported the Hub would be a circle and an upward import."""
    g = import_graph()
    g[f"{PACKAGE}.registry"] = g[f"{PACKAGE}.registry"] | {f"{PACKAGE}.hub"}
    assert any({f"{PACKAGE}.registry", f"{PACKAGE}.hub"} <= set(c) for c in cycles(g))
    planted = tmp_path / "tab.py"
    planted.write_text("def f():\n    from taming_lite import GPTConfig\n"
                       "    from taming_lite.net2net import check_guidance\n")
    got = imports_of(planted, set(package_modules()), lazy_exports(), name="demos.tab")
    assert [(m, n) for m, n, _ in got] == [(f"{PACKAGE}.gpt", "GPTConfig"), (f"{PACKAGE}.net2net", "check_guidance")]


def test_lower_layers_do_not_import_higher_ones():
    """What runs: importing checkpoints / hub / registry / download / tasks / pipeline loads no evaluate,
    evaluators, train, demos or gradio."""
    code = ("import sys, taming_lite.checkpoints, taming_lite.hub, taming_lite.registry, taming_lite.download, "
            "taming_lite.tasks, taming_lite.pipeline; print(sorted(m for m in sys.modules if m.startswith(("
            "'taming_lite.evaluat', 'taming_lite.train', 'demos', 'gradio'))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr
