"""Where the benchmarks find ``../shared/data``: ``$BRANDPULSE_DATA_DIR``, else the
``shared/data`` folder beside the repository."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    """The development data folder (it may not exist on a clone without ``../shared``)."""
    return Path(os.environ.get("BRANDPULSE_DATA_DIR", REPO.parent / "shared" / "data"))
