"""dbt on the dbt-snowflake adapter against fakesnow, Snowflake's emulation (Snowflake itself is
unreachable here). Run as its own process by the tests:

    python tests/warehouse/snowflake_emulated.py DB_PATH [--raw WAREHOUSE.duckdb] -- DBT ARGS...
    python tests/warehouse/snowflake_emulated.py DB_PATH --load -- LOADER ARGS...
    python tests/warehouse/snowflake_emulated.py DB_PATH --sql QUERIES.json RESULTS.json

DB_PATH is fakesnow's folder: each Snowflake database is a DuckDB file there (RAW.db,
ANALYTICS.db). With --raw, the raw_* schemas of a DuckDB warehouse are first copied into the
RAW database, as the loaders would have landed them on Snowflake (same tables, same types:
DuckDB's JSON is fakesnow's VARIANT, timestamptz its TIMESTAMP_TZ).

Where fakesnow falls short of Snowflake, the gap is bridged here and only here, never in the
project's SQL; each bridge says which Snowflake behaviour it stands for (see docs/production.md).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import duckdb
import sqlglot
import sqlglot.expressions as exp


def copy_raw(db_path: Path, warehouse: str, database: str = "RAW") -> None:
    import fakesnow
    import snowflake.connector

    # Let fakesnow create the database (its information schema and macros come with it).
    with fakesnow.patch(db_path=db_path), snowflake.connector.connect(database=database) as conn:
        conn.cursor().execute("select 1")
    with duckdb.connect(str(db_path / f"{database}.db")) as con:
        con.execute(f"attach '{warehouse}' as source_warehouse (read_only)")
        tables = con.sql(
            """select table_schema, table_name from information_schema.tables
               where table_catalog = 'source_warehouse' and table_schema like 'raw\\_%' escape '\\'
                 and table_type = 'BASE TABLE'"""
        ).fetchall()
        for schema, table in tables:
            con.execute(f"create schema if not exists {schema.upper()}")
            con.execute(
                f'create or replace table {schema.upper()}."{table.upper()}" as '
                f'select * from source_warehouse."{schema}"."{table}"'
            )


def temporary_tables_in_their_schema(expression: exp.Expression) -> exp.Expression:
    """Snowflake creates a TEMPORARY table or view in any schema (dbt-snowflake's incremental
    models and snapshots do: `create temporary table db.schema.x__dbt_tmp`); DuckDB only in its
    temp catalog. A plain one stands in (dbt drops it after the merge, as Snowflake would at
    session end)."""
    table = expression.this.find(exp.Table) if isinstance(expression, exp.Create) else None
    # (fakesnow's own unqualified temp tables, e.g. for MERGE, stay temporary)
    if table is not None and table.db and expression.kind in ("TABLE", "VIEW"):
        props = expression.args.get("properties")
        if props:
            kept = [p for p in props.expressions if not isinstance(p, exp.TemporaryProperty)]
            if len(kept) != len(props.expressions):
                props.set("expressions", kept)
    return expression


def try_to_timestamp_tz_of_any_expression(expression: exp.Expression) -> exp.Expression:
    """Snowflake's TRY_TO_TIMESTAMP_TZ takes any string expression; fakesnow (through sqlglot)
    only a literal. It is Snowflake's TRY_CAST(... AS TIMESTAMP_TZ) for strings."""
    if isinstance(expression, exp.Anonymous) and expression.name.upper() == "TRY_TO_TIMESTAMP_TZ":
        return exp.TryCast(this=expression.expressions[0], to=exp.DataType.build("TIMESTAMPTZ"))
    return expression


def merge_insert_values_from_the_source(expression: exp.Expression) -> exp.Expression:
    """In a Snowflake MERGE, `insert (...) values (col, ...)` reads unqualified columns from the
    source (dbt's snapshot merge relies on it); fakesnow's rewrite finds them ambiguous when the
    target has the same names. Qualifying them with the source's alias says the same thing."""
    if not isinstance(expression, exp.Merge):
        return expression
    using = expression.args.get("using")
    source = using.alias_or_name if using is not None else None
    whens = expression.args.get("whens")
    if not source or whens is None:
        return expression
    for when in whens.expressions:
        then = when.args.get("then")
        if isinstance(then, exp.Insert) and isinstance(then.expression, exp.Tuple):
            for value in then.expression.expressions:
                for column in value.find_all(exp.Column):
                    if not column.table:
                        column.set("table", exp.to_identifier(source))
    return expression


