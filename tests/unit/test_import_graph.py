"""The import graph of the project, read from the source (module-level, in-function and TYPE_CHECKING
imports alike): no cycle anywhere, and every import goes the way docs/architecture.md draws it.

    handlers ─▶ bot ─▶ store          scheduler ─▶ bot, store
    bot.kernel imports no feature, no feature imports the composition root, and a feature imports
    another only in the order of FEATURE_ORDER (deals first: everything can refer to a deal).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "handlers", "store", "scheduler")
# The wiring may import everything: it builds the aiohttp app, the platforms and the scheduler.
WIRING = {"bot.wiring", "bot.app", "bot.cli"}
# A feature may import the features before it, never one after it.
FEATURE_ORDER = ("deals", "leads", "questions", "mdf", "content", "nudges", "performance")
# What builds or drives the features; none of them may be imported by a feature.
ABOVE_FEATURES = {"bot.bootstrap", "bot.conversation", "bot.demo", "bot.wiring", "bot.app", "bot.cli"}


def module_of(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                found[module_of(path)] = path
    return found


MODULES = project_modules()


def resolve(name: str) -> str | None:
    """The project module an import name lands in (``bot.kernel.refs.DEAL`` -> ``bot.kernel.refs``)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imported_names(path: Path, module: str) -> Iterator[str]:
    """Every name ``path`` imports, anywhere in the file; relative imports made absolute."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                yield f"{base}.{alias.name}"


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        targets = {resolve(name) for name in imported_names(path, module)}
        edges[module] = {t for t in targets if t and t != module}
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def feature_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[2] if parts[:2] == ["bot", "features"] and len(parts) > 2 else None


def layer_breaks(edges: dict[str, set[str]]) -> list[str]:
    broken = []
    for source, targets in sorted(edges.items()):
        top = source.split(".")[0]
        for target in sorted(targets):
            to = target.split(".")[0]
            why = None
            if source in WIRING:
                continue
            if top == "handlers" and to in ("store", "scheduler"):
                why = "handlers ask the core; they never touch the store or the scheduler"
            elif top == "bot" and to in ("handlers", "scheduler"):
                why = "the core knows no platform and no cadence"
            elif top == "store" and to != "store":
                why = "the store imports nothing of ours"
            elif top == "scheduler" and to == "handlers":
                why = "jobs reach people through the outbox"
            elif source.startswith("bot.kernel") and not target.startswith("bot.kernel") and to == "bot":
                why = "the kernel imports no feature and nothing above it"
            elif source == "bot.conversation" and not target.startswith(("bot.kernel", "store")):
                why = "the conversation knows no feature: skills plug into it"
            elif feature_of(source) and target in ABOVE_FEATURES:
                why = "a feature imports the kernel, people, config, intents and earlier features only"
            elif (a := feature_of(source)) and (b := feature_of(target)) and a != b:
                if FEATURE_ORDER.index(b) > FEATURE_ORDER.index(a):
                    why = f"{a} comes before {b} in FEATURE_ORDER"
            if why:
                broken.append(f"{source} imports {target}: {why}")
    return broken


def test_the_project_has_no_import_cycle() -> None:
    found = cycles(graph())
    assert not found, "\n".join(" <-> ".join(c) for c in found)


def test_every_import_goes_the_way_the_layers_go() -> None:
    broken = layer_breaks(graph())
    assert not broken, "\n".join(broken)


# Platform SDKs and the web framework: only handlers/ (and the wiring) may import them; the Agents SDK
# only handlers/teams/ (bench/ builds a bare Agents SDK app as the Teams ingress baseline: a harness).
PLATFORM_SDKS = ("slack_bolt", "slack_sdk", "microsoft_agents", "aiohttp")


def test_platform_sdks_stay_in_the_handlers() -> None:
    found = []
    for module, path in MODULES.items():
        top = module.split(".")[0]
        if module in WIRING or top == "handlers":
            continue
        for name in imported_names(path, module):
            if name.split(".")[0] in PLATFORM_SDKS:
                found.append(f"{module} imports {name}")
    assert not found, "\n".join(found)


def test_the_agents_sdk_stays_in_the_teams_handlers() -> None:
    found = [
        f"{module} imports {name}"
        for module, path in MODULES.items()
        if not module.startswith("handlers.teams")
        for name in imported_names(path, module)
        if name.split(".")[0] == "microsoft_agents"
    ]
    assert not found, "\n".join(found)


def test_no_module_named_utils() -> None:
    names = {module.rpartition(".")[2] for module in MODULES}
    assert "utils" not in names and "helpers" not in names


def test_every_feature_package_is_listed_in_the_order() -> None:
    on_disk = {p.name for p in (ROOT / "bot" / "features").iterdir() if (p / "__init__.py").exists()}
    assert on_disk == set(FEATURE_ORDER)


@pytest.mark.parametrize(
    ("edges", "expected"),
    [
        ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
        ({"a": {"b"}, "b": set()}, []),
    ],
)
def test_the_cycle_finder_finds_cycles(edges: dict[str, set[str]], expected: list[list[str]]) -> None:
    assert cycles(edges) == expected


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ("handlers.slack.app", "store.queries"),
        ("bot.features.deals.service", "handlers.slack.blocks"),
        ("store.models", "bot.kernel.refs"),
        ("bot.kernel.refs", "bot.features.deals.model"),
        ("bot.features.leads.service", "bot.bootstrap"),
        ("bot.features.mdf.skill", "bot.conversation"),
        ("bot.conversation", "bot.features.deals.skill"),
        ("bot.features.deals.service", "bot.features.leads.model"),
        ("scheduler.jobs", "handlers.slack.app"),
    ],
)
def test_the_layer_check_catches_a_break(source: str, target: str) -> None:
    assert layer_breaks({source: {target}})
