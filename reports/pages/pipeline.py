"""Pipeline health: every load per source and table, its failures, every dbt build."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from ..html import (
    NONE,
    Chart,
    Page,
    Section,
    Table,
    count,
    layout,
    number,
    time_axis,
)
from ..source import NoData, Source
from .common import guarded, nonempty, stamp


def throughput(src: Source, now: datetime) -> Section:
    runs = f"{src.audit_schema}.load_runs"
    rows = nonempty(
        src.sql(
            f"select source_name, table_name, run_started_at, rows_loaded, seconds, "
            f"rows_per_second from {runs} where status = 'ok' "
            f"order by source_name, table_name, run_started_at"
        ),
        "no successful load yet",
    )
    by_table: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_table[f"{r['source_name']}.{r['table_name']}"].append(r)
    return Chart(
        "pipeline.throughput",
        "Rows per second per table, at every load",
        [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": table,
                "x": [str(r["run_started_at"]) for r in points],
                "y": [float(r["rows_per_second"] or 0) for r in points],
                "customdata": [
                    [int(r["rows_loaded"] or 0), float(r["seconds"] or 0)] for r in points
                ],
                "hovertemplate": table
                + ": %{y:,.0f} rows/s<br>%{customdata[0]:,} rows in %{customdata[1]:.1f} s<extra></extra>",
            }
            for table, points in sorted(by_table.items())
        ],
        layout(
            yaxis={"tickformat": ",.0f", "type": "log"},
            xaxis=time_axis([r["run_started_at"] for r in rows]),
            height=420,
        ),
    )


def last_runs(src: Source, now: datetime) -> Section:
    runs = f"{src.audit_schema}.load_runs"
    rows = nonempty(
        src.sql(
            f"with ranked as (select *, row_number() over (partition by source_name, "
            f"table_name order by run_started_at desc) as n from {runs}), "
            f"last_ok as (select source_name, table_name, max(run_finished_at) as at "
            f"from {runs} where status = 'ok' group by 1, 2) "
            f"select ranked.source_name, ranked.table_name, ranked.run_started_at, "
            f"ranked.load_mode, ranked.status, ranked.rows_extracted, ranked.rows_loaded, "
            f"ranked.rows_deleted, ranked.seconds, ranked.rows_per_second, last_ok.at "
            f"from ranked left join last_ok on ranked.source_name = last_ok.source_name "
            f"and ranked.table_name = last_ok.table_name where ranked.n = 1 "
            f"order by 1, 2"
        ),
        "no load yet",
    )
    return Table(
        "pipeline.last_runs",
        "The last run per source and table",
        [
            "source.table",
            "run started (UTC)",
            "mode",
            "status",
            "extracted",
            "loaded",
            "deleted",
            "seconds",
            "rows/s",
            "last successful load (UTC)",
        ],
        [
            [
                f"{r['source_name']}.{r['table_name']}",
                stamp(r["run_started_at"]),
                r["load_mode"] or "",
                r["status"],
                count(r["rows_extracted"]),
                count(r["rows_loaded"]),
                count(r["rows_deleted"]),
                number(r["seconds"]),
                number(r["rows_per_second"], 0),
                stamp(r["at"]),
            ]
            for r in rows
        ],
        numeric=(4, 5, 6, 7, 8),
    )


def streams(src: Source, now: datetime) -> Section:
    try:
        rows = src.sql(
            f"select source_name, checked_at, stream_position, server_end, lag_bytes, "
            f"held_bytes, margin_files, lost from (select *, row_number() over (partition "
            f"by source_name order by checked_at desc) as n "
            f"from {src.audit_schema}.stream_positions) s where n = 1 order by 1"
        )
    except NoData:  # no load has read a stream: the table is made by the first that does
        rows = []
    return Table(
        "pipeline.streams",
        "Change streams: where each source's stream stood at its last load",
        [
            "source",
            "last load (UTC)",
            "stored position",
            "server's end",
            "lag (bytes)",
            "WAL held (MB)",
            "binlogs before it",
            "lost",
        ],
        [
            [
                r["source_name"],
                stamp(r["checked_at"]),
                r["stream_position"] or NONE,
                r["server_end"] or NONE,
                count(r["lag_bytes"]),
                NONE if r["held_bytes"] is None else number(r["held_bytes"] / 2**20),
                count(r["margin_files"]),
                r["lost"] or "",
            ]
            for r in rows
        ],
        numeric=(4, 5, 6),
        caption=(
            "The operations watch alerts when a slot holds more WAL than allowed or a "
            "binlog position is about to be purged (SHOPSPHERE_STREAM_MAX_HELD_MB, "
            "SHOPSPHERE_STREAM_MIN_MARGIN_FILES)."
            if rows
            else "No source is read from its change stream: each SQL source's server has "
            "none on, or its capture is set to cursor; their changes are found by the cursor."
        ),
    )


def failures(src: Source, now: datetime) -> Section:
    runs = f"{src.audit_schema}.load_runs"
    rows = src.sql(
        f"select run_started_at, source_name, table_name, status, error_message "
        f"from {runs} where status <> 'ok' order by run_started_at desc limit 50"
    )
    if not rows:
        return Table(
            "pipeline.failures",
            "Failed loads",
            ["run started (UTC)", "source.table", "status", "error"],
            [],
            caption="No load has failed.",
        )
    return Table(
        "pipeline.failures",
        "Failed loads (latest 50)",
        ["run started (UTC)", "source.table", "status", "error"],
        [
            [
                stamp(r["run_started_at"]),
                f"{r['source_name']}.{r['table_name']}",
                r["status"],
                (r["error_message"] or "").splitlines()[0][:200] if r["error_message"] else "",
            ]
            for r in rows
        ],
    )


def dbt_runs(src: Source, now: datetime) -> Section:
    rows = nonempty(
        src.sql(
            f"select started_at, command, target_name, seconds, nodes, errors, warnings "
            f"from {src.dbt_runs_relation()} order by started_at"
        ),
        "no dbt build recorded yet",
    )
    return Chart(
        "pipeline.dbt_runs",
        "dbt build duration per run",
        [
            {
                "type": "bar",
                "x": [str(r["started_at"]) for r in rows],
                "y": [float(r["seconds"]) for r in rows],
                "customdata": [
                    [r["command"], r["nodes"], r["errors"], r["warnings"]] for r in rows
                ],
                "marker": {"color": ["#D55E00" if r["errors"] else "#0072B2" for r in rows]},
                "hovertemplate": "%{x}<br>dbt %{customdata[0]}: %{y:,.1f} s, %{customdata[1]} "
                "nodes, %{customdata[2]} errors, %{customdata[3]} warnings<extra></extra>",
            }
        ],
        layout(
            yaxis={"title": {"text": "seconds"}},
            xaxis=time_axis([r["started_at"] for r in rows]),
        ),
    )


def page(src: Source, now: datetime) -> Page:
    return Page(
        "pipeline",
        "Pipeline health",
        "Every load per source and table, its failures, and every dbt build.",
        [
            guarded("Throughput", throughput, src, now),
            guarded("Last runs", last_runs, src, now),
            guarded("Change streams", streams, src, now),
            guarded("Failures", failures, src, now),
            guarded("dbt builds", dbt_runs, src, now),
        ],
    )
