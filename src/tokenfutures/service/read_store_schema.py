"""The read models' tables, the same on SQLite and PostgreSQL, and their numbered migrations.

The tables sit in the database that holds the command journal. Prices are integer ticks
(``*_ticks``) beside their decimal text; money is integer minor units (cents); quantities are
lots; timestamps (``*_ts``, ``ts``) are microseconds since the Unix epoch, UTC, as in the
journal; ``seq`` columns are the journal sequence number of the command that last wrote the
row. Dates are ``date`` on PostgreSQL and ISO text (``YYYY-MM-DD``) on SQLite; documents are
``jsonb`` on PostgreSQL and JSON text on SQLite. Nothing else differs.

Migrations (:data:`MIGRATIONS`) are applied in order, each with its row in
``read_model_schema_version``, all in one transaction (both databases have transactional DDL),
so an upgrade is all or nothing and a second run applies nothing. A released migration is
never edited: a change is a new, higher version. :func:`migrate` refuses a database whose
read models were migrated by a newer program.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

VERSION_TABLE = "read_model_schema_version"
STORE_NAME = "read_models"  # the row of ``read_store_position`` this store keeps

# (version, name, statements): {date}, {json} and {timestamp} are the dialect's types.
MIGRATIONS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (
        1,
        "orders, trades and fills",
        (
            "CREATE TABLE orders ("
            " order_id bigint PRIMARY KEY,"
            " account text NOT NULL,"
            " client_order_id text NOT NULL,"
            " symbol text NOT NULL,"
            " side text NOT NULL,"
            " order_type text NOT NULL,"
            " time_in_force text NOT NULL,"
            " post_only boolean NOT NULL,"
            " price_ticks bigint,"
            " price text,"
            " stop_price_ticks bigint,"
            " stop_price text,"
            " quantity bigint NOT NULL,"
            " filled_quantity bigint NOT NULL,"
            " leaves_quantity bigint NOT NULL,"
            " filled_notional_ticks bigint NOT NULL,"
            " average_price text,"
            " status text NOT NULL,"
            " reason text,"
            " created_ts bigint NOT NULL,"
            " updated_ts bigint NOT NULL,"
            " created_seq bigint NOT NULL,"
            " updated_seq bigint NOT NULL)",
            "CREATE INDEX orders_account_status ON orders (account, status)",
            "CREATE INDEX orders_account_client_order_id ON orders (account, client_order_id)",
            "CREATE INDEX orders_symbol_created ON orders (symbol, created_ts)",
            "CREATE TABLE trades ("
            " trade_id bigint PRIMARY KEY,"
            " symbol text NOT NULL,"
            " ts bigint NOT NULL,"
            " price_ticks bigint NOT NULL,"
            " price text NOT NULL,"
            " quantity bigint NOT NULL,"
            " buy_order_id bigint NOT NULL,"
            " sell_order_id bigint NOT NULL,"
            " buy_account text NOT NULL,"
            " sell_account text NOT NULL,"
            " buy_client_order_id text NOT NULL,"
            " sell_client_order_id text NOT NULL,"
            " aggressor text,"
            " buy_fee bigint NOT NULL,"
            " sell_fee bigint NOT NULL,"
            " seq bigint NOT NULL)",
            "CREATE INDEX trades_symbol_ts ON trades (symbol, ts)",
            "CREATE TABLE fills ("
            " trade_id bigint NOT NULL,"
            " side text NOT NULL,"
            " account text NOT NULL,"
            " order_id bigint NOT NULL,"
            " client_order_id text NOT NULL,"
            " symbol text NOT NULL,"
            " ts bigint NOT NULL,"
            " price_ticks bigint NOT NULL,"
            " price text NOT NULL,"
            " quantity bigint NOT NULL,"
            " liquidity text NOT NULL,"
            " fee bigint NOT NULL,"
            " seq bigint NOT NULL,"
            " PRIMARY KEY (trade_id, side))",
            "CREATE INDEX fills_account_ts ON fills (account, ts)",
            "CREATE INDEX fills_order_id ON fills (order_id)",
            "CREATE TABLE read_store_position (store text PRIMARY KEY, seq bigint NOT NULL)",
        ),
    ),
    (
        2,
        "positions, settlement prices and daily statements",
        (
            "CREATE TABLE positions ("
            " account text NOT NULL,"
            " symbol text NOT NULL,"
            " quantity bigint NOT NULL,"
            " cost_ticks bigint NOT NULL,"
            " average_entry_price_ticks bigint,"
            " average_entry_price text,"
            " realised_pnl bigint NOT NULL,"
            " variation_margin bigint NOT NULL,"
            " updated_ts bigint NOT NULL,"
            " updated_seq bigint NOT NULL,"
            " PRIMARY KEY (account, symbol))",
            "CREATE INDEX positions_symbol ON positions (symbol)",
            "CREATE TABLE settlement_prices ("
            " settlement_date {date} NOT NULL,"
            " symbol text NOT NULL,"
            " price_ticks bigint NOT NULL,"
            " price text NOT NULL,"
            " method text NOT NULL,"
            " volume bigint NOT NULL,"
            " open_interest bigint NOT NULL,"
            " lower_limit_ticks bigint NOT NULL,"
            " upper_limit_ticks bigint NOT NULL,"
            " lower_limit text NOT NULL,"
            " upper_limit text NOT NULL,"
            " ts bigint NOT NULL,"
            " seq bigint NOT NULL,"
            " PRIMARY KEY (settlement_date, symbol))",
            "CREATE INDEX settlement_prices_symbol ON settlement_prices (symbol, settlement_date)",
            "CREATE TABLE final_settlements ("
            " symbol text PRIMARY KEY,"
            " price_ticks bigint NOT NULL,"
            " price text NOT NULL,"
            " open_interest bigint NOT NULL,"
            " ts bigint NOT NULL,"
            " seq bigint NOT NULL)",
            "CREATE TABLE statements ("
            " account text NOT NULL,"
            " statement_date {date} NOT NULL,"
            " opening_balance bigint NOT NULL,"
            " deposits bigint NOT NULL,"
            " withdrawals bigint NOT NULL,"
            " fees bigint NOT NULL,"
            " variation_margin bigint NOT NULL,"
            " final_settlement bigint NOT NULL,"
            " default_transfers bigint NOT NULL,"
            " closing_balance bigint NOT NULL,"
            " initial_margin bigint NOT NULL,"
            " maintenance_margin bigint NOT NULL,"
            " margin_call bigint NOT NULL,"
            " trade_count bigint NOT NULL,"
            " position_count bigint NOT NULL,"
            " document {json} NOT NULL,"
            " seq bigint NOT NULL,"
            " PRIMARY KEY (account, statement_date))",
            "CREATE INDEX statements_date ON statements (statement_date)",
        ),
    ),
    (
        3,
        "index fixings",
        (
            "CREATE TABLE index_fixings ("
            " index_code text NOT NULL,"
            " fixing_date {date} NOT NULL,"
            " version bigint NOT NULL,"
            " value_micros bigint,"
            " value text,"
            " unit text NOT NULL,"
            " quality text NOT NULL,"
            " methodology_version text NOT NULL,"
            " inputs_sha256 text NOT NULL,"
            " published_at text,"
            " document {json} NOT NULL,"
            " PRIMARY KEY (index_code, fixing_date, version))",
            "CREATE INDEX index_fixings_date ON index_fixings (fixing_date, index_code)",
        ),
    ),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]


class ReadStoreError(RuntimeError):
    """The read models cannot be opened or cannot follow the journal."""


class ReadSchemaVersionError(ReadStoreError):
    """The read models were migrated by a newer version of the exchange than this one."""


@dataclass(frozen=True, slots=True)
class Dialect:
    """What differs between the databases: the parameter mark and three column types."""

    name: str
    mark: str  # the DB-API parameter mark
    types: Mapping[str, str]  # {date}, {json}, {timestamp} in the migrations
    casts: Mapping[str, str] = field(default_factory=dict)  # a parameter of that kind, cast

    def ddl(self, statement: str) -> str:
        return statement.format(**self.types)

    def param(self, kind: str | None = None) -> str:
        return self.mark + (self.casts.get(kind, "") if kind else "")

    def sql(self, statement: str) -> str:
        """A statement written with ``?`` marks, in this dialect's marks."""
        return statement.replace("?", self.mark)


