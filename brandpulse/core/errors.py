"""The error classes of a source, defined once.

Connectors raise them (a connector maps what its client library raises to
one of them, see `listeners.api_connector.ApiConnector.map_error`); the task
boundary (`brandpulse.tasks`) maps them to Airflow outcomes:

- `FatalSourceError`: retrying cannot help (credentials, access level, a
  refused query): the task fails at once, without retries;
- `RetriableSourceError`: transient (rate limit with a distant reset, 5xx,
  network): the task fails and Airflow retries it later; the cursor is where
  the last acknowledged batch left it;
- `NothingToRead`: the source has nothing to read yet (no credentials, no
  file yet): the task is skipped.
"""

from __future__ import annotations


class SourceError(RuntimeError):
    """Base of the errors a source raises on purpose."""


class FatalSourceError(SourceError):
    """An error retrying cannot fix (bad credentials, access level, bad query)."""


class RetriableSourceError(SourceError):
    """A transient error (rate limit, 5xx, network); the task may retry."""


class NothingToRead(SourceError):
    """The source has nothing to read yet: skip this run (not a failure)."""
