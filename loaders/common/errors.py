"""Errors a user can act on."""


class LoaderError(Exception):
    """Printed as one line (what failed, where, what to do); the run exits non-zero."""