SQLITE = Dialect("sqlite", "?", {"date": "text", "json": "text", "timestamp": "text"})
POSTGRESQL = Dialect(
    "postgresql",
    "%s",
    {"date": "date", "json": "jsonb", "timestamp": "timestamptz"},
    {"date": "::date", "json": "::jsonb"},
)


@dataclass(frozen=True, slots=True)
class Table:
    """A table as the writer fills it: its columns in row order and its key."""

    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]
    kinds: Mapping[str, str] = field(default_factory=dict)  # column -> date | json

    def upsert(self, dialect: Dialect, rows: int = 1) -> str:
        """Insert ``rows`` rows (distinct keys), each replacing every non-key column of the
        row with the same key if there is one."""
        row = "(" + ", ".join(dialect.param(self.kinds.get(c)) for c in self.columns) + ")"
        updates = ", ".join(f"{c} = excluded.{c}" for c in self.columns if c not in self.key)
        return (
            f"INSERT INTO {self.name} ({', '.join(self.columns)}) VALUES "
            f"{', '.join([row] * rows)} "
            f"ON CONFLICT ({', '.join(self.key)}) DO UPDATE SET {updates}"
        )


ORDERS = Table(
    "orders",
    (
        "order_id", "account", "client_order_id", "symbol", "side", "order_type",
        "time_in_force", "post_only", "price_ticks", "price", "stop_price_ticks", "stop_price",
        "quantity", "filled_quantity", "leaves_quantity", "filled_notional_ticks",
        "average_price", "status", "reason", "created_ts", "updated_ts", "created_seq",
        "updated_seq",
    ),
    ("order_id",),
)  # fmt: skip
TRADES = Table(
    "trades",
    (
        "trade_id", "symbol", "ts", "price_ticks", "price", "quantity", "buy_order_id",
        "sell_order_id", "buy_account", "sell_account", "buy_client_order_id",
        "sell_client_order_id", "aggressor", "buy_fee", "sell_fee", "seq",
    ),
    ("trade_id",),
)  # fmt: skip
FILLS = Table(
    "fills",
    (
        "trade_id", "side", "account", "order_id", "client_order_id", "symbol", "ts",
        "price_ticks", "price", "quantity", "liquidity", "fee", "seq",
    ),
    ("trade_id", "side"),
)  # fmt: skip
POSITIONS = Table(
    "positions",
    (
        "account", "symbol", "quantity", "cost_ticks", "average_entry_price_ticks",
        "average_entry_price", "realised_pnl", "variation_margin", "updated_ts", "updated_seq",
    ),
    ("account", "symbol"),
)  # fmt: skip
SETTLEMENT_PRICES = Table(
    "settlement_prices",
    (
        "settlement_date", "symbol", "price_ticks", "price", "method", "volume",
        "open_interest", "lower_limit_ticks", "upper_limit_ticks", "lower_limit",
        "upper_limit", "ts", "seq",
    ),
    ("settlement_date", "symbol"),
    {"settlement_date": "date"},
)  # fmt: skip
FINAL_SETTLEMENTS = Table(
    "final_settlements",
    ("symbol", "price_ticks", "price", "open_interest", "ts", "seq"),
    ("symbol",),
)
STATEMENTS = Table(
    "statements",
    (
        "account", "statement_date", "opening_balance", "deposits", "withdrawals", "fees",
        "variation_margin", "final_settlement", "default_transfers", "closing_balance",
        "initial_margin", "maintenance_margin", "margin_call", "trade_count",
        "position_count", "document", "seq",
    ),
    ("account", "statement_date"),
    {"statement_date": "date", "document": "json"},
)  # fmt: skip
INDEX_FIXINGS = Table(
    "index_fixings",
    (
        "index_code", "fixing_date", "version", "value_micros", "value", "unit", "quality",
        "methodology_version", "inputs_sha256", "published_at", "document",
    ),
    ("index_code", "fixing_date", "version"),
    {"fixing_date": "date", "document": "json"},
)  # fmt: skip
TABLES = (
    ORDERS, TRADES, FILLS, POSITIONS, SETTLEMENT_PRICES, FINAL_SETTLEMENTS, STATEMENTS,
    INDEX_FIXINGS,
)  # fmt: skip
BY_NAME = {table.name: table for table in TABLES}

