"""Snapshots: the whole state of the exchange at a journal position, as one JSON document.

Recovery loads the latest snapshot and replays only the journal after it (LMAX, Aeron
Cluster, exchange-core); the state hash after restoring must equal the one recorded when the
snapshot was taken, or the snapshot is not used.

The document (:data:`FORMAT`, version :data:`VERSION`) is JSON-ready: integers stay integers
(ticks, lots, minor units, microseconds), enums are their stable values, dates ISO strings::

    {"format": "tokenfutures-snapshot", "version": 1,
     "seq": 1234,                 # the last journal command it includes
     "last_ts": 1795397400000000, # the latest command time (exchange microseconds)
     "state_hash": "…",           # ClearingHouse.state_hash() of the state it holds
     "house": {"configuration": "…", "listings": […], "exchange": {…}, "clearing": {…}},
     "views": {…},                # the service's read models
     "parts": {"name": …}}        # read models registered as snapshot parts

``house.configuration`` is a SHA-256 of the market the state belongs to (contract rules,
clearing terms, margin parameters): a snapshot is restored only into the same market, since a
changed contract must be replayed from the journal under its new terms. ``house.listings``
names the contract months listed after the listing date, in the order they were listed
(absent: none); restoring lists them again, worked out by the market's catalog from the
products file and the trading calendar, before the configuration is compared, so a market
that has rolled onto new months restores into a market built for its listing date. The
core's state is written by ``snapshot_exchange.py``, the clearing house's by
``snapshot_clearing.py``.

Stored, a document is compact JSON compressed with zlib (:func:`encode`, :func:`decode`);
zlib's checksum catches a damaged body.
"""

from __future__ import annotations

import gc
import hashlib
import json
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from tokenfutures.domain.clearing.house import ClearingHouse
from tokenfutures.domain.clearing.listings import add_contract, remove_listings
from tokenfutures.domain.clearing.terms import contract_terms
from tokenfutures.domain.listing import ListedContract, to_instrument_rules
from tokenfutures.domain.values import Phase
from tokenfutures.engine.codec import CommandError
from tokenfutures.engine.snapshot_clearing import export_clearing, restore_clearing
from tokenfutures.engine.snapshot_exchange import export_exchange, restore_exchange
from tokenfutures.engine.snapshot_values import SnapshotError, integer

FORMAT = "tokenfutures-snapshot"
VERSION = 1
COMPRESSION_LEVEL = 6
CHUNK_ROWS = 256  # items of a list or object written by one json.dumps call

__all__ = [
    "FORMAT",
    "VERSION",
    "Snapshot",
    "SnapshotError",
    "SnapshotPart",
    "collector_paused",
    "configuration",
    "decode",
    "document",
    "encode",
    "export_house",
    "read_document",
    "restore_house",
]


class ContractCatalog(Protocol):
    """Where restoring finds the contract months a snapshot lists (the market's catalog)."""

    def contract(self, symbol: str) -> ListedContract: ...