GRANTS: dict[str, set[tuple[str, str]]] = {}  # relation -> {(privilege, role)}


def _relation_key(table: exp.Expression) -> str:
    return ".".join(p.name.upper() for p in table.parts) if isinstance(table, exp.Table) else ""


def recorded_grants(expression: exp.Expression, log: Path | None) -> exp.Expression:
    """fakesnow has no access control. GRANT and REVOKE are recorded (in memory, for SHOW
    GRANTS, and in a log the tests read) and answered as Snowflake answers them; SHOW GRANTS
    ON <table> answers from the record, in Snowflake's columns."""
    from fakesnow.transforms import SUCCESS_NOP

    if isinstance(expression, (exp.Grant, exp.Revoke)):
        key = _relation_key(expression.args["securable"])
        grantees = [p.name.upper() for p in expression.args.get("principals", [])]
        privileges = [p.this.name.upper() for p in expression.args.get("privileges", [])]
        granted = GRANTS.setdefault(key, set())
        for privilege in privileges:
            for grantee in grantees:
                if isinstance(expression, exp.Grant):
                    granted.add((privilege, grantee))
                else:
                    granted.discard((privilege, grantee))
        if log is not None:
            with log.open("a") as f:
                f.write(expression.sql(dialect="snowflake") + "\n")
        return SUCCESS_NOP.copy()
    if isinstance(expression, exp.Command) and expression.name.upper() == "SHOW":
        words = str(
            expression.expression.this
            if isinstance(expression.expression, exp.Literal)
            else expression.expression
        ).split()
        if len(words) >= 3 and words[0].upper() == "GRANTS" and words[1].upper() == "ON":
            target = words[-1].split("/*")[0].strip().rstrip(";")
            key = ".".join(part.strip('"').upper() for part in target.split("."))
            rows = [
                f"select '{privilege}' as privilege, 'ROLE' as granted_to, '{grantee}' as grantee_name"
                for privilege, grantee in sorted(GRANTS.get(key, set()))
            ] or ["select null as privilege, null as granted_to, null as grantee_name where false"]
            return sqlglot.parse_one(" union all ".join(rows))
    return expression


STAGED: dict[str, str] = {}  # stage path -> local file PUT there
PUT_RE = re.compile(r"^\s*PUT\s+'file://(?P<file>[^']+)'\s+'(?P<stage>[^']+)'", re.IGNORECASE)
COPY_RE = re.compile(r"^\s*COPY\s+INTO\s+(?P<table>\S+)\s+FROM\s+'(?P<path>@[^']+)'", re.IGNORECASE)
REMOVE_RE = re.compile(r"^\s*REMOVE\s+'(?P<path>@[^']+)'", re.IGNORECASE)


def stage_bridge(cursor: object, command: str) -> bool:
    """dlt loads Snowflake the documented way: PUT a local file on the table's stage
    (`@"SCHEMA"."%TABLE"/"load_id"`), COPY INTO the table from it, REMOVE it. fakesnow knows
    only named stages with plain names, so these three statements are carried out here: the
    PUT is remembered, the COPY reads the file into the table by column name (what dlt's
    MATCH_BY_COLUMN_NAME asks), the REMOVE forgets it. Returns whether it handled `command`."""
    if match := PUT_RE.match(command):
        stage = match["stage"].rstrip("/")
        STAGED[f"{stage}/{Path(match['file']).name}"] = match["file"]
        cursor._arrow_table = None  # type: ignore[attr-defined]
        cursor._execute(sqlglot.parse_one("select 'UPLOADED' as status"))  # type: ignore[attr-defined]
        return True
    if match := COPY_RE.match(command):
        local = STAGED.get(match["path"])
        if local is None:
            raise RuntimeError(f"emulated stage: nothing was PUT at {match['path']}")
        reader = {
            ".parquet": "read_parquet",
            ".jsonl": "read_ndjson_auto",
            ".csv": "read_csv_auto",
        }[next(s for s in (".parquet", ".jsonl", ".csv") if s in Path(local).name)]
        table = ".".join(p.strip('"') for p in match["table"].split("."))
        database = cursor._conn.database  # type: ignore[attr-defined]
        cursor._duck_conn.execute(  # type: ignore[attr-defined]
            f"insert into {database}.{table} by name select * from {reader}('{local}')"
        )
        cursor._execute(sqlglot.parse_one("select 'LOADED' as status"))  # type: ignore[attr-defined]
        return True
    if match := REMOVE_RE.match(command):
        STAGED.pop(match["path"], None)
        cursor._execute(sqlglot.parse_one("select 'REMOVED' as status"))  # type: ignore[attr-defined]
        return True
    return False


