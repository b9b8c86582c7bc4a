"""Test harness: the loader CLI, with the source changed while a table is being copied.

    SHOPSPHERE_TEST_DURING_COPY='{"table": "order_items", "url": URL, "statements": [...]}'
    python tests/loaders/change_during_copy.py [loader args]

Once the first batch of `table` has been read (the rows of its first key range are in the
copy already, the later ranges are not), the statements run on the source database at `url`
in one transaction, then the copy goes on. A first load must end with raw equal to the source
whatever those statements did to rows already read or still to read.
"""

import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fixtures.services import mysql_connect, pg_connect
from world.urls import DbUrl

plan = json.loads(os.environ["SHOPSPHERE_TEST_DURING_COPY"])
done = False


def _change() -> None:
    url = DbUrl.parse(plan["url"])
    connect = pg_connect if url.scheme.startswith("postgres") else mysql_connect
    conn = connect(url, url.database)
    try:
        conn.autocommit = False
        with conn.cursor() as cur:
            for statement in plan["statements"]:
                cur.execute(statement)
        conn.commit()
    finally:
        conn.close()


import loaders.engine.sql_table as sql_table  # noqa: E402

original_to_target = sql_table.to_target


def to_target(*args: Any, **kwargs: Any) -> Any:
    global done
    out = original_to_target(*args, **kwargs)
    if not done and args[3] == plan["table"]:
        done = True
        _change()
    return out


sql_table.to_target = to_target

from loaders.run import main  # noqa: E402

sys.exit(main(sys.argv[1:]))