class SnapshotPart(Protocol):
    """A read model kept in snapshots beside the exchange's own state.

    ``export`` returns its whole state as JSON-ready values (a copy: the state goes on
    changing after it); ``restore`` replaces its whole state by what ``export`` returned."""

    def export(self) -> Any: ...
    def restore(self, data: Any) -> None: ...


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A document read back: the journal position, the recorded hash and the sections."""

    seq: int
    last_ts: int
    state_hash: str
    house: dict[str, Any]
    views: Any
    parts: dict[str, Any]


def configuration(house: ClearingHouse) -> str:
    """SHA-256 of the market ``house`` trades: rules, terms, margin parameters, settings."""
    exchange = house.exchange
    described = (
        tuple(repr(inst.rules) for inst in exchange.instruments.values()),
        tuple(repr(terms) for terms in house.terms.values()),
        tuple(sorted((code, repr(p)) for code, p in house.margin_parameters.items())),
        house.risk,
        repr(house.parameters),
    )
    return hashlib.sha256(repr(described).encode()).hexdigest()


def export_house(house: ClearingHouse) -> dict[str, Any]:
    """The state of ``house`` and its exchange as JSON-ready values (a copy)."""
    return {
        "configuration": configuration(house),
        "listings": list(house.listings),
        "exchange": export_exchange(house.exchange),
        "clearing": export_clearing(house),
    }


def restore_house(
    house: ClearingHouse, data: dict[str, Any], catalog: ContractCatalog | None = None
) -> None:
    """Replace the state of ``house`` (which must trade the same market) by ``data``.

    The contracts ``data`` lists after the listing date are listed again from ``catalog``
    (and those ``house`` had listed are taken out first). Raises :class:`SnapshotError` if
    ``data`` belongs to another market or cannot be read; ``house`` may then hold part of
    it: restore another document (an empty house's export, say) before using it again.
    """
    try:
        _restore_listings(house, data.get("listings", []), catalog)
        if data["configuration"] != configuration(house):
            raise SnapshotError("the snapshot was taken of a market with other contracts or terms")
        restore_exchange(house.exchange, data["exchange"])
        restore_clearing(house, data["clearing"])
    except SnapshotError:
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as error:
        raise SnapshotError(f"unreadable snapshot: {type(error).__name__}: {error}") from error


def _restore_listings(
    house: ClearingHouse, symbols: list[Any], catalog: ContractCatalog | None
) -> None:
    if list(house.listings) == symbols:
        return
    remove_listings(house)
    if symbols and catalog is None:
        raise SnapshotError("the snapshot lists contracts later, and this market lists none")
    for symbol in symbols:
        if catalog is None or not isinstance(symbol, str) or symbol in house.exchange.instruments:
            raise SnapshotError(f"listings: {symbol!r} cannot be listed again")
        try:
            contract = catalog.contract(symbol)
        except CommandError as error:
            raise SnapshotError(f"listings: {error}") from None
        rules, terms = to_instrument_rules(contract), contract_terms(contract)
        add_contract(house, contract, rules, terms, Phase.CLOSED)  # the snapshot has its phase


def document(
    seq: int,
    last_ts: int,
    state_hash: str,
    house: dict[str, Any],
    views: Any,
    parts: dict[str, Any],
) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "seq": seq,
        "last_ts": last_ts,
        "state_hash": state_hash,
        "house": house,
        "views": views,
        "parts": parts,
    }


def read_document(data: Any) -> Snapshot:
    """The snapshot ``data`` (a decoded document) holds; :class:`SnapshotError` if it is
    not a snapshot of this format and version."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise SnapshotError("not a tokenfutures snapshot")
    if data.get("version") != VERSION:
        raise SnapshotError(
            f"snapshot version {data.get('version')!r}, this program reads {VERSION}"
        )
    try:
        house, parts = data["house"], data["parts"]
        if not isinstance(house, dict) or not isinstance(parts, dict):
            raise SnapshotError("house and parts must be JSON objects")
        return Snapshot(
            integer(data["seq"], "seq"),
            integer(data["last_ts"], "last_ts"),
            str(data["state_hash"]),
            house,
            data["views"],
            parts,
        )
    except KeyError as error:
        raise SnapshotError(f"the snapshot has no {error}") from None


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a whole state is exported or restored.

    Both allocate hundreds of thousands of containers; with the collector on, most of the
    time would go into full collections of the whole heap that find nothing to free.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def encode(data: dict[str, Any], level: int = COMPRESSION_LEVEL) -> bytes:
    """A document as stored: compact JSON (UTF-8) compressed with zlib.

    The JSON is written a slice at a time (:func:`json_chunks`) and compressed as it comes:
    one ``json.dumps`` of a large state holds the interpreter lock for hundreds of
    milliseconds, which would stall the event loop while a snapshot is encoded on another
    thread; zlib releases the lock while it compresses.
    """
    compressor = zlib.compressobj(level)
    out = [compressor.compress(chunk.encode()) for chunk in json_chunks(data)]
    out.append(compressor.flush())
    return b"".join(out)


def json_chunks(value: Any, rows: int = CHUNK_ROWS) -> Iterator[str]:
    """``json.dumps(value)`` (compact, UTF-8 text, no NaN) in pieces: an object of at most
    ``rows`` members piece by piece, a longer object or list ``rows`` members at a time
    (each slice by one ``json.dumps`` call), anything else whole."""
    if isinstance(value, dict) and len(value) <= rows:
        yield "{"
        for index, (key, item) in enumerate(value.items()):
            yield ("," if index else "") + _dumps(str(key)) + ":"
            yield from json_chunks(item, rows)
        yield "}"
    elif isinstance(value, dict):
        members = list(value.items())
        yield "{"
        for start in range(0, len(members), rows):
            yield ("," if start else "") + _dumps(dict(members[start : start + rows]))[1:-1]
        yield "}"
    elif isinstance(value, list) and len(value) > rows:
        yield "["
        for start in range(0, len(value), rows):
            yield ("," if start else "") + _dumps(value[start : start + rows])[1:-1]
        yield "]"
    else:
        yield _dumps(value)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def decode(body: bytes) -> Any:
    """What :func:`encode` stored; :class:`SnapshotError` if it does not decompress or parse."""
    try:
        return json.loads(zlib.decompress(body))
    except (zlib.error, UnicodeDecodeError, ValueError) as error:
        raise SnapshotError(f"unreadable snapshot body: {error}") from None