# A contract's final settlement closes each position at the settlement price: what is left
# open is realised at that price. Guarded by the sequence number, so that writing the same
# command twice (after a restart that found it unrecorded) changes nothing the second time.
CLOSE_POSITION = (
    "UPDATE positions SET"
    " realised_pnl = realised_pnl + (quantity * ? - cost_ticks) * ?,"
    " variation_margin = variation_margin + ?,"
    " quantity = 0, cost_ticks = 0, average_entry_price_ticks = NULL,"
    " average_entry_price = NULL, updated_ts = ?, updated_seq = ?"
    " WHERE account = ? AND symbol = ? AND updated_seq < ?"
)
SET_POSITION = (
    "INSERT INTO read_store_position (store, seq) VALUES (?, ?) "
    "ON CONFLICT (store) DO UPDATE SET seq = excluded.seq"
)
GET_POSITION = "SELECT seq FROM read_store_position WHERE store = ?"
LIVE_ORDERS = (
    "SELECT order_id, account, client_order_id, symbol, side, order_type, time_in_force,"
    " post_only, price_ticks, stop_price_ticks, quantity, filled_quantity, leaves_quantity,"
    " filled_notional_ticks, status, reason, created_ts, updated_ts, created_seq, updated_seq"
    " FROM orders WHERE status IN ('new', 'partially_filled') ORDER BY order_id"
)


