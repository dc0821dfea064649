"""Contributed quotes as CSV: trades, firm quotes and list prices submitted by participants.

Token quotes have exactly these columns, in this order::

    date,contributor,provider,model,input_usd_per_mtok,output_usd_per_mtok,cached_input_usd_per_mtok,kind

GPU quotes have::

    date,contributor,provider,accelerator,variant,gpus_per_instance,usd_per_gpu_hour,kind

Validation is strict. Any malformed row raises :class:`ContributedDataError` naming the file,
the line and the column: a wrong header, a wrong number of fields, a date that is not
``YYYY-MM-DD``, an empty contributor/provider/model/accelerator, a price that is missing, not
a number, negative or zero once rounded to the micro-dollar (a free offer is not a price; a
zero cache-read price is allowed), a GPU count that is not a positive integer, or a ``kind``
other than ``trade``, ``firm_quote`` or ``list_price``. Prices are rounded half-even to the
micro-dollar. An empty cache-read price means "not sold" (``None``); an empty variant means
"unknown".

Duplicates: a row that repeats an earlier row exactly (the same values once parsed, so
``0.27`` and ``0.270`` are equal) is **excluded** and reported in the snapshot's ``skipped``
with both line numbers; two rows for the same (date, contributor, provider, model or GPU
shape, kind) that disagree on any value raise :class:`ContributedDataError`, since the file
cannot say which is right. ``sha256`` is over the file's bytes.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

from tokenfutures.adapters.index_sources.snapshot import (
    SkippedInput,
    SourceSnapshot,
    bytes_sha256,
    parse_usd,
    usd_to_micro,
)
from tokenfutures.domain.index.observations import (
    DataLevel,
    GpuPriceObservation,
    TokenPriceObservation,
)

Observation = TypeVar("Observation", TokenPriceObservation, GpuPriceObservation)

TOKEN_COLUMNS = (
    "date",
    "contributor",
    "provider",
    "model",
    "input_usd_per_mtok",
    "output_usd_per_mtok",
    "cached_input_usd_per_mtok",
    "kind",
)
GPU_COLUMNS = (
    "date",
    "contributor",
    "provider",
    "accelerator",
    "variant",
    "gpus_per_instance",
    "usd_per_gpu_hour",
    "kind",
)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class ContributedDataError(ValueError):
    """A CSV input breaks a rule; ``file``, ``line`` and ``column`` say where."""

    def __init__(self, file: str, line: int, column: str | None, problem: str) -> None:
        where = f"{file}, line {line}" + (f", column {column!r}" if column else "")
        super().__init__(f"{where}: {problem}")
        self.file = file
        self.line = line
        self.column = column
        self.problem = problem


@dataclass(frozen=True, slots=True)
class CsvRow:
    """One data row: its line number in the file and its fields by column name."""

    file: str
    line: int
    fields: dict[str, str]

    def error(self, column: str | None, problem: str) -> ContributedDataError:
        return ContributedDataError(self.file, self.line, column, problem)

    def text(self, column: str, *, required: bool = True) -> str:
        value = self.fields[column]
        if required and not value:
            raise self.error(column, "is empty")
        return value

    def day(self, column: str = "date") -> date:
        value = self.text(column)
        try:
            if not _ISO_DATE.fullmatch(value):
                raise ValueError
            return date.fromisoformat(value)
        except ValueError:
            raise self.error(column, f"{value!r} is not a date YYYY-MM-DD") from None

    def price(self, column: str, *, allow_zero: bool = False) -> Decimal:
        value = self.text(column)
        try:
            price = parse_usd(value)
        except ValueError as problem:
            raise self.error(column, str(problem)) from None
        if price < 0:
            raise self.error(column, f"{value} is negative")
        if not allow_zero and usd_to_micro(price) == 0:
            raise self.error(column, f"{value} is zero (to the micro-dollar); not a price")
        return price

    def positive_int(self, column: str) -> int:
        value = self.text(column)
        if not (value.isascii() and value.isdigit()) or len(value) > 6 or int(value) == 0:
            raise self.error(column, f"{value!r} is not a positive whole number")
        return int(value)

    def level(self, column: str = "kind") -> DataLevel:
        value = self.text(column)
        try:
            return DataLevel(value)
        except ValueError:
            kinds = ", ".join(level.value for level in DataLevel)
            raise self.error(column, f"{value!r} is not one of {kinds}") from None


def read_table(file: str, raw: bytes, columns: tuple[str, ...]) -> Iterator[CsvRow]:
    """Rows of a CSV whose header must be exactly ``columns``; blank lines are ignored."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ContributedDataError(file, 1, None, f"not UTF-8 text: {error}") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None or tuple(name.strip() for name in header) != columns:
        found = "nothing" if header is None else ",".join(header)
        raise ContributedDataError(
            file, 1, None, f"header must be {','.join(columns)}; found {found}"
        )
    try:
        for values in reader:
            if not any(value.strip() for value in values):
                continue
            if len(values) != len(columns):
                raise ContributedDataError(
                    file, reader.line_num, None, f"{len(values)} fields, expected {len(columns)}"
                )
            fields = {name: value.strip() for name, value in zip(columns, values, strict=True)}
            yield CsvRow(file, reader.line_num, fields)
    except csv.Error as error:
        raise ContributedDataError(file, reader.line_num, None, f"malformed CSV: {error}") from None