MASKING_RE = re.compile(
    r"^\s*(create\s+masking\s+policy|alter\s+table\s+\S+\s+modify\s+column\s+\S+\s+set\s+masking\s+policy)",
    re.IGNORECASE,
)


def recorded_masking(cursor: object, command: str, log: Path | None) -> bool:
    """fakesnow has no masking policies. CREATE MASKING POLICY and ALTER TABLE ... SET MASKING
    POLICY are recorded in the grants log, one line each, and answered as done; whether
    Snowflake would accept and enforce them is not shown here. Returns whether it handled
    `command`."""
    if not MASKING_RE.match(command):
        return False
    if log is not None:
        with log.open("a") as f:
            f.write(" ".join(re.sub(r"/\*.*?\*/", " ", command, flags=re.S).split()) + "\n")
    cursor._arrow_table = None  # type: ignore[attr-defined]
    cursor._execute(sqlglot.parse_one("select 'Statement executed successfully.' as status"))  # type: ignore[attr-defined]
    return True


def bridge_fakesnow_gaps(grants_log: Path | None) -> None:
    from fakesnow import cursor

    original = cursor.FakeSnowflakeCursor._transform

    def transform(self, expression, params):  # type: ignore[no-untyped-def]
        expression = recorded_grants(expression, grants_log)
        expression = temporary_tables_in_their_schema(expression)
        expression = expression.transform(try_to_timestamp_tz_of_any_expression)
        return original(self, expression, params)

    cursor.FakeSnowflakeCursor._transform = transform  # type: ignore[method-assign]

    # MERGE is split into several statements before the per-statement transforms run.
    original_explode = cursor.FakeSnowflakeCursor._transform_explode

    def explode(self, expression):  # type: ignore[no-untyped-def]
        return original_explode(self, merge_insert_values_from_the_source(expression))

    cursor.FakeSnowflakeCursor._transform_explode = explode  # type: ignore[method-assign]

    # A multi-statement request (`num_statements=0`: dlt sends its DDL that way) runs its
    # statements in order; fakesnow parses one statement per request.
    import io

    from snowflake.connector.util_text import split_statements

    original_execute = cursor.FakeSnowflakeCursor.execute

    def execute(self, command, params=None, *args, **kwargs):  # type: ignore[no-untyped-def]
        if isinstance(command, str) and stage_bridge(self, command):
            return self
        if isinstance(command, str) and recorded_masking(self, command, grants_log):
            return self
        if kwargs.get("num_statements") is not None and isinstance(command, str):
            statements = [
                sql for sql, _ in split_statements(io.StringIO(command), remove_comments=False)
            ]
            if len(statements) > 1:
                kwargs.pop("num_statements")
                for statement in statements:
                    original_execute(self, statement, params, *args, **kwargs)
                return self
        return original_execute(self, command, params, *args, **kwargs)

    cursor.FakeSnowflakeCursor.execute = execute  # type: ignore[method-assign]

    # Connecting creates the database and schema when missing; two threads connecting at once
    # (dbt's threads, dlt's load workers) race to create them. Snowflake serialises this.
    # dlt passes the schema quoted ('"RAW_SHOP"'), which the connector accepts and fakesnow
    # takes for a different name.
    import threading

    from fakesnow import instance

    lock = threading.Lock()
    original_connect = instance.FakeSnow.connect

    def unquoted(name: str | None) -> str | None:
        if name and len(name) > 1 and name[0] == name[-1] == '"':
            return name[1:-1]
        return name

    def connect(self, database=None, schema=None, *args, **kwargs):  # type: ignore[no-untyped-def]
        with lock:
            return original_connect(self, unquoted(database), unquoted(schema), *args, **kwargs)

    instance.FakeSnow.connect = connect  # type: ignore[method-assign]