MAX_PARAMETERS = 32_000  # per statement: SQLite allows 32,766, PostgreSQL 65,535


@dataclass(frozen=True, slots=True)
class Statements:
    """Every statement the writer runs, in one dialect.

    On SQLite rows are upserted many to a statement (:meth:`upserts`): one statement per few
    hundred rows rather than one per row is several times faster and, as the driver lets
    other threads run while each statement executes, hands the interpreter to and from the
    sequencer's thread far less often. On PostgreSQL the driver's pipelined ``executemany``
    of the one-row statement (:meth:`upsert`) is faster: it parses the statement once."""

    dialect: Dialect
    close_position: str
    set_position: str
    get_position: str
    live_orders: str
    _sql: dict[tuple[str, int], str] = field(default_factory=dict)

    @classmethod
    def of(cls, dialect: Dialect) -> Statements:
        return cls(
            dialect,
            dialect.sql(CLOSE_POSITION),
            dialect.sql(SET_POSITION),
            dialect.sql(GET_POSITION),
            LIVE_ORDERS,
        )

    def upsert(self, table: str, rows: int = 1) -> str:
        """The statement that upserts ``rows`` rows (distinct keys) into ``table``."""
        sql = self._sql.get((table, rows))
        if sql is None:
            sql = self._sql[(table, rows)] = BY_NAME[table].upsert(self.dialect, rows)
        return sql

    def upserts(self, table: str, rows: Sequence[Sequence[Any]]) -> Iterator[tuple[str, list[Any]]]:
        """(statement, parameters) upserting ``rows`` (distinct keys) into ``table``, as many
        to a statement as the parameter limit allows."""
        step = MAX_PARAMETERS // len(BY_NAME[table].columns)
        for start in range(0, len(rows), step):
            chunk = rows[start : start + step]
            yield self.upsert(table, len(chunk)), [value for row in chunk for value in row]


Run = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]  # execute, return the rows


def migrate(run: Run, dialect: Dialect, target: int = SCHEMA_VERSION) -> list[int]:
    """Apply the migrations up to ``target`` that the database lacks, in order; the versions
    applied. The caller holds one transaction (and the lock that keeps two processes from
    migrating at once) around the call."""
    run(
        f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} ("
        " version integer PRIMARY KEY,"
        " name text NOT NULL,"
        f" applied_at {dialect.types['timestamp']} NOT NULL DEFAULT CURRENT_TIMESTAMP)",
        (),
    )
    done = {int(row[0]) for row in run(f"SELECT version FROM {VERSION_TABLE}", ())}
    if done and max(done) > SCHEMA_VERSION:
        raise ReadSchemaVersionError(
            f"the read models' schema is at version {max(done)}, newer than this program's "
            f"{SCHEMA_VERSION}: upgrade tokenfutures"
        )
    applied = []
    for version, name, statements in MIGRATIONS:
        if version in done or version > target:
            continue
        for statement in statements:
            run(dialect.ddl(statement), ())
        run(dialect.sql(f"INSERT INTO {VERSION_TABLE} (version, name) VALUES (?, ?)"),
            (version, name))  # fmt: skip
        applied.append(version)
    return applied


def versions(run: Run) -> list[int]:
    """The migrations the database has, in order (none before the first migration)."""
    exists = run(f"SELECT version FROM {VERSION_TABLE} ORDER BY version", ())
    return [int(row[0]) for row in exists]
