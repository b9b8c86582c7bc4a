"""The catalog (PostgreSQL): its schema, its drawing and its day of change."""
