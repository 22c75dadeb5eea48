"""Build the Microsoft Teams app package (the zip an admin uploads or side-loads).

The source lives in the repository's ``teams/`` folder: ``manifest.json`` with a placeholder app id
and the placeholder host ``partnerbot.example.com``, plus the two icons. A package is that manifest
with the deployer's bot id and public host filled in, and the three files at the root of a zip, which
is the layout Teams requires (no folder inside the archive).

Standard library only; nothing here talks to the Bot Framework.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

TEAMS_SOURCE_DIR = Path(__file__).resolve().parents[2] / "teams"

PLACEHOLDER_APP_ID = "00000000-0000-4000-8000-000000000000"
PLACEHOLDER_HOST = "partnerbot.example.com"

MANIFEST_NAME = "manifest.json"
COLOR_ICON_NAME = "color.png"
OUTLINE_ICON_NAME = "outline.png"
PACKAGE_FILES = (MANIFEST_NAME, COLOR_ICON_NAME, OUTLINE_ICON_NAME)

DEFAULT_PACKAGE_NAME = "partnerbot-teams.zip"

# The pattern the Teams manifest schema uses for ids (definitions/guid).
_GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
# One DNS label (RFC 1123): letters, digits, hyphens inside, 1-63 characters.
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")

# Fixed timestamp for zip entries, so the same inputs always give byte-identical packages.
_ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)


def build_teams_package(
    *,
    out: Path,
    app_id: str | None = None,
    host: str | None = None,
    source_dir: Path | None = None,
) -> Path:
    """Write the Teams app package and return the path of the zip written.

    ``out`` is the zip file to write (parent folders are created); when it is an existing folder, the
    package is written there as ``partnerbot-teams.zip``. An existing file is replaced atomically, so a
    failed build never leaves a half-written package.

    ``app_id`` (the bot's Microsoft App ID, a GUID) becomes the manifest ``id``, every ``bots[].botId``
    and every ``composeExtensions[].botId`` (the message extension runs on the same bot); ``host`` (a
    bare host name such as ``partners.acme.com``) replaces ``partnerbot.example.com`` in every URL and
    in ``validDomains``. Left out, the placeholders stay.

    Raises ``ValueError`` for a malformed app id or host, a source manifest that does not name the
    icons ``color.png``/``outline.png``, or one that still holds the placeholder app id somewhere the
    app id is not set; ``FileNotFoundError`` when a source file is missing.
    """
    source = TEAMS_SOURCE_DIR if source_dir is None else Path(source_dir)
    manifest = _read_source_manifest(source)
    if app_id is not None:
        _set_app_id(manifest, _checked_app_id(app_id))
    if host is not None:
        manifest = _replace_host(manifest, old=PLACEHOLDER_HOST, new=_checked_host(host))

    target = Path(out)
    if target.is_dir():
        target = target / DEFAULT_PACKAGE_NAME
    target.parent.mkdir(parents=True, exist_ok=True)

    contents = {
        MANIFEST_NAME: (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8"),
        COLOR_ICON_NAME: (source / COLOR_ICON_NAME).read_bytes(),
        OUTLINE_ICON_NAME: (source / OUTLINE_ICON_NAME).read_bytes(),
    }
    _write_zip_atomically(target, contents)
    return target


def _read_source_manifest(source: Path) -> dict[str, Any]:
    missing = [name for name in PACKAGE_FILES if not (source / name).is_file()]
    if missing:
        raise FileNotFoundError(f"Teams package source {source} lacks {', '.join(missing)}")
    manifest = json.loads((source / MANIFEST_NAME).read_text(encoding="utf-8"))
    if not isinstance(manifest, dict):
        raise ValueError(f"{source / MANIFEST_NAME} must hold a JSON object")
    icons = manifest.get("icons", {})
    if icons.get("color") != COLOR_ICON_NAME or icons.get("outline") != OUTLINE_ICON_NAME:
        raise ValueError(
            f"{source / MANIFEST_NAME}: icons must be {COLOR_ICON_NAME!r} and {OUTLINE_ICON_NAME!r} "
            f"(the files packaged next to it), got {icons!r}"
        )
    return manifest


def _checked_app_id(app_id: str) -> str:
    candidate = app_id.strip()
    if not _GUID.match(candidate):
        raise ValueError(
            f"Teams app id must be the bot's Microsoft App ID, a GUID such as "
            f"{PLACEHOLDER_APP_ID}; got {app_id!r}"
        )
    return candidate


def _checked_host(host: str) -> str:
    candidate = host.strip().lower().rstrip(".")
    labels = candidate.split(".")
    valid = (
        len(candidate) <= 253
        and len(labels) >= 2
        and all(_LABEL.match(label) for label in labels)
        and not labels[-1].isdigit()  # a top-level label is never all digits: rejects IPv4 addresses
    )
    if not valid:
        raise ValueError(
            f"Teams host must be a public host name only, such as partners.example.org "
            f"(no scheme, port or path); got {host!r}"
        )
    return candidate


def _set_app_id(manifest: dict[str, Any], app_id: str) -> None:
    # A bot-only app may use the bot's App ID as the Teams app id too; partnerbot does. Its message
    # extension is served by the same bot, so it carries the same id.
    manifest["id"] = app_id
    bots = manifest.get("bots") or []
    if not bots:
        raise ValueError("Teams manifest has no bot to carry the app id")
    for entry in [*bots, *(manifest.get("composeExtensions") or [])]:
        entry["botId"] = app_id
    # A placeholder left anywhere else (a new field that names the bot) would ship a package Teams
    # refuses or, worse, one pointing at nobody's bot: refuse it here instead.
    if PLACEHOLDER_APP_ID in json.dumps(manifest):
        raise ValueError(
            f"Teams manifest still holds the placeholder app id {PLACEHOLDER_APP_ID} outside id, "
            f"bots[].botId and composeExtensions[].botId; teach _set_app_id about that field"
        )


def _replace_host(node: Any, *, old: str, new: str) -> Any:
    """A copy of ``node`` with host ``old`` replaced by ``new`` wherever a string is that host or a URL on it."""
    if isinstance(node, dict):
        return {key: _replace_host(value, old=old, new=new) for key, value in node.items()}
    if isinstance(node, list):
        return [_replace_host(value, old=old, new=new) for value in node]
    if isinstance(node, str):
        if node == old:
            return new
        if "://" in node:
            parts = urlsplit(node)
            if parts.hostname == old:
                netloc = new if parts.port is None else f"{new}:{parts.port}"
                return urlunsplit(parts._replace(netloc=netloc))
    return node


def _write_zip_atomically(target: Path, contents: dict[str, bytes]) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh, zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name, data in contents.items():
                info = zipfile.ZipInfo(name, date_time=_ZIP_DATE_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                zf.writestr(info, data)
        os.chmod(tmp_name, 0o644)  # mkstemp makes the file private; a package is meant to be shared
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
