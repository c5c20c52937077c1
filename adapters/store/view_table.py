"""Where the persisted views are kept: tables beside eventsourcing's, written in the very
transaction that records the projection's tracking position, so a view is never ahead of
or behind what the projection has processed.

- trueup_account_views: one row per account, its view (see projections/views.py);
- trueup_symbol_views: one row per symbol of an account;
- trueup_recent_log and trueup_recent_heads: the recent log, for `diagnose`'s "last N":
  emitted events (by account and symbol, '' for account-wide ones) and refused inputs, in
  the order processed (see "The recent log" below);
- trueup_views_format: per projection, the format its views were written in;
- trueup_history: one row per closed position lifecycle (domain/pnl.py), upserted under its
  key and ordinal as the projection closes it and never cleared: the history outlives the
  state, which lets closed lifecycles go.

Views are opaque bytes here. Parameterised SQL only; table names are constants (quoted,
with the configured schema, on PostgreSQL), which is all the f-strings below put in.

The recent log: each entry is a row of trueup_recent_log, keyed by where the projection
recorded it (journal position first), so a step's entries go in at the end of the table, as
its inputs did; each names the entry before it in its range (venue, account, kind, symbol),
and trueup_recent_heads the last entry of each range, so the last N of a range are read by
following N links back. An older trueup kept the log in one table keyed by range
(trueup_recent, dropped here: the views are then rebuilt), where every step wrote a page at
the tail of each range it touched. On the bench's journal of 1,000,000 inputs and 10,000
positions (670,000 entries, 220 MB), a worker took 43 us an input that way and 39 this way
when the journal was not in memory; the same once it was. The heads, one row per range,
stay small.
"""
# ruff: noqa: S608

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from operator import itemgetter
from typing import Any, Protocol

from trueup.adapters.store.column_arrays import quoted

ACCOUNT_TABLE = "trueup_account_views"
SYMBOL_TABLE = "trueup_symbol_views"
RECENT_TABLE = "trueup_recent_log"
RECENT_HEADS_TABLE = "trueup_recent_heads"
# The recent log as an older trueup kept it, keyed by range: dropped, and rebuilt as the log.
OLD_RECENT_TABLE = "trueup_recent"
FORMAT_TABLE = "trueup_views_format"
HISTORY_TABLE = "trueup_history"
TABLES = (
    ACCOUNT_TABLE, SYMBOL_TABLE, RECENT_TABLE, RECENT_HEADS_TABLE, FORMAT_TABLE, HISTORY_TABLE
)  # fmt: skip
HISTORY_CLOSED_INDEX = f"{HISTORY_TABLE}_closed"
# The columns of an entry of the recent log, as the inserts list them.
_ENTRY = (
    "partition, position, kind, ordinal, venue, account, symbol, "
    "previous_position, previous_ordinal, body"
)
# (partition, venue, account, category, symbol, position_idx, number, opened_at, closed_at,
# body): one closed lifecycle.
HistoryRow = tuple[int, str, str, str, str, int, int, int, int, bytes]
# (venue, account, category, symbol, position_idx, number): a lifecycle no longer closed.
HistoryGone = tuple[str, str, str, str, int, int]


# An entry of the recent log: (journal position, ordinal there, body).
Recent = tuple[int, int, bytes]


class RecentKind(StrEnum):
    EMITTED = "emitted"
    REJECTED = "rejected"


@dataclass
class ViewWrites:
    """What one partition's projection step writes to its views, beside its tracking."""

    tracker: str
    partition: int
    format: str
    # (partition, venue, account, view)
    accounts: list[tuple[int, str, str, bytes]] = field(default_factory=list)
    # (partition, venue, account, symbol, view)
    symbols: list[tuple[int, str, str, str, bytes]] = field(default_factory=list)
    # (partition, venue, account, kind (a RecentKind's value), symbol, position, ordinal, body)
    recent: list[tuple[int, str, str, str, str, int, int, bytes]] = field(default_factory=list)
    history: list[HistoryRow] = field(default_factory=list)
    # Lifecycles recorded before that a fill come late has reopened or merged: deleted
    # before ``history`` is written (which holds those it closes again).
    history_gone: list[HistoryGone] = field(default_factory=list)
    # Every view of the partition is written afresh: those not written are gone.
    replace_all: bool = False


class Cursor(Protocol):
    def execute(self, statement: Any, parameters: Any = ...) -> Any: ...

    def executemany(self, statement: Any, parameters: Any) -> Any: ...


