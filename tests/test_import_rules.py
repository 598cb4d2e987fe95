"""The import directions of ../shared/DESIGN.md, checked on every module's syntax tree."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
OURS = ("issuer", "tee_sim", "liveness", "web")
# Never importable by each package (beyond the stdlib and its listed third-party libraries).
FORBIDDEN = {
    "tee_sim": {"issuer", "liveness", "web", "flask", "sqlalchemy", "cv2", "mediapipe", "numpy"},
    "liveness": {"issuer", "tee_sim", "web", "flask", "sqlalchemy", "nacl"},
    "issuer": {"tee_sim", "liveness", "web", "flask", "flask_wtf", "werkzeug", "cv2", "mediapipe",
               "redis"},
}
# What `web` may reach of the standalone packages: their public names only.
PUBLIC_MODULES = {"tee_sim", "tee_sim.wallet", "liveness", "liveness.corpus"}


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_nothing_forbidden(package: str) -> None:
    offences = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in _modules(package)
        for line, name in _imports(path)
        if name.split(".")[0] in FORBIDDEN[package]
    ]
    assert offences == []


def test_only_landmarks_imports_mediapipe() -> None:
    importers = {
        str(path.relative_to(ROOT))
        for package in OURS
        for path in _modules(package)
        for _, name in _imports(path)
        if name.split(".")[0] == "mediapipe"
    }
    assert importers == {"liveness/landmarks.py"}


def test_web_uses_only_public_names_of_the_standalone_packages() -> None:
    offences = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in _modules("web")
        for line, name in _imports(path)
        if name.split(".")[0] in {"tee_sim", "liveness"} and name not in PUBLIC_MODULES
    ]
    assert offences == []


def test_the_rules_see_real_imports() -> None:
    # Guards the checker itself: it must find the imports it is meant to police.
    found = {name for path in _modules("web") for _, name in _imports(path)}
    assert {"tee_sim", "liveness"} <= found
