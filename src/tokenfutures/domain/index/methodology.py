"""The index methodology and the constituents list as validated values.

``parse_methodology`` and ``parse_constituents`` turn loaded documents (for example
``data/index_methodology.toml`` and ``data/index_constituents.toml`` read with ``tomllib``)
into frozen values, or raise ``MethodologyError`` naming the field and the rule it breaks.
Every parameter is an integer (basis points, days, counts): the methodology holds no floats.
The formats are documented in docs/index-methodology.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

BP = 10_000  # basis points in one whole
_INDEX_CODE = re.compile(r"^[A-Z][A-Z0-9-]{0,23}$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_VERSION = re.compile(r"^\d+\.\d+\.\d+$")


class MethodologyError(ValueError):
    """A methodology or constituents document breaks a rule; the message names the field."""


@dataclass(frozen=True, slots=True)
class Blend:
    """Weights of one standard token, basis points summing to 10,000."""

    input_bp: int
    cached_input_bp: int
    output_bp: int


@dataclass(frozen=True, slots=True)
class Grade:
    name: str  # "frontier", "efficient", "open", "chinese"
    index: str  # its sub-index code, e.g. "TKN-OPEN"
    description: str
    weight_bp: int  # weight in the composite
    min_constituents: int


@dataclass(frozen=True, slots=True)
class OutlierRule:
    """Exclude inputs more than ``k`` scaled MADs from the median when ``min_inputs`` or more."""

    k: int
    mad_scale_e4: int  # the MAD consistency factor x 10,000 (14826 for 1.4826)
    min_inputs: int


@dataclass(frozen=True, slots=True)
class GpuParameters:
    unit: str
    accelerators: tuple[str, ...]
    min_providers: int
    aggregators: tuple[str, ...]  # resellers of other clouds: used, never counted independent

    def index_code(self, accelerator: str) -> str:
        return f"GPU-{accelerator}"


@dataclass(frozen=True, slots=True)
class Methodology:
    version: str
    composite: str  # "TKN"
    unit: str
    blend: Blend
    grades: tuple[Grade, ...]
    min_providers: int
    aggregators: tuple[str, ...]  # token resellers (e.g. openrouter), never counted independent
    staleness_days: int
    coverage_floor_bp: int
    outliers: OutlierRule
    rebalance: str  # "monthly-first-business-day"
    gpu: GpuParameters

    def grade(self, name: str) -> Grade:
        for grade in self.grades:
            if grade.name == name:
                return grade
        raise KeyError(name)


@dataclass(frozen=True, slots=True)
class Constituent:
    name: str  # canonical model
    grades: tuple[str, ...]
    listed: date
    delisted: date | None
    maker: str | None  # the provider that makes the model; its own price may stand alone
    providers: tuple[tuple[str, tuple[str, ...]], ...]  # (provider, its model ids), sorted


@dataclass(frozen=True, slots=True)
class Constituents:
    items: tuple[Constituent, ...]  # sorted by name

    def lookup(self) -> dict[tuple[str, str], Constituent]:
        """(provider, provider's model id) -> constituent."""
        return {
            (provider, model): item
            for item in self.items
            for provider, models in item.providers
            for model in models
        }


def _get(doc: Mapping[str, Any], field: str, kind: type, where: str = "") -> Any:
    name = f"{where}{field}"
    if field not in doc:
        raise MethodologyError(f"{name}: is required")
    value = doc[field]
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise MethodologyError(f"{name}: must be an integer")
    if not isinstance(value, kind):
        raise MethodologyError(f"{name}: must be a {kind.__name__}")
    return value


def _int(doc: Mapping[str, Any], field: str, low: int, high: int, where: str = "") -> int:
    value: int = _get(doc, field, int, where)
    if not low <= value <= high:
        raise MethodologyError(f"{where}{field}: must be between {low} and {high}")
    return value


def _names(doc: Mapping[str, Any], field: str, where: str = "") -> tuple[str, ...]:
    values = _get(doc, field, list, where)
    if not all(isinstance(value, str) and value for value in values):
        raise MethodologyError(f"{where}{field}: must be a list of non-empty strings")
    if len(set(values)) != len(values):
        raise MethodologyError(f"{where}{field}: must not repeat a name")
    return tuple(values)


def _parse_blend(doc: Mapping[str, Any]) -> Blend:
    section = _get(doc, "blend", dict)
    blend = Blend(
        _int(section, "input_bp", 1, BP, "blend."),
        _int(section, "cached_input_bp", 0, BP, "blend."),
        _int(section, "output_bp", 1, BP, "blend."),
    )
    if blend.input_bp + blend.cached_input_bp + blend.output_bp != BP:
        raise MethodologyError("blend: input_bp + cached_input_bp + output_bp must be 10000")
    return blend


def _parse_grades(doc: Mapping[str, Any], composite: str) -> tuple[Grade, ...]:
    section = _get(doc, "grades", dict)
    grades = []
    for name, body in section.items():
        where = f"grades.{name}."
        if not _NAME.match(name) or not isinstance(body, dict):
            raise MethodologyError(f"grades.{name}: must be a lowercase name with a table")
        index = _get(body, "index", str, where)
        if not _INDEX_CODE.match(index) or not index.startswith(f"{composite}-"):
            raise MethodologyError(f"{where}index: must be an index code starting {composite}-")
        grades.append(
            Grade(
                name,
                index,
                _get(body, "description", str, where),
                _int(body, "weight_bp", 1, BP, where),
                _int(body, "min_constituents", 1, 1000, where),
            )
        )
    if not grades:
        raise MethodologyError("grades: must define at least one grade")
    if sum(grade.weight_bp for grade in grades) != BP:
        raise MethodologyError("grades: the weight_bp of the grades must sum to 10000")
    if len({grade.index for grade in grades}) != len(grades):
        raise MethodologyError("grades: index codes must be distinct")
    return tuple(grades)


def _parse_gpu(doc: Mapping[str, Any]) -> GpuParameters:
    section = _get(doc, "gpu", dict)
    accelerators = _names(section, "accelerators", "gpu.")
    for accelerator in accelerators:
        if not _INDEX_CODE.match(f"GPU-{accelerator}"):
            raise MethodologyError(f"gpu.accelerators: {accelerator!r} is not an A-Z/0-9 name")
    return GpuParameters(
        _get(section, "unit", str, "gpu."),
        accelerators,
        _int(section, "min_providers", 1, 100, "gpu."),
        _names(section, "aggregators", "gpu."),
    )


def parse_methodology(doc: Mapping[str, Any]) -> Methodology:
    """Validate a loaded methodology document; raise MethodologyError naming field and rule."""
    version = _get(doc, "version", str)
    if not _VERSION.match(version):
        raise MethodologyError("version: must be MAJOR.MINOR.PATCH")
    composite = _get(doc, "composite", str)
    if not _INDEX_CODE.match(composite):
        raise MethodologyError("composite: must be an index code of A-Z, 0-9 and '-'")
    sufficiency = _get(doc, "sufficiency", dict)
    outliers = _get(doc, "outliers", dict)
    if _get(outliers, "method", str, "outliers.") != "median-mad":
        raise MethodologyError("outliers.method: must be 'median-mad'")
    rebalance = _get(doc, "rebalance", str)
    if rebalance != "monthly-first-business-day":
        raise MethodologyError("rebalance: must be 'monthly-first-business-day'")
    return Methodology(
        version=version,
        composite=composite,
        unit=_get(doc, "unit", str),
        blend=_parse_blend(doc),
        grades=_parse_grades(doc, composite),
        min_providers=_int(sufficiency, "min_providers", 1, 100, "sufficiency."),
        aggregators=_names(sufficiency, "aggregators", "sufficiency."),
        staleness_days=_int(sufficiency, "staleness_days", 0, 7, "sufficiency."),
        coverage_floor_bp=_int(sufficiency, "coverage_floor_bp", 1, BP, "sufficiency."),
        outliers=OutlierRule(
            _int(outliers, "k", 1, 100, "outliers."),
            _int(outliers, "mad_scale_e4", 1, 100_000, "outliers."),
            _int(outliers, "min_inputs", 3, 100, "outliers."),
        ),
        rebalance=rebalance,
        gpu=_parse_gpu(doc),
    )


def _day(body: Mapping[str, Any], field: str, where: str) -> date:
    value = body[field]
    if isinstance(value, date) and not hasattr(value, "hour"):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise MethodologyError(f"{where}{field}: must be a date YYYY-MM-DD")


def _parse_providers(
    body: Mapping[str, Any], where: str
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    providers = _get(body, "providers", dict, where)
    if not providers:
        raise MethodologyError(f"{where}providers: must map at least one provider")
    pairs = []
    for provider, models in sorted(providers.items()):
        ids = _names(providers, provider, f"{where}providers.")
        if not ids or not isinstance(models, list):
            raise MethodologyError(f"{where}providers.{provider}: must list model ids")
        pairs.append((provider, tuple(sorted(ids))))
    return tuple(pairs)


def _parse_constituent(body: Any, position: int, grades: frozenset[str]) -> Constituent:
    where = f"constituent[{position}]."
    if not isinstance(body, dict):
        raise MethodologyError(f"constituent[{position}]: must be a table")
    name = _get(body, "name", str, where)
    if not name.strip():
        raise MethodologyError(f"{where}name: must not be empty")
    names = _names(body, "grades", where)
    if not names:
        raise MethodologyError(f"{where}grades: must list at least one grade")
    for grade in names:
        if grade not in grades:
            raise MethodologyError(f"{where}grades: {grade!r} is not a methodology grade")
    _get(body, "listed", object, where)
    listed = _day(body, "listed", where)
    delisted = _day(body, "delisted", where) if "delisted" in body else None
    if delisted is not None and delisted <= listed:
        raise MethodologyError(f"{where}delisted: must be after listed")
    maker = _get(body, "maker", str, where) if "maker" in body else None
    return Constituent(
        name, tuple(sorted(names)), listed, delisted, maker, _parse_providers(body, where)
    )


def parse_constituents(doc: Mapping[str, Any], methodology: Methodology) -> Constituents:
    """Validate a loaded constituents document against the methodology's grades."""
    rows = _get(doc, "constituent", list)
    grades = frozenset(grade.name for grade in methodology.grades)
    items = [_parse_constituent(body, position, grades) for position, body in enumerate(rows)]
    seen: dict[tuple[str, str], str] = {}
    for item in items:
        for provider, models in item.providers:
            for model in models:
                other = seen.setdefault((provider, model), item.name)
                if other != item.name:
                    raise MethodologyError(
                        f"constituent {item.name!r}.providers.{provider}: model id {model!r}"
                        f" is already mapped to {other!r}"
                    )
    if len({item.name for item in items}) != len(items):
        raise MethodologyError("constituent: names must be distinct")
    return Constituents(tuple(sorted(items, key=lambda item: item.name)))