@dataclass(frozen=True)
class Statements:
    """The view tables' SQL in one dialect; ``table`` names a table, qualified if need be."""

    create: tuple[Any, ...]
    clear: tuple[Any, ...]
    upsert_account: Any
    upsert_symbol: Any
    insert_recent_first: Any
    insert_recent_next: Any
    upsert_recent_head: Any
    upsert_format: Any
    select_account: Any
    select_symbol: Any
    select_accounts: Any
    select_symbols: Any
    select_account_symbols: Any
    select_account_symbol_names: Any
    select_recent: Any
    select_format: Any
    upsert_history: Any
    delete_history: Any
    select_history: Any


def write(cursor: Cursor, statements: Statements, writes: ViewWrites) -> None:
    """Apply ``writes`` through ``cursor``, inside the caller's transaction."""
    if writes.replace_all:
        for statement in statements.clear:
            cursor.execute(statement, (writes.partition,))
    cursor.execute(statements.upsert_format, (writes.tracker, writes.format))
    if writes.accounts:
        cursor.executemany(statements.upsert_account, writes.accounts)
    if writes.symbols:
        cursor.executemany(statements.upsert_symbol, writes.symbols)
    if writes.recent:
        _append_recent(cursor, statements, writes.recent)
    if writes.history_gone:
        cursor.executemany(statements.delete_history, writes.history_gone)
    if writes.history:
        cursor.executemany(statements.upsert_history, writes.history)


def _append_recent(
    cursor: Cursor,
    statements: Statements,
    rows: list[tuple[int, str, str, str, str, int, int, bytes]],
) -> None:
    """Append entries to the recent log, each linked to the one before it in its range: the
    first of a range here to the range's head as stored (read by the insert itself), the
    others to the entry before them here; then each range's head moved to its last."""
    first: list[tuple[Any, ...]] = []
    rest: list[tuple[Any, ...]] = []
    heads: dict[tuple[str, str, str, str], tuple[int, int, int]] = {}
    for partition, venue, account, kind, symbol, position, ordinal, body in sorted(
        rows, key=itemgetter(5, 6)
    ):
        where = (venue, account, kind, symbol)
        entry = (partition, position, kind, ordinal, venue, account, symbol)
        before = heads.get(where)
        if before is None:
            first.append((*entry, *where, *where, body))
        else:
            rest.append((*entry, before[1], before[2], body))
        heads[where] = (partition, position, ordinal)
    if first:
        cursor.executemany(statements.insert_recent_first, first)
    if rest:
        cursor.executemany(statements.insert_recent_next, rest)
    cursor.executemany(
        statements.upsert_recent_head,
        [
            (partition, *where, position, ordinal)
            for where, (partition, position, ordinal) in heads.items()
        ],
    )


