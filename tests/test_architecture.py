"""The house rules of the package, read from the source: no import cycle inside ``posecore`` (imports
inside functions count too), and ``posecore.models.*`` hold networks and pure maths only."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "posecore"
# what a model file may never import: training, data readers, the user API and everything above them
FORBIDDEN_FOR_MODELS = ("posecore.train", "posecore.recipes", "posecore.data", "posecore.api", "posecore.cli",
                        "posecore.evaluate", "posecore.results", "posecore.book", "posecore.viz")


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Every posecore module ``path`` imports (absolute or relative, at any depth of the file)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "posecore"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.split(".")[0] != "posecore":
                continue
            out.add(mod)
            for a in node.names:                      # `from . import train` imports a module
                out.add(f"{mod}.{a.name}")
    return out


def graph() -> dict[str, set[str]]:
    mods = {module_name(p): p for p in ROOT.rglob("*.py")}
    g = {}
    for m, p in mods.items():
        deps = {d for d in imports_of(p) if d in mods and d != m}
        # importing posecore.x.y also runs posecore.x's __init__; keep the graph to the named modules
        g[m] = deps
    return g


def find_cycle(g: dict[str, set[str]]):
    state, stack = {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for d in sorted(g.get(n, ())):
            if state.get(d) == 1:
                return stack[stack.index(d):] + [d]
            if d not in state:
                c = visit(d)
                if c:
                    return c
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(g):
        if n not in state:
            c = visit(n)
            if c:
                return c
    return None


def test_no_import_cycle():
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle inside posecore: " + " -> ".join(cycle)


def test_cycle_detector_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("path", sorted((ROOT / "models").glob("*.py")), ids=lambda p: p.name)
def test_models_import_no_training_data_or_api(path):
    bad = sorted(d for d in imports_of(path) if d.startswith(FORBIDDEN_FOR_MODELS))
    assert not bad, f"{path.name} imports {bad}: model files hold networks and pure maths only"


def test_relative_imports_resolve():
    deps = imports_of(ROOT / "recipes" / "wang.py")
    assert "posecore.models.wang" in deps and "posecore.recipes.martinez" in deps


# the floors of the house, bottom first: a module imports only from its own floor or below (a package's
# modules are on the package's floor). A new top-level module must be placed here.
FLOORS = (
    ("skeleton", "camera", "cache", "profiles", "params", "results", "artefacts", "metrics", "losses",
     "geometric_search", "viz"),
    ("data", "models", "novelty"),
    ("train", "evaluate", "keypoints"),
    ("recipes",),
    ("chapter", "fingerprint", "api", "cli", "book"),
)


def floor_of(module: str) -> int | None:
    """The floor of ``posecore.<name>[.<sub>]``; None for the package itself (``posecore.__init__``)."""
    parts = module.split(".")
    if len(parts) < 2:
        return None
    for k, names in enumerate(FLOORS):
        if parts[1] in names:
            return k
    raise AssertionError(f"{module} is on no floor: add it to FLOORS in tests/test_architecture.py")


def test_no_arrow_up_a_floor():
    up = [(m, d) for m, deps in graph().items() for d in deps
          if floor_of(m) is not None and floor_of(d) is not None and floor_of(d) > floor_of(m)]
    assert not up, "imports that point up a floor: " + ", ".join(f"{m} -> {d}" for m, d in sorted(up))


def test_floor_check_finds_an_arrow_up():
    assert floor_of("posecore.models.zhou") < floor_of("posecore.recipes.zhou") < floor_of("posecore.api")
    with pytest.raises(AssertionError, match="on no floor"):
        floor_of("posecore.newthing")
