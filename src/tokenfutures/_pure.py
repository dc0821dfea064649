"""Run the pure-Python sources even where compiled (mypyc) modules sit beside them.

Python prefers an extension module over a ``.py`` file of the same name; with
``TOKENFUTURES_PURE_PYTHON=1`` this finder, placed first on ``sys.meta_path``, loads every
``tokenfutures`` module from its source instead, so the fallback is tested and measured.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import SOURCE_SUFFIXES, FileFinder, ModuleSpec, SourceFileLoader
from types import ModuleType


class SourceOnlyFinder(MetaPathFinder):
    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        if not fullname.startswith("tokenfutures.") or path is None:
            return None
        for entry in path:
            spec = FileFinder(entry, (SourceFileLoader, SOURCE_SUFFIXES)).find_spec(fullname)
            if spec is not None:
                return spec
        return None


def prefer_sources() -> None:
    if not any(isinstance(finder, SourceOnlyFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, SourceOnlyFinder())


def core_build() -> str:
    """``compiled`` when the matching core runs as mypyc extension modules, else ``pure``."""
    from tokenfutures.domain import matching

    return "compiled" if (matching.__file__ or "").endswith((".so", ".pyd")) else "pure"


def stale_compiled_modules() -> list[str]:
    """Compiled modules older than their source: running them would run old code."""
    from importlib.machinery import EXTENSION_SUFFIXES
    from pathlib import Path

    root = Path(__file__).parent
    stale = []
    for suffix in EXTENSION_SUFFIXES:
        for compiled in root.rglob(f"*{suffix}"):
            source = compiled.with_name(compiled.name[: -len(suffix)] + ".py")
            if source.exists() and source.stat().st_mtime > compiled.stat().st_mtime:
                stale.append(str(source.relative_to(root.parent)))
    return stale
