"""Machinery shared by the loaders: SQL readers, the incremental table resource, the runner."""
