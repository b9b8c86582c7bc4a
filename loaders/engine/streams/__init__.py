"""Change streams of the SQL sources: MySQL/MariaDB binlog and PostgreSQL logical replication."""
