"""The baseline's own environment: benchmarks/.venv-baseline, from baseline-requirements.lock.

The docs-pattern baseline (benchmarks/baseline_defs.py) needs dagster-duckdb-pandas and
dagster-pandera, which pin their own duckdb and pandas; the product pins others. So the
baseline runs in a venv of its own, installed with pip ``--no-deps --require-hashes`` from
``benchmarks/baseline-requirements.lock`` and never from the product's requirements.lock.
A stamp named after the lock's checksum (and the interpreter's version) marks a finished
install, as the Makefile's does for .venv: the venv is reused while the stamp matches and
rebuilt from scratch otherwise.

hk_pipeline is not installed there: the baseline imports only its sample source and partitions
(numpy, pandas, pyarrow, exchange_calendars, dagster, all in the lock), and the project folder
goes on PYTHONPATH (``run_env``), so the working tree's code is what runs, with no build step
and no package whose metadata claims the product's pins.

    .venv/bin/python -m benchmarks.baseline_env   # create it if needed, print its versions
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "benchmarks" / "baseline-requirements.lock"
VENV = ROOT / "benchmarks" / ".venv-baseline"
STAMP_PREFIX = ".installed-"
# Versions shown next to the baseline's figures (and checked to be the lock's, not the product's).
SHOWN = ("dagster", "dagster-duckdb-pandas", "dagster-pandera", "duckdb", "pandas", "pandera")


class BaselineEnvError(RuntimeError):
    """The baseline's environment could not be created from its lock."""


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def stamp() -> Path:
    """The file whose presence says the venv holds exactly the current lock."""
    h = hashlib.sha256(LOCK.read_bytes())
    h.update(f"python={platform.python_version()}".encode())
    return VENV / f"{STAMP_PREFIX}{h.hexdigest()[:16]}"


def bin_dir() -> Path:
    return VENV / "bin"


def ensure() -> Path:
    """The baseline venv's python, creating the venv first unless a matching stamp exists."""
    python = bin_dir() / "python"
    if stamp().exists() and python.exists():
        return python
    # Two benchmarks starting at once must not build the same folder together: lock the
    # benchmarks folder itself (flock on a directory works on Linux; no lock file to ignore).
    fd = os.open(VENV.parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if not (stamp().exists() and python.exists()):
            _create()
    finally:
        os.close(fd)
    return python


def _create() -> None:
    print(
        f"creating the baseline's own environment ({_rel(VENV)}) from {_rel(LOCK)} ...",
        flush=True,
    )
    t0 = time.perf_counter()
    shutil.rmtree(VENV, ignore_errors=True)  # from scratch: nothing left from an older lock
    _run([sys.executable, "-m", "venv", str(VENV)], "creating the venv")
    _run(
        [
            str(bin_dir() / "python"), "-m", "pip", "install", "--quiet",
            "--disable-pip-version-check", "--no-deps", "--require-hashes", "-r", str(LOCK),
        ],
        "pip install",
    )  # fmt: skip
    for old in VENV.glob(f"{STAMP_PREFIX}*"):
        old.unlink()
    stamp().touch()
    print(f"... baseline environment ready in {time.perf_counter() - t0:.0f} s", flush=True)


def _run(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
        raise BaselineEnvError(
            f"could not create the baseline's environment {_rel(VENV)} from {_rel(LOCK)}:"
            f" {what} failed (exit {proc.returncode}):\n{tail}\n"
            f"The lock is re-made with the command in its first lines; the benchmark runs"
            f" without the baseline with --no-baseline."
        )


def run_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` for a process of the baseline venv: its bin first on PATH, the project on
    PYTHONPATH (for ``benchmarks.baseline_defs`` and hk_pipeline's sample source)."""
    env = dict(env)
    env["VIRTUAL_ENV"] = str(VENV)
    env["PATH"] = os.pathsep.join([str(bin_dir()), env.get("PATH", "")])
    env["PYTHONPATH"] = str(ROOT)
    env.pop("PYTHONHOME", None)
    return env


def versions(python: Path) -> dict[str, str]:
    """Installed versions of SHOWN in the venv of ``python``."""
    code = (
        "import json, sys\nfrom importlib import metadata\n"
        "print(json.dumps({n: metadata.version(n) for n in sys.argv[1:]}))"
    )
    out = subprocess.run(
        [str(python), "-c", code, *SHOWN],
        capture_output=True, text=True, check=True, env=run_env(dict(os.environ)),
    ).stdout  # fmt: skip
    return json.loads(out)


def describe(python: Path) -> str:
    return ", ".join(f"{name} {v}" for name, v in versions(python).items())


if __name__ == "__main__":
    try:
        py = ensure()
    except BaselineEnvError as e:
        sys.exit(f"error: {e}")
    print(f"{_rel(py)}: {describe(py)}")
