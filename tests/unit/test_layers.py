"""Who may import whom (DESIGN.md): the core never imports handlers, scheduler or platform SDKs;
handlers never touch the store or scheduler; the store imports nothing of ours but itself."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WIRING = {"bot/app.py", "bot/cli.py"}
PLATFORM_SDKS = ("slack_bolt", "slack_sdk", "botbuilder", "aiohttp")
RULES = {
    # package: forbidden import prefixes
    "bot": ("handlers", "scheduler", *PLATFORM_SDKS),
    "handlers": ("store", "scheduler"),
    "scheduler": ("handlers", *PLATFORM_SDKS),
    "store": ("bot", "handlers", "scheduler", *PLATFORM_SDKS),
}


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def python_files(package: str) -> list[Path]:
    return [p for p in (ROOT / package).rglob("*.py") if str(p.relative_to(ROOT)) not in WIRING]


@pytest.mark.parametrize("package", sorted(RULES))
def test_layer_contract(package: str) -> None:
    violations = []
    for path in python_files(package):
        for module in imports_of(path):
            if any(module == banned or module.startswith(banned + ".") for banned in RULES[package]):
                violations.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not violations, "\n".join(violations)


def test_botbuilder_stays_in_the_teams_handlers() -> None:
    for path in ROOT.glob("**/*.py"):
        rel = path.relative_to(ROOT)
        # bench/ builds a bare botbuilder app as the Teams ingress baseline; it is a harness, not the product.
        if rel.parts[0] in (".venv", "tests", "bench") or rel.parts[:2] == ("handlers", "teams"):
            continue
        assert not any(m.startswith("botbuilder") for m in imports_of(path)), f"{rel} imports botbuilder"


def test_no_module_named_utils() -> None:
    names = {p.stem for p in ROOT.glob("*/**/*.py") if ".venv" not in p.parts}
    assert "utils" not in names and "helpers" not in names