def sql_statements(
    table: Any, placeholder: str, blob: str, bigint: str, by_code_point: str = ""
) -> Statements:
    """The statements for a dialect: ``table(name)`` renders a table's name; text is ordered
    by code point (``by_code_point`` its COLLATE clause), as Python's sort and a replay."""
    p, c = placeholder, by_code_point
    in_range = f"venue = {p} AND account = {p} AND kind = {p} AND symbol = {p}"
    linked = (
        "entry.position = chain.position AND entry.partition = chain.partition "
        f"AND entry.kind = {p} AND entry.ordinal = chain.ordinal"
    )
    account, symbol, recent, heads, fmt, history = (table(t) for t in TABLES)
    create = (
        f"CREATE TABLE IF NOT EXISTS {account} (partition INTEGER NOT NULL, "
        f"venue TEXT NOT NULL, account TEXT NOT NULL, view {blob} NOT NULL, "
        "PRIMARY KEY (venue, account))",
        f"CREATE TABLE IF NOT EXISTS {symbol} (partition INTEGER NOT NULL, "
        "venue TEXT NOT NULL, account TEXT NOT NULL, "
        f"symbol TEXT NOT NULL, view {blob} NOT NULL, PRIMARY KEY (venue, account, symbol))",
        f"DROP TABLE IF EXISTS {table(OLD_RECENT_TABLE)}",
        f"CREATE TABLE IF NOT EXISTS {recent} (partition INTEGER NOT NULL, "
        f"position {bigint} NOT NULL, kind TEXT NOT NULL, ordinal INTEGER NOT NULL, "
        "venue TEXT NOT NULL, account TEXT NOT NULL, symbol TEXT NOT NULL, "
        f"previous_position {bigint}, previous_ordinal INTEGER, body {blob} NOT NULL, "
        "PRIMARY KEY (position, partition, kind, ordinal))",
        f"CREATE TABLE IF NOT EXISTS {heads} (partition INTEGER NOT NULL, "
        "venue TEXT NOT NULL, account TEXT NOT NULL, kind TEXT NOT NULL, "
        f"symbol TEXT NOT NULL, position {bigint} NOT NULL, ordinal INTEGER NOT NULL, "
        "PRIMARY KEY (venue, account, kind, symbol))",
        f"CREATE TABLE IF NOT EXISTS {fmt} (tracker TEXT PRIMARY KEY, format TEXT NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS {history} (partition INTEGER NOT NULL, "
        "venue TEXT NOT NULL, account TEXT NOT NULL, category TEXT NOT NULL, "
        "symbol TEXT NOT NULL, position_idx INTEGER NOT NULL, number INTEGER NOT NULL, "
        f"opened_at {bigint} NOT NULL, closed_at {bigint} NOT NULL, body {blob} NOT NULL, "
        "PRIMARY KEY (venue, account, category, symbol, position_idx, number))",
        # An index's name takes no schema: it lives in its table's.
        f"CREATE INDEX IF NOT EXISTS {HISTORY_CLOSED_INDEX} ON {history} (closed_at)",
    )
    return Statements(
        create=create,
        clear=tuple(
            f"DELETE FROM {t} WHERE partition = {p}" for t in (account, symbol, recent, heads)
        ),
        upsert_account=f"INSERT INTO {account} (partition, venue, account, view) "
        f"VALUES ({p}, {p}, {p}, {p}) "
        "ON CONFLICT (venue, account) DO UPDATE SET view = excluded.view",
        upsert_symbol=f"INSERT INTO {symbol} (partition, venue, account, symbol, view) "
        f"VALUES ({p}, {p}, {p}, {p}, {p}) "
        "ON CONFLICT (venue, account, symbol) DO UPDATE SET view = excluded.view",
        insert_recent_first=f"INSERT INTO {recent} ({_ENTRY}) "
        f"VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, "
        f"(SELECT position FROM {heads} WHERE {in_range}), "
        f"(SELECT ordinal FROM {heads} WHERE {in_range}), {p}) ON CONFLICT DO NOTHING",
        insert_recent_next=f"INSERT INTO {recent} ({_ENTRY}) "
        f"VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}) ON CONFLICT DO NOTHING",
        upsert_recent_head=f"INSERT INTO {heads} "
        "(partition, venue, account, kind, symbol, position, ordinal) "
        f"VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}) "
        "ON CONFLICT (venue, account, kind, symbol) DO UPDATE SET "
        "partition = excluded.partition, position = excluded.position, "
        "ordinal = excluded.ordinal",
        upsert_format=f"INSERT INTO {fmt} (tracker, format) VALUES ({p}, {p}) "
        "ON CONFLICT (tracker) DO UPDATE SET format = excluded.format",
        select_account=f"SELECT view FROM {account} WHERE venue = {p} AND account = {p}",
        select_symbol=f"SELECT view FROM {symbol} "
        f"WHERE venue = {p} AND account = {p} AND symbol = {p}",
        select_accounts=f"SELECT view FROM {account} ORDER BY venue{c}, account{c}",
        select_symbols=f"SELECT view FROM {symbol} ORDER BY venue{c}, account{c}, symbol{c}",
        select_account_symbols=f"SELECT view FROM {symbol} "
        f"WHERE venue = {p} AND account = {p} ORDER BY symbol{c}",
        select_account_symbol_names=f"SELECT symbol FROM {symbol} "
        f"WHERE venue = {p} AND account = {p} ORDER BY symbol{c}",
        # From the range's head, back along the links, as many entries as asked for.
        select_recent="WITH RECURSIVE chain (partition, position, ordinal, depth) AS ("
        f"SELECT partition, position, ordinal, 1 FROM {heads} WHERE {in_range} "
        "UNION ALL SELECT chain.partition, entry.previous_position, entry.previous_ordinal, "
        f"chain.depth + 1 FROM chain JOIN {recent} AS entry ON {linked} "
        f"WHERE entry.previous_position IS NOT NULL AND chain.depth < {p}) "
        f"SELECT entry.position, entry.ordinal, entry.body FROM chain JOIN {recent} AS entry "
        f"ON {linked} ORDER BY entry.position DESC, entry.ordinal DESC",
        select_format=f"SELECT format FROM {fmt} WHERE tracker = {p}",
        upsert_history=f"INSERT INTO {history} (partition, venue, account, category, symbol, "
        "position_idx, number, opened_at, closed_at, body) "
        f"VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}) "
        "ON CONFLICT (venue, account, category, symbol, position_idx, number) "
        "DO UPDATE SET opened_at = excluded.opened_at, closed_at = excluded.closed_at, "
        "body = excluded.body",
        delete_history=f"DELETE FROM {history} WHERE venue = {p} AND account = {p} "
        f"AND category = {p} AND symbol = {p} AND position_idx = {p} AND number = {p}",
        # Each filter is on when its parameter is not null: one statement for every query.
        select_history=f"SELECT body FROM {history} "
        f"WHERE (CAST({p} AS TEXT) IS NULL OR venue = {p}) "
        f"AND (CAST({p} AS TEXT) IS NULL OR account = {p}) "
        f"AND (CAST({p} AS TEXT) IS NULL OR symbol = {p}) AND closed_at >= {p} "
        f"ORDER BY closed_at, venue{c}, account{c}, category{c}, symbol{c}, position_idx, number",
    )


