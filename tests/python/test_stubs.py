"""The type stubs of amends._core match the compiled module, and the package type-checks."""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

import amends._core
from helpers import REPO

SOURCE = REPO / "python"
STUB = SOURCE / "amends" / "_core.pyi"
ALLOWLIST = REPO / "tests" / "python" / "stubtest_allowlist.txt"


def runtime_env(stub_root: Path) -> dict[str, str]:
    """An environment whose amends._core is the one this test session imported, with the stubs under stub_root.

    MYPYPATH wins over site-packages when mypy looks for the stubs; PYTHONPATH
    (made absolute) picks the compiled module, the development build or the
    installed package, whichever pytest is testing.
    """
    package_root = str(Path(amends._core.__file__).resolve().parent.parent)
    paths = [package_root] if package_root not in site.getsitepackages() else []
    paths += [str(Path(p).resolve()) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return os.environ | {"MYPYPATH": str(stub_root), "PYTHONPATH": os.pathsep.join(paths)}


def stubtest(stub_root: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Runs stubtest on the compiled amends._core against the stubs under stub_root."""
    (tmp_path / "none.ini").write_text("[mypy]\n")
    command = [sys.executable, "-m", "mypy.stubtest", "amends._core", "--mypy-config-file", str(tmp_path / "none.ini")]
    if ALLOWLIST.exists():
        command += ["--allowlist", str(ALLOWLIST)]
    env = runtime_env(stub_root)
    probe = [sys.executable, "-c", "import amends._core as c; print(c.__file__)"]
    imported = subprocess.run(probe, cwd=tmp_path, env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert Path(imported).resolve() == Path(amends._core.__file__).resolve()
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def mypy_cache(tmp_path_factory) -> str:
    """One cache for the mypy runs here, so the second reuses what the first read of typeshed and numpy."""
    return str(tmp_path_factory.mktemp("mypy-cache"))


def test_the_stub_file_exists_beside_the_package():
    assert STUB.exists()
    assert (SOURCE / "amends" / "py.typed").exists()


def test_stubtest_finds_the_stubs_consistent_with_the_compiled_module(tmp_path):
    result = stubtest(SOURCE, tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr


def test_stubtest_would_notice_a_stub_that_drifted(tmp_path):
    """Guards the check above: a stub missing a method must fail it."""
    copy = tmp_path / "stubs"
    shutil.copytree(SOURCE / "amends", copy / "amends", ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    stub = copy / "amends" / "_core.pyi"
    stub.write_text(stub.read_text().replace("def has_account(", "def has_an_account("))

    result = stubtest(copy, tmp_path)

    assert result.returncode != 0
    assert "has_account" in result.stdout


def test_mypy_checks_the_package_cleanly(mypy_cache):
    command = [sys.executable, "-m", "mypy", str(SOURCE / "amends"), "--cache-dir", mypy_cache]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)

    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_refuses_a_float_amount_by_type(tmp_path, mypy_cache):
    """The stubs carry the money rule to type checkers: no float where an amount goes."""
    script = tmp_path / "uses_amends.py"
    script.write_text(
        "import amends\n"
        "book = amends.Ledger()\n"
        "book.post('2026-01-01', [('Assets:Cash', 1.5), ('Expenses:Goodwill', '-1.5')])\n"
        "amends.round_amount(2.5, 2)\n"
        "ok: int = book.post('2026-01-01', [('Assets:Cash', '1.50'), ('Expenses:Goodwill', -1)])\n"
    )
    env = os.environ | {"MYPYPATH": str(SOURCE)}
    command = [sys.executable, "-m", "mypy", str(script), "--cache-dir", mypy_cache]
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)

    assert result.returncode == 1
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 2, result.stdout
    assert all("float" in line for line in errors)
