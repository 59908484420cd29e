"""The product uses its libraries' public APIs only: private modules freeze upgrades."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hk_pipeline.schemas import MODELS

PACKAGE = Path(__file__).resolve().parents[2] / "hk_pipeline"
# pandera's internals (its public API is pandera.polars, pandera.errors, pandera.config...),
# polars' and dagster's private modules.
PRIVATE = re.compile(
    r"^\s*(from|import)\s+(pandera\.(api|backends|constants|engines)|polars\._|dagster\._)",
    re.MULTILINE,
)


def test_no_module_imports_a_library_internal() -> None:
    found = [
        f"{path.relative_to(PACKAGE.parent)}: {m.group(0).strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for m in PRIVATE.finditer(path.read_text(encoding="utf-8"))
    ]
    assert not found, found


@pytest.mark.parametrize("table", sorted(MODELS))
def test_every_frame_rule_is_the_models_method_of_its_name(table: str) -> None:
    """Reasons name a frame rule's failing columns by re-running the model's method of the
    check's name (wording.labels), so every frame check must have one."""
    model = MODELS[table]
    for check in model.to_schema().checks:
        assert callable(getattr(model, str(check.name), None)), (table, check.name)
