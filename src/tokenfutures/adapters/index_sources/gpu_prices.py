"""GPU rental list prices from the packaged cross-provider snapshot (or a file like it).

The packaged ``tokenfutures/data/gpu_rental_prices.csv`` is a copy of a snapshot of the
SkyPilot price catalog (Apache-2.0; see ``gpu_rental_prices.README.md`` beside it) with
columns::

    provider,accelerator,variant,gpus_per_instance,ondemand_usd_per_gpu_hour_min,
    ondemand_usd_per_gpu_hour_median,ondemand_usd_per_gpu_hour_max,
    spot_usd_per_gpu_hour_median,regions,source_path,source_commit

One observation per row: the **on-demand median** per GPU-hour (already divided by the
instance's GPU count, regions collapsed), level ``list_price``, contributor = provider. The
snapshot is undated, so it is treated as the current list price and every observation is dated
the ``day`` asked for; the caller decides for which days that is acceptable. Spot prices are
not used (they are interruptible capacity, not the deliverable). A row with an empty, zero or
negative median is skipped with its reason; a malformed row raises
:class:`~tokenfutures.adapters.index_sources.contributed_csv.ContributedDataError` naming the
file, line and column. ``sha256`` is over the file's bytes.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path

from tokenfutures.adapters.index_sources.contributed_csv import (
    ContributedDataError,
    CsvRow,
    read_table,
)
from tokenfutures.adapters.index_sources.snapshot import (
    SkippedInput,
    SourceSnapshot,
    bytes_sha256,
    parse_usd,
    usd_to_micro,
)
from tokenfutures.domain.index.observations import DataLevel, GpuPriceObservation

PACKAGED_GPU_PRICES = "data/gpu_rental_prices.csv"
SNAPSHOT_COLUMNS = (
    "provider",
    "accelerator",
    "variant",
    "gpus_per_instance",
    "ondemand_usd_per_gpu_hour_min",
    "ondemand_usd_per_gpu_hour_median",
    "ondemand_usd_per_gpu_hour_max",
    "spot_usd_per_gpu_hour_median",
    "regions",
    "source_path",
    "source_commit",
)
_PRICE = "ondemand_usd_per_gpu_hour_median"


def _read(path: Path | None) -> tuple[str, bytes]:
    if path is None:
        packaged = resources.files("tokenfutures").joinpath(PACKAGED_GPU_PRICES)
        return f"tokenfutures/{PACKAGED_GPU_PRICES}", packaged.read_bytes()
    try:
        return str(path), path.read_bytes()
    except OSError as error:
        raise ContributedDataError(str(path), 0, None, f"cannot be read: {error}") from None


def _observation(row: CsvRow, source: str, day: date) -> GpuPriceObservation | SkippedInput:
    item = (
        f"{row.fields['provider']} {row.fields['accelerator']} {row.fields['variant']} "
        f"x{row.fields['gpus_per_instance']}"
    )
    text = row.fields[_PRICE]
    if not text:
        return SkippedInput(item, "no on-demand price")
    try:
        price = parse_usd(text)
    except ValueError:
        raise row.error(_PRICE, f"{text!r} is not a number") from None
    if price <= 0:
        return SkippedInput(item, f"on-demand price {text} is not positive")
    return GpuPriceObservation(
        source=source,
        contributor=row.text("provider"),
        provider=row.text("provider"),
        accelerator=row.text("accelerator"),
        variant=row.text("variant", required=False),
        gpus_per_instance=row.positive_int("gpus_per_instance"),
        day=day,
        price=usd_to_micro(price),
        level=DataLevel.LIST_PRICE,
    )


# the packaged snapshot was read on this day (data/gpu_rental_prices.README.md): it says
# nothing about earlier prices
PACKAGED_SNAPSHOT_READ_ON = date(2026, 11, 21)


def _source_name(name: str) -> str:
    return f"gpu-snapshot:{Path(name).name}"


def _parse(
    path: Path | None,
) -> tuple[str, bytes, tuple[GpuPriceObservation, ...], tuple[SkippedInput, ...]]:
    """Read and validate a snapshot once; its observations are dated later, per fixing day."""
    name, raw = _read(path)
    source = _source_name(name)
    observations: list[GpuPriceObservation] = []
    skipped: list[SkippedInput] = []
    for row in read_table(name, raw, SNAPSHOT_COLUMNS):
        result = _observation(row, source, PACKAGED_SNAPSHOT_READ_ON)
        if isinstance(result, SkippedInput):
            skipped.append(result)
        else:
            observations.append(result)
    return name, raw, tuple(observations), tuple(skipped)


@cache
def _packaged() -> tuple[str, bytes, tuple[GpuPriceObservation, ...], tuple[SkippedInput, ...]]:
    """The packaged snapshot, parsed once per process (a history reads it for every day)."""
    return _parse(None)


def gpu_observations(
    day: date, path: str | Path | None = None, read_on: date | None = None
) -> SourceSnapshot[GpuPriceObservation]:
    """On-demand list prices per GPU-hour from the snapshot.

    From the day the snapshot was read (``read_on``; the packaged one's by default) its
    prices stand as the current list prices and are dated ``day``; for an earlier day they
    are dated ``read_on``, after the fixing day, so the methodology excludes them: a snapshot
    never back-fills history.
    """
    if read_on is None and path is None:
        read_on = PACKAGED_SNAPSHOT_READ_ON
    if read_on is not None and day < read_on:
        day = read_on
    name, raw, undated, skipped = _packaged() if path is None else _parse(Path(path))
    source = _source_name(name)
    observations = [replace(item, day=day) for item in undated]
    return SourceSnapshot(
        name=source,
        observations=tuple(observations),
        sha256=bytes_sha256(raw),
        description=(
            f"GPU rental list prices {name} (snapshot taken as the list price from "
            f"{read_on.isoformat() if read_on else 'any day'}, dated {day.isoformat()}): "
            f"{len(observations)} priced, {len(skipped)} skipped"
        ),
        skipped=tuple(skipped),
    )
