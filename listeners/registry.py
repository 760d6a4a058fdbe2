"""Connectors registered by name. Built-ins are imported lazily (no client
libraries are imported when a DAG file is parsed or the config validated)."""

from __future__ import annotations

import importlib
from collections.abc import Iterator

from listeners.base import Connector, ConnectorOptions

_BUILTINS: dict[str, str] = {
    "file": "listeners.file_source:FileConnector",
    "x": "listeners.x_source:XConnector",
    "reddit": "listeners.reddit_source:RedditConnector",
    "mastodon": "listeners.mastodon_source:MastodonConnector",
    "bluesky": "listeners.bluesky_source:BlueskyConnector",
    "hackernews": "listeners.hackernews_source:HackerNewsConnector",
    "appstore": "listeners.appstore_source:AppStoreConnector",
    "googleplay": "listeners.googleplay_source:GooglePlayConnector",
}


class Registry:
    def __init__(self, builtins: dict[str, str]) -> None:
        self._paths = dict(builtins)
        self._loaded: dict[str, type[Connector]] = {}

    def register(self, cls: type[Connector]) -> type[Connector]:
        """Class decorator: make `cls` available under `cls.name`."""
        self._loaded[cls.name] = cls
        self._paths.setdefault(cls.name, f"{cls.__module__}:{cls.__qualname__}")
        return cls

    def __contains__(self, name: object) -> bool:
        return name in self._paths

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def names(self) -> list[str]:
        return sorted(self._paths)

    def get(self, name: str) -> type[Connector]:
        if name not in self._paths:
            raise KeyError(f"unknown source {name!r} (known: {', '.join(self.names())})")
        if name not in self._loaded:
            module, _, attr = self._paths[name].partition(":")
            self._loaded[name] = getattr(importlib.import_module(module), attr)
        return self._loaded[name]

    def options_model(self, name: str) -> type[ConnectorOptions]:
        return self.get(name).Options


registry = Registry(_BUILTINS)
