"""Where the exchange keeps its data: ``--db`` values and the default data directory.

``--db`` takes a file path or a SQLite URL in SQLAlchemy's form: ``sqlite:///relative/path``
or ``sqlite:////absolute/path``. Without it, ``$TOKENFUTURES_DB`` or ``data/exchange.db``
under the working directory. PostgreSQL URLs are recognised and refused for now.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_DB = Path("data") / "exchange.db"


class DatabaseUrlError(ValueError):
    """A ``--db`` value that names no database this exchange can use."""


def sqlite_path(url: str | None) -> Path:
    """The SQLite file named by ``url``, or the default."""
    text = (url or os.environ.get("TOKENFUTURES_DB") or str(DEFAULT_DB)).strip()
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    if scheme in ("postgresql", "postgres") or scheme.startswith("postgresql+"):
        raise DatabaseUrlError(
            "the key store runs on SQLite for now; pass a path or sqlite:///path "
            "(PostgreSQL is not available yet)"
        )
    if scheme == "sqlite":
        rest = text[len("sqlite://") :]
        if not rest.startswith("/") or rest == "/":
            raise DatabaseUrlError(
                f"{text!r}: a SQLite URL is sqlite:///relative/path or sqlite:////abs/path"
            )
        text = rest[1:]
    elif scheme:
        raise DatabaseUrlError(f"{text!r}: must be a path or a sqlite:///path URL")
    if not text:
        raise DatabaseUrlError("must not be empty")
    return Path(text)