class ViewTable(Protocol):
    """Reads of the persisted views (writes go through the recorder, with the tracking)."""

    def format(self, tracker: str) -> str | None:
        """The format ``tracker``'s views were last written in; None if it wrote none."""

    def account(self, venue: str, account: str) -> bytes | None: ...

    def symbol(self, venue: str, account: str, symbol: str) -> bytes | None: ...

    def accounts(self) -> Sequence[bytes]:
        """Every account view, in account order."""

    def symbols(self) -> Sequence[bytes]:
        """Every symbol view, in account and symbol order."""

    def account_symbols(self, venue: str, account: str) -> Sequence[bytes]:
        """The symbol views of one account, in symbol order."""

    def account_symbol_names(self, venue: str, account: str) -> Sequence[str]:
        """The symbols one account has views of, in order: their names alone."""

    def recent(
        self, venue: str, account: str, kind: RecentKind, symbol: str, limit: int
    ) -> list[Recent]:
        """The last ``limit`` entries of a kind, newest first."""

    def history(
        self, venue: str | None, account: str | None, symbol: str | None, since: int
    ) -> list[bytes]:
        """The closed lifecycles closed at or after ``since``, of what is given, by close."""


def _sqlite_table(name: str) -> str:
    return name


SQLITE = sql_statements(_sqlite_table, "?", "BLOB", "INTEGER")


def postgres_statements(schema: str) -> Statements:
    def table(name: str) -> str:
        return f"{quoted(schema)}.{quoted(name)}"

    # A database's own collation (en_US.UTF-8, say) would put "alpha" before "Main".
    return sql_statements(table, "%s", "BYTEA", "BIGINT", ' COLLATE "C"')


class SQLViews:
    """The view tables through a datastore of eventsourcing's (SQLite or PostgreSQL)."""

    def __init__(self, datastore: Any, statements: Statements) -> None:
        self._datastore = datastore
        self._sql = statements

    def _rows(
        self, statement: Any, parameters: tuple[Any, ...] = (), columns: int = 1
    ) -> list[Any]:
        """The rows' values: the first column's alone, or tuples of ``columns``."""
        with self._datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, parameters)
            rows = [_values(row) for row in cursor.fetchall()]
        return [row[0] for row in rows] if columns == 1 else rows

    def format(self, tracker: str) -> str | None:
        rows = self._rows(self._sql.select_format, (tracker,))
        return str(rows[0]) if rows else None

    def account(self, venue: str, account: str) -> bytes | None:
        rows = self._rows(self._sql.select_account, (venue, account))
        return bytes(rows[0]) if rows else None

    def symbol(self, venue: str, account: str, symbol: str) -> bytes | None:
        rows = self._rows(self._sql.select_symbol, (venue, account, symbol))
        return bytes(rows[0]) if rows else None

    def accounts(self) -> list[bytes]:
        return [bytes(row) for row in self._rows(self._sql.select_accounts)]

    def symbols(self) -> list[bytes]:
        return [bytes(row) for row in self._rows(self._sql.select_symbols)]

    def account_symbols(self, venue: str, account: str) -> list[bytes]:
        rows = self._rows(self._sql.select_account_symbols, (venue, account))
        return [bytes(row) for row in rows]

    def account_symbol_names(self, venue: str, account: str) -> list[str]:
        return [
            str(row) for row in self._rows(self._sql.select_account_symbol_names, (venue, account))
        ]

    def recent(
        self, venue: str, account: str, kind: RecentKind, symbol: str, limit: int
    ) -> list[Recent]:
        if limit < 1:
            return []
        parameters = (venue, account, kind.value, symbol, kind.value, limit, kind.value)
        rows = self._rows(self._sql.select_recent, parameters, 3)
        return [(int(position), int(ordinal), bytes(body)) for position, ordinal, body in rows]

    def history(
        self, venue: str | None, account: str | None, symbol: str | None, since: int
    ) -> list[bytes]:
        parameters = (venue, venue, account, account, symbol, symbol, since)
        return [bytes(row) for row in self._rows(self._sql.select_history, parameters)]


def _values(row: Any) -> tuple[Any, ...]:
    """A row's values, whether the driver gives tuples (SQLite) or dicts (psycopg)."""
    return tuple(row.values()) if isinstance(row, dict) else tuple(row)
