"""The SQL engine: how a SQL source's tables are planned, read (by cursor or change stream), checked for deletes and landed."""
