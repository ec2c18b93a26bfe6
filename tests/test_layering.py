"""Architecture rules, checked by reading the source (ARCHITECTURE.md §1 and §2).

Dependencies point one way, ``sim`` <- ``machine`` <- ``firmware`` <- ``kernel`` <-
``families`` <- ``kexts``; ``userland`` sits on top, and ``testing`` (helpers for
tests) above it.  Below ``userland`` nothing reads the host's clock, sleeps or starts
an OS thread, and nothing draws from Python's global random generator.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "kextlab"
ORDER = ["sim", "machine", "firmware", "kernel", "families", "kexts", "userland", "testing"]
#: Modules every layer may use: the package root and the exception tree.
SHARED = {"kextlab", "kextlab.errors"}
#: Host facilities that would make a run depend on the host (time, threads, global RNG).
FORBIDDEN_BELOW_USERLAND = {
    "time",
    "datetime",
    "threading",
    "_thread",
    "asyncio",
    "multiprocessing",
    "concurrent",
    "sched",
    "signal",
    "random",
}
#: The one module that owns seeded randomness.
RANDOM_OWNER = PACKAGE / "sim" / "rng.py"


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def layer_of(path: Path) -> str | None:
    relative = path.relative_to(PACKAGE).parts
    return relative[0] if len(relative) > 1 and relative[0] in ORDER else None


def runtime_imports(path: Path) -> list[tuple[str, int]]:
    """Imported module names, skipping ``if TYPE_CHECKING:`` blocks."""
    tree = ast.parse(path.read_text(), str(path))
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.module, node.lineno))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


@pytest.mark.parametrize("path", modules(), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_layers_import_only_what_lies_below_them(path: Path) -> None:
    """A module of layer N imports kextlab modules from layers <= N only."""
    layer = layer_of(path)
    if layer is None:
        return
    allowed = set(ORDER[: ORDER.index(layer) + 1])
    for name, line in runtime_imports(path):
        if not name.startswith("kextlab") or name in SHARED:
            continue
        target = name.split(".")[1]
        assert target in allowed, f"{path.name}:{line} ({layer}) imports {name} ({target})"


@pytest.mark.parametrize("path", modules(), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_nothing_below_userland_touches_host_time_threads_or_global_random(path: Path) -> None:
    """No wall clock, no sleep, no OS threads, no unseeded randomness below userland."""
    layer = layer_of(path)
    if layer is None or ORDER.index(layer) >= ORDER.index("userland"):
        return
    for name, line in runtime_imports(path):
        root = name.split(".")[0]
        if root == "random" and path == RANDOM_OWNER:
            continue
        assert root not in FORBIDDEN_BELOW_USERLAND, f"{path.name}:{line} imports {name}"


TOOLS = PACKAGE / "userland" / "tools"


@pytest.mark.parametrize("path", sorted(TOOLS.rglob("*.py")), ids=lambda path: path.name)
def test_apples_tools_reach_the_kernel_only_through_iokitlib(path: Path) -> None:
    """A tool sees the registry as user space does (ARCHITECTURE.md §7): through
    ``kextlab.userland.iokitlib``, never by importing the kernel."""
    for name, line in runtime_imports(path):
        assert not name.startswith("kextlab.kernel"), f"{path.name}:{line} imports {name}"


def test_the_rules_see_every_layer_that_exists() -> None:
    """Every package directory under kextlab is a known layer (a new one needs a rule)."""
    packages = {
        path.name for path in PACKAGE.iterdir() if path.is_dir() and (path / "__init__.py").exists()
    }
    assert packages <= set(ORDER)
    assert {"sim", "machine", "firmware", "userland"} <= packages
