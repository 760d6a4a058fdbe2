"""Rating-drop alerts: 1-2 star app reviews judged like negative mentions.

The same detector (`detect`) and episode machine (`advance`) as the social
check, fed with review counts instead of sentiment: per hourly bucket, the
1-2 star reviews (`review.rating` <= 2) against all rated reviews of the
brand. Reviews are few, so the buckets are an hour, the tests look at the
last 6 hours, and at least `MIN_LOW_STAR` low-star reviews are needed in
that window before anything fires (one angry review is not an incident).

Review episodes live beside the social ones under their own key
`<brand>:reviews` (episode ids `<brand>:reviews:<bucket>`, evaluation mark
`alerts:<brand>:reviews`), so the two never advance, resolve or reopen each
other. A brand without any rated review in the history is not judged.

`reviews_following` is the line a *social* alert e-mail gains when 1-2 star
reviews are already following: the last 24 hours against the usual 24 hours.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from elasticsearch import Elasticsearch

from alerts.check import (
    CheckSummary,
    chart_around,
    deliver_pending,
    history_from,
    judge,
    window_share,
)
from alerts.detector import DetectorParams, detect
from alerts.email_render import AlertContent, Post
from alerts.episodes import Episode, EpisodeEvent, EpisodeSettings, thread_keys
from alerts.explain import reviews_following as reviews_following  # the social e-mail's line
from alerts.notifiers import Notifier
from alerts.series import LOW_STARS, RATED_REVIEW, fetch_rating_series, floor_bucket
from alerts.store import AlertStore
from brandpulse.core.config import Brand
from brandpulse.core.settings import IndexNames, Settings
from brandpulse.core.timeutil import as_utc

log = logging.getLogger(__name__)

BUCKET_MINUTES = 60
HORIZON_MINUTES = 360
#: low-star reviews needed in the alert window before a bucket may fire
MIN_LOW_STAR = 5
CHART_SPAN = timedelta(hours=48)


def review_key(brand: str) -> str:
    """The brand's key for review episodes and marks (`<brand>:reviews`)."""
    return f"{brand}:reviews"


def review_params(brand: Brand) -> DetectorParams:
    """The brand's detector settings (sensitivity) at review volume."""
    return DetectorParams.from_settings(
        brand.alerts,
        bucket_minutes=BUCKET_MINUTES,
        min_negative=max(MIN_LOW_STAR, brand.alerts.min_negative),
        horizon_minutes=HORIZON_MINUTES,
        min_horizon_buckets=1,
        min_total_for_share=MIN_LOW_STAR,
        min_level_buckets=24,
    )


def check_reviews(
    brand: Brand,
    at: datetime,
    *,
    client: Elasticsearch,
    settings: Settings,
    notifiers: list[Notifier],
    episode_settings: EpisodeSettings | None = None,
    catch_up: timedelta = timedelta(hours=24),
    run_id: str | None = None,
) -> CheckSummary | None:
    """The rating-drop check of one brand at `at` (idempotent like `check_brand`);
    None when the brand has no rated reviews in the history."""
    at = as_utc(at)
    names = settings.indices
    key = review_key(brand.name)
    store = AlertStore(client, names)
    episode_settings = episode_settings or EpisodeSettings.from_alert_settings(brand.alerts)
    episode_settings = episode_settings.model_copy(
        update={"min_negative": max(MIN_LOW_STAR, episode_settings.min_negative)}
    )
    params = review_params(brand)
    step = timedelta(minutes=params.bucket_minutes)
    end = floor_bucket(at, params.bucket_minutes)
    last = store.last_evaluated(key)
    first = last + step if last else end - step
    summary = CheckSummary(brand=key)
    if first < end - catch_up:
        summary.skipped_buckets = int((end - catch_up - first) / step)
        first = end - catch_up
    if first < end:
        # no history before the first rated review: zeros there are not a baseline
        history_start = history_from(
            client, names, brand.name, first, params.bucket_minutes, kind=RATED_REVIEW
        )
        low, totals = fetch_rating_series(
            client, names, brand.name, history_start, end, params.bucket_minutes
        )
        if not totals.any():
            return None  # no reviews for this brand (no review source): nothing to judge
        detection = detect(low, totals, history_start, params)
        judge(store, key, detection, int((first - history_start) / step), episode_settings, summary)
        store.set_last_evaluated(key, end - step, run_id=run_id)
    deliver_pending(
        brand, store, notifiers, summary, lambda e, ev: _content(client, names, brand, e, ev, params), key=key
    )
    return summary


def _content(
    client: Elasticsearch, names: IndexNames, brand: Brand, episode: Episode, event: EpisodeEvent, params
) -> AlertContent:
    step = timedelta(minutes=params.bucket_minutes)
    window_end = event.bucket_start + step
    window_start = window_end - timedelta(minutes=params.horizon * params.bucket_minutes)
    chart = chart_around(
        client,
        names,
        brand.name,
        params,
        event.bucket_start,
        fetch=fetch_rating_series,
        span=CHART_SPAN,
        kind=RATED_REVIEW,
    )
    result = chart[-1] if chart and chart[-1].start == event.bucket_start else None
    return AlertContent(
        brand=brand.name,
        brand_title=brand.title,
        event=event.kind,
        episode_id=episode.id,
        event_key=event.key,
        thread=thread_keys(episode, event.key),
        window_start=window_start,
        window_end=window_end,
        negatives=event.negatives,
        expected_negatives=event.expected or 0.0,
        share=window_share(chart, params.horizon),
        expected_share=event.expected_share,
        fired_on=event.fired_on,
        details=result.reason if result else "",
        posts=low_star_reviews(client, names, brand.name, window_start, window_end),
        buckets=tuple(chart),
        source="reviews",
    )


def low_star_reviews(
    client: Elasticsearch, names: IndexNames, brand: str, start: datetime, end: datetime, size: int = 5
) -> list[Post]:
    """The most helpful (then newest) 1-2 star reviews of the window."""
    found = client.search(
        index=names.mentions,
        size=size,
        query={
            "bool": {
                "filter": [
                    {"term": {"brands": brand}},
                    {"range": {"created_at": {"gte": start.isoformat(), "lt": end.isoformat()}}},
                    LOW_STARS,
                ]
            }
        },
        sort=[{"engagement.likes": {"order": "desc", "missing": "_last"}}, {"created_at": "desc"}],
        ignore_unavailable=True,
    )
    posts = []
    for hit in found["hits"]["hits"]:
        doc = hit["_source"]
        stars = (doc.get("review") or {}).get("rating")
        posts.append(
            Post(
                text=f"{'★' * int(stars)}{'☆' * (5 - int(stars))} {doc.get('text', '')}"
                if stars
                else doc.get("text", ""),
                platform=doc.get("platform", ""),
                author=(doc.get("author") or {}).get("handle"),
                url=doc.get("url"),
                engagement=int((doc.get("engagement") or {}).get("likes") or 0),
                created_at=datetime.fromisoformat(doc["created_at"]) if doc.get("created_at") else None,
            )
        )
    return posts
