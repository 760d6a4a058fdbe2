"""Durable listener cursors per (brand, source), in the state index.

A cursor is stored only after Elasticsearch acknowledged the batch it follows
(see brandpulse.pipeline.ingest), so a crash replays at most one batch, idempotently.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from elasticsearch import Elasticsearch, NotFoundError

from brandpulse.core.settings import IndexNames


class CursorStore:
    def __init__(self, client: Elasticsearch, names: IndexNames) -> None:
        self.client = client
        self.index = names.state

    @staticmethod
    def _id(brand: str, source: str) -> str:
        return f"cursor:{brand}:{source}"

    def get(self, brand: str, source: str) -> dict[str, Any] | None:
        try:
            doc = self.client.get(index=self.index, id=self._id(brand, source))
        except NotFoundError:
            return None
        return doc["_source"].get("cursor")

    def set(self, brand: str, source: str, cursor: dict[str, Any], run_id: str | None = None) -> None:
        body = {
            "kind": "cursor",
            "brand": brand,
            "source": source,
            "cursor": cursor,
            "updated_at": datetime.now(UTC).isoformat(),
        }
        if run_id:
            body["run_id"] = run_id
        self.client.index(index=self.index, id=self._id(brand, source), document=body, refresh=True)

    def reset(self, brand: str, source: str) -> bool:
        try:
            self.client.delete(index=self.index, id=self._id(brand, source), refresh=True)
        except NotFoundError:
            return False
        return True
