"""requirements.lock: exact versions of every dependency, inside pyproject's ranges, and the one thing
`make` (so `make run`, `make test` and CI) installs from."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements.lock"
# The lock is resolved for every platform on Python 3.11 (uv --universal); it is read here as pip does
# on the Linux 3.11 of the container and CI.
LINUX_311 = {**default_environment(), "python_version": "3.11", "python_full_version": "3.11.7"}
LINUX_311 |= {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix"}


def locked(lock: Path = LOCK) -> dict[str, str]:
    """name -> version of every pin of ``lock`` that applies on Linux, Python 3.11."""
    pins: dict[str, str] = {}
    for line in lock.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        requirement = Requirement(line)
        specifiers = list(requirement.specifier)
        assert len(specifiers) == 1 and specifiers[0].operator == "==", f"not an exact pin: {line}"
        if requirement.marker is None or requirement.marker.evaluate(LINUX_311):
            name = canonicalize_name(requirement.name)
            assert name not in pins, f"{name} is pinned twice for Linux, Python 3.11"
            pins[name] = specifiers[0].version
    return pins


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(r) for r in [*project["dependencies"], *project["optional-dependencies"]["dev"]]]


def test_every_dependency_is_pinned_within_its_range() -> None:
    pins = locked()
    for requirement in declared():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is in pyproject.toml but not in requirements.lock: run `make lock`"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"requirements.lock pins {name}=={pins[name]}, outside pyproject's {requirement.specifier}: "
            "run `make lock`"
        )
        for extra in requirement.extras:  # sqlalchemy[asyncio], psycopg[binary]: their packages too
            wanted = {"asyncio": "greenlet", "binary": "psycopg-binary"}.get(extra)
            assert wanted is None or wanted in pins, f"{name}[{extra}] needs {wanted} in the lock"


def test_make_and_ci_install_from_the_lock() -> None:
    makefile = (ROOT / "Makefile").read_text()
    install = makefile.split("$(STAMP):", 1)[1].split("\n\n", 1)[0]
    assert "LOCK := requirements.lock" in makefile
    assert "pip install --quiet -r $(LOCK)" in install
    assert "--no-deps -e ." in install and '-e ".[dev]"' not in install
    assert re.search(r"^lock:", makefile, re.MULTILINE), "`make lock` regenerates the lock file"
    assert "make test" in (ROOT / ".ci" / "run").read_text()
