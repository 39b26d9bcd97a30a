"""Which amends the benchmarks measure, chosen one way for all of them.

The dev tree (python/ of this repository) when it has a built extension
(python/amends/_core*.so, copied there from build/py), otherwise the
installed package. Every Python benchmark calls select() before it imports
amends, says which one it got (Choice.description) and writes that into the
results it reports; child processes get the same through Choice.env().
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEV = REPO / "python"


@dataclass(frozen=True)
class Choice:
    kind: str  # "dev" or "installed"
    description: str  # for logs and result tables, e.g. "dev tree (python/, extension built ...)"

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """An environment in which a child `import amends` finds the same package."""
        env = dict(os.environ if base is None else base)
        kept = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and not _is_dev(p)]
        paths = ([str(DEV)] if self.kind == "dev" else []) + kept
        if paths:
            env["PYTHONPATH"] = os.pathsep.join(paths)
        else:
            env.pop("PYTHONPATH", None)
        return env


def _is_dev(path: str) -> bool:
    try:
        return Path(path).resolve() == DEV
    except OSError:
        return False


def dev_extension() -> Path | None:
    """The dev tree's built extension, if there is one."""
    return next(iter(sorted((DEV / "amends").glob("_core*.so"))), None)


def _older_than_sources(extension: Path) -> bool:
    sources = [*(REPO / "cpp").rglob("*.[ch]pp"), *(DEV / "src").glob("*.[ch]pp")]
    return extension.stat().st_mtime < max((f.stat().st_mtime for f in sources), default=0)


def _installed_extension() -> Path | None:
    """Where the installed package's extension is, asked of a fresh interpreter that cannot see the dev tree."""
    probe = subprocess.run([sys.executable, "-c", "import amends._core as c; print(c.__file__)"],
                           env=Choice("installed", "").env(), cwd="/", capture_output=True, text=True)
    return Path(probe.stdout.strip()) if probe.returncode == 0 else None


def select(prefer: str = "auto") -> Choice:
    """Puts the chosen amends first on sys.path (without importing it) and returns the choice.

    prefer: "auto" (the rule above), "dev" or "installed" (that one or SystemExit).
    """
    extension = dev_extension() if prefer in ("auto", "dev") else None
    sys.path[:] = [p for p in sys.path if not (p and _is_dev(p))]
    if extension is not None:
        sys.path.insert(0, str(DEV))
        note = "; older than the work tree's sources" if _older_than_sources(extension) else ""
        return Choice("dev", f"dev tree ({DEV.relative_to(REPO)}/, {extension.name}{note})")
    if prefer == "dev":
        raise SystemExit(f"no dev build: {DEV / 'amends'} has no _core*.so (build it and copy it there from build/py)")
    installed = _installed_extension()
    if installed is None:
        raise SystemExit(f"amends is neither built in the dev tree ({DEV / 'amends'}/_core*.so) nor installed "
                         "(pip install . or bash ci/setup.sh)")
    note = "; older than the work tree's sources" if _older_than_sources(installed) else ""
    return Choice("installed", f"installed ({installed.parent}{note})")


def announce(choice: Choice, prefix: str) -> None:
    print(f"[{prefix}] amends: {choice.description}", file=sys.stderr, flush=True)
