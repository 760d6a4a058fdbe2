"""Episodes and evaluation marks in Elasticsearch, so alerts survive restarts.

One document per episode in `<prefix>-alerts` (`_id` = episode id): flat
fields for Kibana plus the whole episode state in `episode` (not indexed).
The last evaluated bucket per brand lives in the state index; it is written
after the episodes, so a crash re-evaluates (idempotently) rather than skips.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from elasticsearch import Elasticsearch, NotFoundError

from alerts.email_render import fmt_count
from alerts.episodes import Episode, pending
from brandpulse.core.settings import IndexNames


def episode_document(episode: Episode) -> dict:
    end = episode.last_bucket + timedelta(minutes=episode.bucket_minutes)
    escalated = any(e.kind == "escalate" for e in episode.events)
    status = "resolved" if not episode.is_open else ("escalated" if escalated else "open")
    expected = episode.peak_expected
    title = f"{episode.brand}: {episode.peak_negatives} negative mentions" + (
        f" vs {fmt_count(expected)} expected" if expected is not None else ""
    )
    doc = {
        "id": episode.id,
        "brand": episode.brand,
        "status": status,
        "severity": episode.severity_label,
        "severity_score": round(episode.peak_severity, 3),
        "opened_at": episode.opened_at.isoformat(),
        "updated_at": end.isoformat(),
        "window_start": episode.opened_at.isoformat(),
        "window_end": end.isoformat(),
        "negative_count": episode.peak_negatives,
        "title": title,
        "unsent": bool(pending(episode)),
        "episode": episode.model_dump(mode="json"),
    }
    if expected is not None:
        doc["expected_count"] = float(fmt_count(expected).replace(",", ""))  # as the e-mails print it
    if episode.resolved_at is not None:
        doc["resolved_at"] = episode.resolved_at.isoformat()
    return doc


class AlertStore:
    def __init__(self, client: Elasticsearch, names: IndexNames) -> None:
        self.client = client
        self.names = names

    def save(self, episode: Episode) -> None:
        self.client.index(
            index=self.names.alerts, id=episode.id, document=episode_document(episode), refresh=True
        )

    def get(self, episode_id: str) -> Episode | None:
        try:
            doc = self.client.get(index=self.names.alerts, id=episode_id)
        except NotFoundError:
            return None
        return Episode.model_validate(doc["_source"]["episode"])

    def _find(self, brand: str, extra: dict, size: int = 50) -> list[Episode]:
        found = self.client.search(
            index=self.names.alerts,
            query={"bool": {"filter": [{"term": {"brand": brand}}, extra]}},
            sort=[{"opened_at": "asc"}],
            size=size,
        )
        return [Episode.model_validate(h["_source"]["episode"]) for h in found["hits"]["hits"]]

    def latest(self, brand: str) -> Episode | None:
        """The most recent episode of a brand (open or resolved), if any."""
        found = self.client.search(
            index=self.names.alerts,
            query={"term": {"brand": brand}},
            sort=[{"opened_at": "desc"}],
            size=1,
        )
        hits = found["hits"]["hits"]
        return Episode.model_validate(hits[0]["_source"]["episode"]) if hits else None

    def with_pending(self, brand: str) -> list[Episode]:
        """Episodes with notifications still to deliver (oldest first)."""
        return self._find(brand, {"term": {"unsent": True}})

    def episodes(self, brand: str | None = None) -> list[Episode]:
        query = {"term": {"brand": brand}} if brand else {"match_all": {}}
        found = self.client.search(
            index=self.names.alerts, query=query, sort=[{"opened_at": "asc"}], size=1000
        )
        return [Episode.model_validate(h["_source"]["episode"]) for h in found["hits"]["hits"]]

    # --- evaluation marks ---------------------------------------------------------------

    @staticmethod
    def _mark_id(brand: str) -> str:
        return f"alerts:{brand}"

    def last_evaluated(self, brand: str) -> datetime | None:
        """Start of the last bucket already judged for this brand."""
        try:
            doc = self.client.get(index=self.names.state, id=self._mark_id(brand))
        except NotFoundError:
            return None
        return datetime.fromisoformat(doc["_source"]["data"]["last_bucket"])

    def set_last_evaluated(self, brand: str, bucket_start: datetime, run_id: str | None = None) -> None:
        body = {
            "kind": "alert-mark",
            "brand": brand,
            "data": {"last_bucket": bucket_start.astimezone(UTC).isoformat()},
            "updated_at": datetime.now(UTC).isoformat(),
        }
        if run_id:
            body["run_id"] = run_id
        self.client.index(index=self.names.state, id=self._mark_id(brand), document=body, refresh=True)
