"""Export lines built by the database: one finished CSV or JSON line per row.

Why in SQL: fetching 30 columns per row into Python objects already costs more than
`sqlite3 -csv` takes for the whole dump, and Python's csv writer several times that. Here
the database formats each row into one string (`printf()` / `json_object()` on SQLite,
`concat_ws()` / `json_build_object()` on PostgreSQL), so Python only joins and encodes
lines. The expressions are generated from the column kinds of `schemas.Column` — the one
record definition — with the same rules as the Python path (`service.exports.service`).
Column names come from our own models, never from a request.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import ColumnElement, literal_column

from service.exports.schemas import Column, Kind

Expr = Callable[[str, Column], str]


def _quoted(expr: str) -> str:
    return f"""'"' || replace({expr}, '"', '""') || '"'"""


def _nullable(column: Column, expr: str) -> str:
    # `||` with NULL is NULL on both backends: a null field becomes an empty unquoted one.
    return f"coalesce({expr}, '')" if column.nullable else expr


# ---------------------------------------------------------------- SQLite


def _sqlite_list(ref: str, ints: bool) -> str:
    # json.dumps writes ["a", "b"] and [1, 2]; without a backslash (no escaped quote or
    # non-ASCII) the items are the text between the separators. Anything else: json_each.
    if ints:
        fast = f"replace(replace(substr({ref}, 2, length({ref}) - 2), ', ', ';'), ',', ';')"
        plain = f"instr({ref}, '\\') = 0"
    else:
        inner = f"substr({ref}, 3, length({ref}) - 4)"
        fast = f"""replace(replace({inner}, '", "', ';'), '","', ';')"""
        plain = f"""instr({ref}, '\\') = 0 AND {ref} LIKE '["%"]'"""
    slow = f"(SELECT group_concat(value, ';') FROM json_each({ref}))"  # noqa: S608 - our column names
    return f"CASE WHEN {ref} = '[]' THEN '' WHEN {plain} THEN {fast} ELSE {slow} END"


def _sqlite_datetime(ref: str) -> str:
    # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC); the API writes ISO 8601 with Z and
    # drops a zero fraction.
    return f"replace(replace({ref}, '.000000', ''), ' ', 'T') || 'Z'"


def _sqlite_csv(ref: str, column: Column) -> tuple[str, str]:
    """The printf pattern piece and argument of one CSV field.

    printf's `%w` doubles double quotes: `"%w"` quotes a field in one step, cheaper than
    `'"' || replace(...) || '"'`, which quoting costs most of the export's time.
    """
    kind = column.kind
    if kind is Kind.TEXT:
        # A null text is "" like an empty one: CSV readers cannot tell them apart anyway,
        # and telling them apart here (iif + a nested printf) costs a fifth of the export.
        return '"%w"', f"coalesce({ref}, '')" if column.nullable else ref
    if kind in (Kind.LIST, Kind.INT_LIST):
        return '"%w"', _sqlite_list(ref, kind is Kind.INT_LIST)
    if kind is Kind.OBJECT:
        return '"%w"', ref  # stored as JSON text already
    if kind is Kind.DATETIME:
        return "%s", _nullable(column, _sqlite_datetime(ref))
    if kind is Kind.BOOLEAN:
        return "%s", f"CASE WHEN {ref} IS NULL THEN '' WHEN {ref} THEN 'true' ELSE 'false' END"
    return "%s", f"coalesce(CAST({ref} AS TEXT), '')"


def _sqlite_json(ref: str, column: Column) -> str:
    kind = column.kind
    if kind in (Kind.LIST, Kind.INT_LIST, Kind.OBJECT):
        # json() parses the stored text to mark it as JSON; most lists and objects are
        # empty, and a constant empty one skips that parse (a tenth of the export's time).
        empty, build = ("{}", "json_object()") if kind is Kind.OBJECT else ("[]", "json_array()")
        return f"CASE WHEN {ref} = '{empty}' THEN {build} ELSE json({ref}) END"
    if kind is Kind.DATETIME:
        return _sqlite_datetime(ref)
    if kind is Kind.BOOLEAN:
        return (
            f"CASE WHEN {ref} IS NULL THEN NULL WHEN {ref} THEN json('true') ELSE json('false') END"
        )
    return ref


# ---------------------------------------------------------------- PostgreSQL


def _pg_datetime(ref: str) -> str:
    stamp = f"""to_char({ref} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')"""
    return f"replace({stamp}, '.000000', '') || 'Z'"


def _pg_csv(ref: str, column: Column) -> str:
    kind = column.kind
    if kind is Kind.TEXT:
        return _quoted(f"coalesce({ref}, '')")
    elif kind in (Kind.LIST, Kind.INT_LIST):
        expr = _quoted(f"array_to_string(ARRAY(SELECT jsonb_array_elements_text({ref})), ';')")
    elif kind is Kind.OBJECT:
        expr = _quoted(f"{ref}::text")
    elif kind is Kind.DATETIME:
        expr = _pg_datetime(ref)
    elif kind is Kind.BOOLEAN:
        expr = f"CASE WHEN {ref} THEN 'true' WHEN NOT {ref} THEN 'false' END"
    else:
        expr = f"{ref}::text"
    return _nullable(column, expr)


def _pg_json(ref: str, column: Column) -> str:
    return _pg_datetime(ref) if column.kind is Kind.DATETIME else ref


# ---------------------------------------------------------------- lines


def _refs(table: str, columns: Sequence[Column]) -> list[tuple[str, Column]]:
    return [(f"{table}.{c.name}", c) for c in columns]


def csv_line(dialect: str, table: str, columns: Sequence[Column]) -> ColumnElement[bytes]:
    """One CSV line (UTF-8, no line end) per row: RFC 4180, text always quoted.

    As bytes (BLOB / bytea): the driver hands them over without decoding, and Python
    joins them without encoding."""
    if dialect == "sqlite":
        pieces = [_sqlite_csv(ref, c) for ref, c in _refs(table, columns)]
        pattern = ",".join(p for p, _ in pieces).replace("'", "''")
        args = ", ".join(a for _, a in pieces)
        return literal_column(f"CAST(printf('{pattern}', {args}) AS BLOB)")
    if dialect == "postgresql":
        args = ", ".join(_pg_csv(ref, c) for ref, c in _refs(table, columns))
        return literal_column(f"convert_to(concat_ws(',', {args}), 'UTF8')")
    raise NotImplementedError(f"no export SQL for {dialect}")


def json_line(dialect: str, table: str, columns: Sequence[Column]) -> ColumnElement[bytes]:
    """One JSON object (UTF-8, one line, keys in column order) per row."""
    if dialect == "sqlite":
        pairs = ", ".join(f"'{c.name}', {_sqlite_json(ref, c)}" for ref, c in _refs(table, columns))
        return literal_column(f"CAST(json_object({pairs}) AS BLOB)")
    if dialect == "postgresql":
        pairs = ", ".join(f"'{c.name}', {_pg_json(ref, c)}" for ref, c in _refs(table, columns))
        return literal_column(f"convert_to(json_build_object({pairs})::text, 'UTF8')")
    raise NotImplementedError(f"no export SQL for {dialect}")
