"""The brands config as the pipeline loads it: structure from the foundation,
source options checked against the connectors that exist (`listeners.registry`)."""

from __future__ import annotations

import os

from brandpulse.core.config import BrandsConfig, load_config
from listeners.registry import registry


def load_checked_config(path: str | os.PathLike[str] | None = None) -> BrandsConfig:
    """`load_config` with every source's options validated by its connector."""
    return load_config(path, sources=registry)
