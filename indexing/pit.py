"""Consistent paging over the mention indices: a point in time + search_after.

Pages are taken from one snapshot, so documents updated while iterating are
neither skipped nor repeated, and there is no result-window limit."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from elasticsearch import Elasticsearch


def pit_pages(
    client: Elasticsearch,
    index: str,
    query: dict[str, Any],
    sort: list[dict[str, Any]],
    source_includes: list[str],
    page_size: int = 1000,
    keep_alive: str = "5m",
    limit: int | None = None,
    **search: Any,
) -> Generator[list[dict[str, Any]], None, None]:
    """Yield lists of hits (with `_id`, `_index`, `_source`, `sort`) until done or `limit`."""
    if limit is not None and limit <= 0:
        return
    pit = client.open_point_in_time(index=index, keep_alive=keep_alive)["id"]
    sort = [*sort, {"_shard_doc": "asc"}]  # a unique tiebreaker for search_after
    sent, after = 0, None
    try:
        while limit is None or sent < limit:
            size = page_size if limit is None else min(page_size, limit - sent)
            page = client.search(
                pit={"id": pit, "keep_alive": keep_alive},
                query=query,
                sort=sort,
                size=size,
                search_after=after,
                source_includes=source_includes,
                **search,
            )
            pit = page.get("pit_id", pit)
            hits = page.get("hits", {}).get("hits", [])
            if hits:
                yield hits
                sent += len(hits)
            if len(hits) < size:
                return
            after = hits[-1]["sort"]
    finally:
        client.close_point_in_time(id=pit)
