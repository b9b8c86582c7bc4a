"""What people read: figures asked of the semantic layer (reports.metrics)."""
