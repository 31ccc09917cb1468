"""The package layering of domain/ (docs/architecture.md): core <- ledger <- people <- capabilities.
A package imports only from its own layer or the layers below it; imports inside functions (lazy
ones) count too. `Actor` and who may act come from domain/core/actor.py, CSV writing from
domain/core/csv_export.py.

There are none: what a lower layer needs of a higher one is passed in by the caller (the rule behind a
statement line, the check-in a join request completes), or lives in core (the outbox, held acts and
flags, the codes). A new back-edge fails; KNOWN_BACK_EDGES stays empty."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYERS = {"core": 0, "ledger": 1, "people": 2}  # every other package of domain/ is a capability (3)

# (from package, to package): the modules that import up. None may.
KNOWN_BACK_EDGES: dict[tuple[str, str], set[str]] = {}


def _package(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "domain" else None


def back_edges() -> dict[tuple[str, str], set[str]]:
    found: dict[tuple[str, str], set[str]] = {}
    for path in (ROOT / "domain").rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        package = parts[1] if len(parts) > 2 or parts[-1] != "__init__" else None
        if package is None or parts[1] == "__init__":
            continue
        here = parts[:-1]  # the module's package path, for relative imports
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):  # every import, lazy ones too
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = ".".join(here[: len(here) - node.level + 1]) + "." if node.level else ""
                module = base + (node.module or "")
                targets = [module] + [f"{module}.{alias.name}" for alias in node.names]
            else:
                continue
            for target in targets:
                other = _package(target.strip("."))
                if other and other != package and LAYERS.get(other, 3) > LAYERS.get(package, 3):
                    found.setdefault((package, other), set()).add(path.relative_to(ROOT).as_posix())
    return found


def test_no_package_imports_a_layer_above_it():
    assert back_edges() == KNOWN_BACK_EDGES


def test_actor_and_csv_come_from_core():
    offenders = []
    for top in ("api", "domain"):
        for path in (ROOT / top).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            if path.name != "orgs.py" and ("orgs.Actor" in text or "from domain.people.orgs import Actor" in text):
                offenders.append(path.relative_to(ROOT).as_posix())
    core = (ROOT / "domain" / "core")
    assert not any("domain.rankings" in p.read_text(encoding="utf-8") for p in core.rglob("*.py"))
    assert offenders == []


def test_package_init_files_only_re_export():
    """A capability's code sits in named modules; its __init__.py holds a docstring and imports only."""
    doing = {}
    for init in sorted((ROOT / "domain").glob("*/__init__.py")):
        body = ast.parse(init.read_text(encoding="utf-8")).body
        code = [type(node).__name__ for node in body
                if not isinstance(node, (ast.Import, ast.ImportFrom))
                and not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))]
        if code:
            doing[init.relative_to(ROOT).as_posix()] = code
    assert doing == {}