class _Duplicates:
    """Exact repeats are excluded and reported; the same key with other values is an error."""

    def __init__(self, key_columns: tuple[str, ...]) -> None:
        self._key_columns = key_columns
        self._seen: dict[tuple[str, ...], tuple[CsvRow, object]] = {}
        self.skipped: list[SkippedInput] = []

    def is_repeat(self, row: CsvRow, observation: object) -> bool:
        key = tuple(row.fields[column] for column in self._key_columns)
        earlier = self._seen.get(key)
        if earlier is None:
            self._seen[key] = (row, observation)
            return False
        earlier_row, earlier_observation = earlier
        if earlier_observation == observation:
            self.skipped.append(
                SkippedInput(
                    f"{row.file} line {row.line}", f"exact duplicate of line {earlier_row.line}"
                )
            )
            return True
        raise row.error(None, f"conflicts with line {earlier_row.line}: same key, other values")


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise ContributedDataError(str(path), 0, None, f"cannot be read: {error}") from None


def _token_observation(row: CsvRow, source: str) -> TokenPriceObservation:
    cached = row.fields["cached_input_usd_per_mtok"]
    return TokenPriceObservation(
        source=source,
        contributor=row.text("contributor"),
        provider=row.text("provider"),
        model=row.text("model"),
        day=row.day(),
        input=usd_to_micro(row.price("input_usd_per_mtok")),
        output=usd_to_micro(row.price("output_usd_per_mtok")),
        cached_input=(
            usd_to_micro(row.price("cached_input_usd_per_mtok", allow_zero=True))
            if cached
            else None
        ),
        level=row.level(),
    )


def _gpu_observation(row: CsvRow, source: str) -> GpuPriceObservation:
    return GpuPriceObservation(
        source=source,
        contributor=row.text("contributor"),
        provider=row.text("provider"),
        accelerator=row.text("accelerator"),
        variant=row.text("variant", required=False),
        gpus_per_instance=row.positive_int("gpus_per_instance"),
        day=row.day(),
        price=usd_to_micro(row.price("usd_per_gpu_hour")),
        level=row.level(),
    )


def _read_contributed(
    path: str | Path,
    columns: tuple[str, ...],
    key: tuple[str, ...],
    make: Callable[[CsvRow, str], Observation],
    what: str,
) -> SourceSnapshot[Observation]:
    """Validate every row of a contributed file; exact duplicates are skipped with a reason."""
    path = Path(path)
    raw = _read_bytes(path)
    source = f"csv:{path.name}"
    duplicates = _Duplicates(key)
    observations: list[Observation] = []
    for row in read_table(str(path), raw, columns):
        observation = make(row, source)
        if not duplicates.is_repeat(row, observation):
            observations.append(observation)
    return SourceSnapshot(
        name=source,
        observations=tuple(observations),
        sha256=bytes_sha256(raw),
        description=(
            f"contributed {what} {path}: {len(observations)} rows, "
            f"{len(duplicates.skipped)} exact duplicates excluded"
        ),
        skipped=tuple(duplicates.skipped),
    )


def contributed_token_observations(path: str | Path) -> SourceSnapshot[TokenPriceObservation]:
    """Validated token quotes from a contributed CSV file."""
    key = ("date", "contributor", "provider", "model", "kind")
    return _read_contributed(path, TOKEN_COLUMNS, key, _token_observation, "token quotes")


def contributed_gpu_observations(path: str | Path) -> SourceSnapshot[GpuPriceObservation]:
    """Validated GPU-hour quotes from a contributed CSV file."""
    key = ("date", "contributor", "provider", "accelerator", "variant", "gpus_per_instance", "kind")
    return _read_contributed(path, GPU_COLUMNS, key, _gpu_observation, "GPU quotes")
