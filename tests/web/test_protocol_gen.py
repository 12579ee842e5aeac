"""The page's protocol constants are generated from the schema and must not go stale."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / "client_web" / "tools" / "gen_protocol.py"


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_protocol", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_module_matches_the_schema() -> None:
    tool = _tool()
    schema = json.loads(tool.SCHEMA.read_text(encoding="utf-8"))
    assert tool.OUT.read_text(encoding="utf-8") == tool.generate(schema), (
        "client_web/js/protocol.gen.js is stale: run python client_web/tools/gen_protocol.py"
    )


def test_generated_module_names_every_message_and_op() -> None:
    text = (REPO / "client_web" / "js" / "protocol.gen.js").read_text(encoding="utf-8")
    assert "export const PROTOCOL_VERSION = 1;" in text
    for name in ('HELLO: "hello"', 'SNAPSHOT: "snapshot"', 'JOB_UPDATE: "job_update"'):
        assert name in text
    for op in ("set", "clear", "xform", "create", "batch"):
        assert f'{op.upper()}: "{op}"' in text
