"""Shared fixtures: the example landing folder, and a writable copy of it."""

import shutil
from pathlib import Path

import pytest

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "landing"


@pytest.fixture
def fixture_root() -> Path:
    """The committed example folder (read-only use)."""
    return FIXTURE


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    """A copy of the example folder the test may change."""
    root = tmp_path / "landing"
    shutil.copytree(FIXTURE, root)
    return root


def write(path: Path, text: str | bytes) -> Path:
    """Write text (UTF-8) or bytes to path, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path