def run_queries(db_path: Path, queries: Path, results: Path) -> int:
    """Each query as a reader of the marts would send it: {name: {"columns": [...], "rows":
    [[...]]}}, values as text (None stays null)."""
    import json

    import fakesnow
    import snowflake.connector

    bridge_fakesnow_gaps(None)
    answers = {}
    with (
        fakesnow.patch(db_path=db_path),
        snowflake.connector.connect(database="ANALYTICS") as conn,
    ):
        for name, sql in json.loads(queries.read_text()).items():
            cursor = conn.cursor()
            cursor.execute(sql)
            answers[name] = {
                "columns": [d[0].lower() for d in cursor.description],
                "rows": [[None if v is None else str(v) for v in row] for row in cursor.fetchall()],
            }
    results.write_text(json.dumps(answers))
    return 0


def main() -> int:
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    parser = argparse.ArgumentParser()
    parser.add_argument("db_path")
    parser.add_argument("--raw")
    parser.add_argument("--grants-log", help="file to append the GRANT/REVOKE statements to")
    parser.add_argument(
        "--load",
        action="store_true",
        help="run the loaders (python -m loaders.run ARGS) instead of dbt, into Snowflake",
    )
    parser.add_argument(
        "--erase",
        action="store_true",
        help="run python -m loaders.erase ARGS instead of dbt, on Snowflake",
    )
    parser.add_argument(
        "--sql",
        nargs=2,
        metavar=("QUERIES", "RESULTS"),
        help="run each query of a JSON object {name: sql} on ANALYTICS; write {name: rows}",
    )
    args = parser.parse_args(argv[:split])
    dbt_args = argv[split + 1 :]
    db_path = Path(args.db_path)
    db_path.mkdir(parents=True, exist_ok=True)
    if args.raw:
        copy_raw(db_path, args.raw)
    if args.sql:
        return run_queries(db_path, Path(args.sql[0]), Path(args.sql[1]))
    if not dbt_args:
        return 0

    import fakesnow
    import snowflake.connector
    from dbt.cli.main import dbtRunner

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the loaders package

    bridge_fakesnow_gaps(Path(args.grants_log) if args.grants_log else None)
    # DuckDB writes one attached database per transaction; fakesnow keeps its own bookkeeping
    # in another (_fs_global), so an explicit BEGIN (dbt's snapshots and incremental merges)
    # fails on its second write. Snowflake has no such limit: statements run in autocommit.
    # (dbt may put line comments before and its query comment after: `-- ...\n begin /* {} */`)
    nops = [r"^(\s*--[^\n]*\n|\s)*(begin|commit)(\s+(transaction|work))?\s*(;|/\*|$)"]
    with fakesnow.patch(db_path=db_path, nop_regexes=nops):
        # Attach RAW in the emulator's one DuckDB instance before dbt reads sources from it.
        with snowflake.connector.connect(database="RAW") as conn:
            conn.cursor().execute("select 1")
        if args.load:
            from loaders.run import main as load

            return load(dbt_args)
        if args.erase:
            from loaders.erase import main as erase

            # Snowflake sees every database; the emulator only those a session has named.
            with snowflake.connector.connect(database="ANALYTICS") as conn:
                conn.cursor().execute("select 1")
            return erase(dbt_args)
        result = dbtRunner().invoke(dbt_args)
    if result.exception is not None:
        print(f"dbt failed: {result.exception}", file=sys.stderr)
        return 2
    return 0 if result.success else 1


if __name__ == "__main__":
    raise SystemExit(main())
