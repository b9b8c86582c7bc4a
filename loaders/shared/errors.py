"""Errors a user can act on, and whether waiting is the cure.

Exit codes of `python -m loaders.run` (an orchestrator decides on them whether to retry):

- 0: every table loaded.
- 1: a terminal failure. Running again unchanged fails again: bad credentials, a missing
  table or database, a type that drifted, a value raw cannot hold. Fix, then rerun.
- 2: the command line itself is wrong (argparse's code).
- 75 (EX_TEMPFAIL): every failure was transient. Running again later should succeed: a source
  server that refused or dropped the connection, HubSpot answering 5xx or 429 after the
  loader's own retries, a lock another run holds.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_TRANSIENT = 75


class LoaderError(Exception):
    """Printed as one line (what failed, where, what to do); the run exits non-zero."""


class TransientLoaderError(LoaderError):
    """A failure that waiting cures: the same run, retried later, should succeed."""


def is_transient(exc: BaseException | None) -> bool:
    """Whether `exc`, or an exception it was raised from, is transient.

    The loaders raise TransientLoaderError where they know; a connection refused or reset that
    escaped them (Python's ConnectionError family) counts as transient too.
    """
    while exc is not None:
        if isinstance(exc, TransientLoaderError | ConnectionError | TimeoutError):
            return True
        if isinstance(exc, LoaderError):
            return False
        exc = exc.__cause__ or exc.__context__
    return False
