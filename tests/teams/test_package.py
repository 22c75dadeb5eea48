"""The Teams app manifest, its icons, and the package ``handlers.teams.package`` builds from them.

The official schema is read at test time from the ``shared/schemas`` folder next to the repository
(or from ``$PARTNERBOT_SHARED_DIR/schemas``); it is never copied into the repository and never fetched.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import struct
import zipfile
import zlib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import regex
from jsonschema import FormatChecker, ValidationError
from jsonschema.validators import extend, validator_for
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource
from referencing.jsonschema import specification_with

from handlers.teams.package import PLACEHOLDER_APP_ID, PLACEHOLDER_HOST, build_teams_package

REPO_ROOT = Path(__file__).resolve().parents[2]
TEAMS_DIR = REPO_ROOT / "teams"
TEAMS_SCHEMA_NAME = "teams-manifest-1.30.json"
MANIFEST_VERSION = "1.30"
PACKAGE_FILES = {"manifest.json", "color.png", "outline.png"}

APP_ID = "3f2b8c1e-7a4d-4e6b-9c0f-1a2b3c4d5e6f"
HOST = "partners.acme-corp.com"


# --- loading -------------------------------------------------------------------------------------


def shared_schemas_dir() -> Path:
    """``$PARTNERBOT_SHARED_DIR/schemas`` if set, else ``<repo root>/../shared/schemas``."""
    shared = os.environ.get("PARTNERBOT_SHARED_DIR")
    base = Path(shared) if shared else Path(__file__).resolve().parents[2].parent / "shared"
    return base / "schemas"


def load_shared_schema(name: str) -> dict[str, Any]:
    """Read one official schema; fail on CI when it is missing, skip elsewhere."""
    path = shared_schemas_dir() / name
    if not path.is_file():
        message = f"schema {name} not found at {path} (set PARTNERBOT_SHARED_DIR to the shared folder)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return json.loads(path.read_text(encoding="utf-8"))


def _refuse_remote(uri: str) -> Resource:
    # Every $ref must resolve inside the local file: a test never reaches the network.
    raise NoSuchResource(ref=uri)


# JSON Schema patterns are ECMA-262 regular expressions, and the 1.30 schema uses one Python's ``re``
# cannot compile (``^[\p{L}][\p{L}0-9._]*$``, for Office add-in function names). The ``regex``
# package (in the lock through dateparser) reads ``\p{...}``, so patterns are checked and matched
# with it: the schema still passes its meta-schema check, and a manifest that reaches such a pattern
# is validated instead of crashing the validator.
def _is_ecma_regex(instance: object) -> bool:
    return not isinstance(instance, str) or bool(regex.compile(instance))


def _ecma_pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Any:
    if validator.is_type(instance, "string") and not regex.search(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def schema_errors(schema: dict[str, Any], document: Any) -> list[str]:
    """Every way ``document`` breaks ``schema``, with ``$ref``s resolved from the local file only."""
    declared = validator_for(schema)
    meta_formats = FormatChecker(list(declared.FORMAT_CHECKER.checkers))
    meta_formats.checks("regex", raises=regex.error)(_is_ecma_regex)
    declared.check_schema(schema, format_checker=meta_formats)
    cls = extend(declared, {"pattern": _ecma_pattern})
    resource = Resource.from_contents(
        schema, default_specification=specification_with(cls.META_SCHEMA["$schema"])
    )
    registry: Registry = Registry(retrieve=_refuse_remote)
    if resource.id():
        registry = registry.with_resource(resource.id(), resource)
    errors = sorted(cls(schema, registry=registry).iter_errors(document), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors]


def check_teams_manifest(schema: dict[str, Any], manifest: dict[str, Any]) -> None:
    errors = schema_errors(schema, manifest)
    assert not errors, "Teams manifest does not match its schema:\n" + "\n".join(errors)
    # The schema declares draft-04, which has no "const", so jsonschema ignores its
    # manifestVersion: "const": "1.30"; and "version" only has a maxLength although its description
    # demands semver.
    assert schema["properties"]["manifestVersion"]["const"] == MANIFEST_VERSION, "not the 1.30 schema"
    assert manifest["manifestVersion"] == MANIFEST_VERSION
    assert re.match(schema["definitions"]["semver"]["pattern"], manifest["version"])
    assert manifest["$schema"] == (
        f"https://developer.microsoft.com/json-schemas/teams/v{MANIFEST_VERSION}/MicrosoftTeams.schema.json"
    )


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return load_shared_schema(TEAMS_SCHEMA_NAME)


@pytest.fixture(scope="module")
def source_manifest() -> dict[str, Any]:
    return json.loads((TEAMS_DIR / "manifest.json").read_text(encoding="utf-8"))


# --- PNG reading (standard library only) ---------------------------------------------------------

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_header(data: bytes) -> tuple[int, int, int, int]:
    """(width, height, bit depth, colour type) from the IHDR chunk, which must come first."""
    assert data[:8] == PNG_SIGNATURE, "not a PNG file"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    width, height, depth, colour_type = struct.unpack(">IIBB", data[16:26])
    return width, height, depth, colour_type


def png_pixels(data: bytes) -> tuple[int, int, int, bytes]:
    """(width, height, channels, raw pixel bytes) of a non-interlaced 8-bit RGB/RGBA PNG."""
    width, height, depth, colour_type = png_header(data)
    assert depth == 8 and colour_type in (2, 6), "only 8-bit RGB/RGBA expected"
    assert data[28] == 0, "interlaced PNGs not expected"
    channels = 4 if colour_type == 6 else 3
    idat, pos = b"", 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body), f"bad CRC in {kind!r}"
        if kind == b"IDAT":
            idat += body
        pos += 12 + length
        if kind == b"IEND":
            break
    raw, stride = zlib.decompress(idat), width * channels
    out, previous = bytearray(), bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, row = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = row[i - channels] if i >= channels else 0
            up, up_left = previous[i], previous[i - channels] if i >= channels else 0
            if kind == 1:
                row[i] = (row[i] + left) & 0xFF
            elif kind == 2:
                row[i] = (row[i] + up) & 0xFF
            elif kind == 3:
                row[i] = (row[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - up_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
                predictor = left if pa <= pb and pa <= pc else up if pb <= pc else up_left
                row[i] = (row[i] + predictor) & 0xFF
            else:
                assert kind == 0, f"unknown PNG filter {kind}"
        out += row
        previous = row
    return width, height, channels, bytes(out)


def load_make_icons() -> ModuleType:
    spec = importlib.util.spec_from_file_location("partnerbot_make_icons", TEAMS_DIR / "make_icons.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- the source manifest and icons ---------------------------------------------------------------


def test_source_manifest_validates(schema: dict[str, Any], source_manifest: dict[str, Any]) -> None:
    check_teams_manifest(schema, source_manifest)


def test_source_manifest_carries_placeholders(source_manifest: dict[str, Any]) -> None:
    assert source_manifest["id"] == PLACEHOLDER_APP_ID
    assert [bot["botId"] for bot in source_manifest["bots"]] == [PLACEHOLDER_APP_ID]
    assert [ext["botId"] for ext in source_manifest["composeExtensions"]] == [PLACEHOLDER_APP_ID]
    assert source_manifest["validDomains"] == [PLACEHOLDER_HOST]
    for key in ("websiteUrl", "privacyUrl", "termsOfUseUrl"):
        assert source_manifest["developer"][key].startswith(f"https://{PLACEHOLDER_HOST}/")


BOT_SCOPES = ("personal", "team", "groupChat")
BOT_COMMANDS = ["help", "register a deal", "show my deals", "my leads", "ask"]


def test_bot_scopes_and_files(source_manifest: dict[str, Any]) -> None:
    (bot,) = source_manifest["bots"]
    assert sorted(bot["scopes"]) == sorted(BOT_SCOPES)
    # Files a partner uploads in the personal chat are taken as MDF proof; without supportsFiles
    # Teams offers no attach button there.
    assert bot["supportsFiles"] is True
    assert bot["isNotificationOnly"] is False


def test_bot_has_the_commands_in_every_scope(source_manifest: dict[str, Any]) -> None:
    (bot,) = source_manifest["bots"]
    lists_by_scope: dict[str, list[dict[str, Any]]] = {}
    for command_list in bot["commandLists"]:
        for scope in command_list["scopes"]:
            lists_by_scope.setdefault(scope, []).append(command_list)
    assert sorted(lists_by_scope) == sorted(BOT_SCOPES), "a command list for each scope the bot has"
    for scope, lists in lists_by_scope.items():
        (command_list,) = lists  # the schema asks for a separate list per scope
        titles = [command["title"] for command in command_list["commands"]]
        assert titles == BOT_COMMANDS, scope
        # 1.30 no longer requires a description; the command menu is useless without one.
        assert all(command.get("description", "").strip() for command in command_list["commands"]), scope


def test_message_extension_commands(source_manifest: dict[str, Any]) -> None:
    # The bot dispatches composeExtension/query and composeExtension/fetchTask invokes on these ids
    # (commandId) and reads the search text from the parameter named "query".
    (extension,) = source_manifest["composeExtensions"]
    commands = {command["id"]: command for command in extension["commands"]}
    assert sorted(commands) == ["registerDeal", "searchRecords"]

    search = commands["searchRecords"]
    assert search["type"] == "query"
    assert sorted(search["context"]) == ["commandBox", "compose"]
    assert search["initialRun"] is True
    assert [(p["name"], p.get("inputType")) for p in search["parameters"]] == [("query", "text")]

    register = commands["registerDeal"]
    assert register["type"] == "action"
    assert register["context"] == ["message"]
    assert register["fetchTask"] is True  # the dialog comes from the bot, not from a static taskInfo


def test_color_icon_is_192_square_and_opaque() -> None:
    data = (TEAMS_DIR / "color.png").read_bytes()
    width, height, _depth, colour_type = png_header(data)
    assert (width, height) == (192, 192)
    _, _, channels, pixels = png_pixels(data)
    if channels == 4:
        assert all(alpha == 255 for alpha in pixels[3::4]), "colour icon must be opaque"


def test_outline_icon_is_32_square_white_on_transparent() -> None:
    data = (TEAMS_DIR / "outline.png").read_bytes()
    width, height, _depth, colour_type = png_header(data)
    assert (width, height) == (32, 32)
    assert colour_type == 6, "outline icon needs an alpha channel (RGBA)"
    _, _, _, pixels = png_pixels(data)
    alphas = pixels[3::4]
    assert 0 in alphas and 255 in alphas, "outline icon needs both transparent and solid pixels"
    for i in range(0, len(pixels), 4):
        if pixels[i + 3]:
            assert pixels[i : i + 3] == b"\xff\xff\xff", f"pixel {i // 4} is not white"


def test_icons_are_what_make_icons_draws() -> None:
    make_icons = load_make_icons()
    assert png_pixels((TEAMS_DIR / "color.png").read_bytes())[3] == make_icons.color_pixels(), (
        "teams/color.png is stale: run python teams/make_icons.py"
    )
    assert png_pixels((TEAMS_DIR / "outline.png").read_bytes())[3] == make_icons.outline_pixels(), (
        "teams/outline.png is stale: run python teams/make_icons.py"
    )


# --- the package ---------------------------------------------------------------------------------


def read_packaged_manifest(package: Path) -> dict[str, Any]:
    with zipfile.ZipFile(package) as zf:
        return json.loads(zf.read("manifest.json").decode("utf-8"))


def test_package_fills_in_app_id_and_host(tmp_path: Path) -> None:
    written = build_teams_package(out=tmp_path / "out" / "partnerbot.zip", app_id=APP_ID, host=HOST)
    assert written == tmp_path / "out" / "partnerbot.zip"

    with zipfile.ZipFile(written) as zf:
        assert sorted(zf.namelist()) == sorted(PACKAGE_FILES), (
            "Teams wants exactly these files at the zip root"
        )
        assert zf.testzip() is None
        color, outline = zf.read("color.png"), zf.read("outline.png")
        text = zf.read("manifest.json").decode("utf-8")
    manifest = json.loads(text)

    assert manifest["id"] == APP_ID
    assert manifest["bots"] and all(bot["botId"] == APP_ID for bot in manifest["bots"])
    assert manifest["composeExtensions"] and all(
        extension["botId"] == APP_ID for extension in manifest["composeExtensions"]
    )
    assert manifest["validDomains"] == [HOST]
    for key in ("websiteUrl", "privacyUrl", "termsOfUseUrl"):
        assert manifest["developer"][key].startswith(f"https://{HOST}/")
    assert PLACEHOLDER_HOST not in text
    assert PLACEHOLDER_APP_ID not in text
    assert color == (TEAMS_DIR / "color.png").read_bytes()
    assert outline == (TEAMS_DIR / "outline.png").read_bytes()


def test_package_without_overrides_keeps_placeholders(tmp_path: Path) -> None:
    written = build_teams_package(out=tmp_path)  # a folder: the default file name is used
    assert written.parent == tmp_path and written.suffix == ".zip"
    manifest = read_packaged_manifest(written)
    assert manifest["id"] == manifest["bots"][0]["botId"] == PLACEHOLDER_APP_ID
    assert manifest["composeExtensions"][0]["botId"] == PLACEHOLDER_APP_ID
    assert manifest["validDomains"] == [PLACEHOLDER_HOST]


@pytest.mark.parametrize(
    ("app_id", "host"), [(APP_ID, HOST), (None, None)], ids=["filled-in", "placeholders"]
)
def test_packaged_manifest_validates(
    schema: dict[str, Any], tmp_path: Path, app_id: str | None, host: str | None
) -> None:
    written = build_teams_package(out=tmp_path / "partnerbot.zip", app_id=app_id, host=host)
    check_teams_manifest(schema, read_packaged_manifest(written))


def edited_source(tmp_path: Path, **changes: Any) -> Path:
    """A copy of ``teams/`` whose manifest has the top-level ``changes`` applied, for builder tests."""
    source = tmp_path / "source"
    source.mkdir()
    for name in PACKAGE_FILES - {"manifest.json"}:
        (source / name).write_bytes((TEAMS_DIR / name).read_bytes())
    manifest = json.loads((TEAMS_DIR / "manifest.json").read_text(encoding="utf-8"))
    manifest.update(changes)
    (source / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return source


def test_app_id_reaches_every_bot_and_compose_extension(tmp_path: Path) -> None:
    # Not only the first entries: a second compose extension (were Teams to allow one) gets it too.
    extensions = [{"botId": PLACEHOLDER_APP_ID, "commands": []}, {"botId": PLACEHOLDER_APP_ID}]
    source = edited_source(tmp_path, composeExtensions=extensions)
    written = build_teams_package(out=tmp_path / "partnerbot.zip", app_id=APP_ID, source_dir=source)
    manifest = read_packaged_manifest(written)
    assert [bot["botId"] for bot in manifest["bots"]] == [APP_ID]
    assert [extension["botId"] for extension in manifest["composeExtensions"]] == [APP_ID, APP_ID]


def test_placeholder_app_id_left_elsewhere_is_refused(tmp_path: Path) -> None:
    # A field _set_app_id does not know about would ship the placeholder: the build refuses instead.
    source = edited_source(
        tmp_path, webApplicationInfo={"id": PLACEHOLDER_APP_ID, "resource": f"api://{PLACEHOLDER_HOST}"}
    )
    target = tmp_path / "out" / "partnerbot.zip"
    with pytest.raises(ValueError, match="placeholder app id"):
        build_teams_package(out=target, app_id=APP_ID, source_dir=source)
    assert not target.parent.exists() or list(target.parent.iterdir()) == []


def test_package_is_reproducible(tmp_path: Path) -> None:
    first = build_teams_package(out=tmp_path / "a.zip", app_id=APP_ID, host=HOST)
    second = build_teams_package(out=tmp_path / "b.zip", app_id=APP_ID, host=HOST)
    assert first.read_bytes() == second.read_bytes()


@pytest.mark.parametrize(
    "bad_id", ["", "not-a-guid", "3f2b8c1e7a4d4e6b9c0f1a2b3c4d5e6f", "{3f2b8c1e-7a4d-4e6b-9c0f-1a2b3c4d5e6f}"]
)
def test_bad_app_id_is_refused(bad_id: str, tmp_path: Path) -> None:
    target = tmp_path / "partnerbot.zip"
    with pytest.raises(ValueError, match="GUID"):
        build_teams_package(out=target, app_id=bad_id)
    assert not target.exists()
    assert list(tmp_path.iterdir()) == [], "a refused build leaves nothing behind"


@pytest.mark.parametrize(
    "bad_host",
    [
        "https://partners.acme.com",
        "partners.acme.com/bot",
        "partners.acme.com:443",
        "localhost",
        "10.0.0.1",
        "-bad.example.com",
        "a b.example.com",
    ],
)
def test_bad_host_is_refused(bad_host: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="host name"):
        build_teams_package(out=tmp_path / "partnerbot.zip", host=bad_host)
    assert list(tmp_path.iterdir()) == []
