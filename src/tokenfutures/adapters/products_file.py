"""Product specifications from a TOML file: the packaged ``data/products.toml`` or a given one.

Numbers are read with ``parse_float=Decimal`` so ``tick_size = 0.001`` is exactly one
thousandth; the domain parser (``parse_products``) then validates every field.
"""

from __future__ import annotations

import tomllib
from decimal import Decimal
from importlib import resources
from pathlib import Path

from tokenfutures.domain.contracts import ProductSpec, ProductSpecError, parse_products

PACKAGED_PRODUCTS = "data/products.toml"


class ProductsFileError(ValueError):
    """A products file cannot be read or breaks a rule; the message names the file."""


def packaged_products_text() -> str:
    return resources.files("tokenfutures").joinpath(PACKAGED_PRODUCTS).read_text(encoding="utf-8")


def load_products(path: Path | None = None) -> dict[str, ProductSpec]:
    """Validated product specs by code, from ``path`` or the packaged default."""
    name = str(path) if path is not None else f"tokenfutures/{PACKAGED_PRODUCTS}"
    try:
        text = packaged_products_text() if path is None else path.read_text(encoding="utf-8")
    except OSError as error:
        raise ProductsFileError(f"products file {name}: cannot be read: {error}") from None
    try:
        return parse_products(tomllib.loads(text, parse_float=Decimal))
    except tomllib.TOMLDecodeError as error:
        raise ProductsFileError(f"products file {name}: not valid TOML: {error}") from None
    except ProductSpecError as error:
        raise ProductsFileError(f"products file {name}: {error}") from None
