"""The shop (MySQL/MariaDB): its schema, its drawing and its day of change."""
