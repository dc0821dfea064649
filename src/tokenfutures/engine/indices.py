"""Composition root of the benchmark: methodology files, price sources, fixings.

Sources are named as on the command line: ``genai-prices`` (the packaged list prices),
``openrouter:FILE_OR_URL`` (OpenRouter's models list) and ``csv:FILE`` (contributed
quotes). Several sources can be combined; the methodology ranks their data levels.
GPU-hour indices read the packaged GPU rental snapshot, plus any ``gpu-csv:FILE``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from tokenfutures.adapters.index_sources import (
    SourceSnapshot,
    contributed_gpu_observations,
    contributed_token_observations,
    gpu_observations,
    openrouter_observations,
)
from tokenfutures.adapters.index_sources.genai_prices_source import GenaiPricesSource
from tokenfutures.domain.index.fixing import Fixing
from tokenfutures.domain.index.gpu_index import compute_gpu_fixings
from tokenfutures.domain.index.methodology import (
    Constituents,
    Methodology,
    parse_constituents,
    parse_methodology,
)
from tokenfutures.domain.index.observations import TokenPriceObservation
from tokenfutures.domain.index.token_index import compute_token_fixings

DEFAULT_SOURCES = ("genai-prices",)


class SourceError(ValueError):
    """A ``--source`` that cannot be used; the message names it and the rule."""


def _document(path: Path | None, packaged: str) -> dict[str, Any]:
    if path is None:
        text = resources.files("tokenfutures").joinpath(packaged).read_text("utf-8")
    else:
        text = path.read_text("utf-8")
    return tomllib.loads(text)


@dataclass(frozen=True, slots=True)
class IndexFamily:
    """The methodology in force and its constituents: what every computation starts from."""

    methodology: Methodology
    constituents: Constituents

    @classmethod
    def load(
        cls, methodology_file: Path | None = None, constituents_file: Path | None = None
    ) -> IndexFamily:
        methodology = parse_methodology(_document(methodology_file, "data/index_methodology.toml"))
        constituents = parse_constituents(
            _document(constituents_file, "data/index_constituents.toml"), methodology
        )
        return cls(methodology, constituents)

    def token_indices(self) -> list[str]:
        m = self.methodology
        return [m.composite, *(grade.index for grade in m.grades)]

    def gpu_indices(self) -> list[str]:
        gpu = self.methodology.gpu
        return [gpu.index_code(accelerator) for accelerator in gpu.accelerators]

    def model_keys(self) -> list[tuple[str, str]]:
        """The (provider, model) pairs read from genai-prices: the resellers' entries are left
        out there (they repeat the sellers' prices); they join through their own sources."""
        resellers = set(self.methodology.aggregators)
        return sorted(key for key in self.constituents.lookup() if key[0] not in resellers)

    def compute(self, day: date, sources: Sequence[str] = DEFAULT_SOURCES) -> dict[str, Fixing]:
        """Every index's fixing for ``day`` from the given sources."""
        return self.compute_with_sources(day, sources)[0]

    def compute_with_sources(
        self, day: date, sources: Sequence[str] = DEFAULT_SOURCES
    ) -> tuple[dict[str, Fixing], list[SourceSnapshot[Any]]]:
        """The fixings and the source snapshots they were computed from (hashes, skips)."""
        snapshots = self.read_sources(day, sources)
        tokens = [o for snap in snapshots for o in snap.observations if _is_token(o)]
        gpus = [o for snap in snapshots for o in snap.observations if not _is_token(o)]
        fixings = compute_token_fixings(day, tokens, self.constituents, self.methodology)
        fixings.update(compute_gpu_fixings(day, gpus, self.methodology))
        return fixings, snapshots

    def read_sources(self, day: date, sources: Sequence[str]) -> list[SourceSnapshot[Any]]:
        """The GPU snapshot plus every named source, as read for ``day``."""
        return [gpu_observations(day), *(self._read(source, day) for source in sources)]

    def _read(self, source: str, day: date) -> SourceSnapshot[Any]:
        kind, _, where = source.partition(":")
        if kind == "genai-prices" and not where:
            return GenaiPricesSource().token_observations(day, self.model_keys())
        if kind == "openrouter" and where:
            return openrouter_observations(where, day)
        if kind == "csv" and where:
            return contributed_token_observations(where)
        if kind == "gpu-csv" and where:
            return contributed_gpu_observations(where)
        raise SourceError(
            f"source {source!r}: must be genai-prices, openrouter:FILE_OR_URL, csv:FILE "
            "or gpu-csv:FILE"
        )

    def history(self, indices: Sequence[str], start: date, end: date) -> dict[str, list[Fixing]]:
        """Daily fixings of ``indices`` from ``start`` to ``end`` on the packaged data.

        Each day is computed once for all the indices asked for.
        """
        if end < start:
            raise SourceError("--end: must not be before --start")
        series: dict[str, list[Fixing]] = {index: [] for index in indices}
        if any(index in self.token_indices() for index in indices):
            snapshots = GenaiPricesSource().token_history(start, end, self.model_keys())
            for day in sorted(snapshots):
                fixings = compute_token_fixings(
                    day, snapshots[day].observations, self.constituents, self.methodology
                )
                for index in indices:
                    if index in fixings:
                        series[index].append(fixings[index])
        if any(index in self.gpu_indices() for index in indices):
            for day in _days(start, end):
                gpu = compute_gpu_fixings(day, gpu_observations(day).observations, self.methodology)
                for index in indices:
                    if index in gpu:
                        series[index].append(gpu[index])
        return series


def _is_token(item: object) -> bool:
    return isinstance(item, TokenPriceObservation)


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=offset) for offset in range((end - start).days + 1)]
