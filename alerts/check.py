"""One alerts check for one brand at one time: judge the buckets not judged
yet, advance the brand's episode, store it, and deliver what is pending.

Idempotent for a given `at`: re-running (a retried DAG run, a restarted
scheduler) finds no new bucket and nothing pending, so nothing is sent twice.
After downtime, the missed buckets are judged once, in order (bounded by
`catch_up`). A failed delivery leaves the episode `unsent`; the next check
retries it.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from elasticsearch import Elasticsearch

from alerts.detector import DetectorParams, detect
from alerts.email_render import AlertContent, kibana_discover_url
from alerts.episodes import EpisodeSettings, advance, mark_notified, pending
from alerts.explain import grown_terms, grown_topics, top_negative_posts
from alerts.notifiers import DeliveryError, Notifier
from alerts.series import fetch_series, floor_bucket
from alerts.store import AlertStore
from brandpulse.config import Brand, BrandsConfig
from brandpulse.settings import Settings

log = logging.getLogger(__name__)

#: history the detector reads before the first bucket it judges
HISTORY = timedelta(days=35)
CHART_SPAN = timedelta(hours=24)


@dataclass
class CheckSummary:
    """Small, JSON-serialisable (an XCom)."""

    brand: str
    evaluated: int = 0
    fired: int = 0
    opened: list[str] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)
    unsent: list[str] = field(default_factory=list)
    skipped_buckets: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def check_brand(
    brand: Brand,
    at: datetime,
    *,
    client: Elasticsearch,
    settings: Settings,
    notifiers: list[Notifier],
    kibana_url: str | None = None,
    episode_settings: EpisodeSettings | None = None,
    catch_up: timedelta = timedelta(hours=24),
    run_id: str | None = None,
) -> CheckSummary:
    """Judge the complete buckets up to `at` that were not judged yet, then deliver."""
    names = settings.indices
    store = AlertStore(client, names)
    episode_settings = episode_settings or EpisodeSettings()
    params = DetectorParams.from_settings(brand.alerts)
    step = timedelta(minutes=params.bucket_minutes)
    summary = CheckSummary(brand=brand.name)

    end = floor_bucket(at, params.bucket_minutes)  # buckets before `end` are complete
    last = store.last_evaluated(brand.name)
    first = last + step if last else end - step
    if first < end - catch_up:
        summary.skipped_buckets = int((end - catch_up - first) / step)
        log.warning(
            "%s: %d buckets older than the catch-up limit are not judged", brand.name, summary.skipped_buckets
        )
        first = end - catch_up
    if first < end:
        history_start = first - HISTORY
        negatives, totals = fetch_series(client, names, brand.name, history_start, end, params.bucket_minutes)
        detection = detect(negatives, totals, history_start, params)
        episode = store.latest(brand.name)
        offset = int((first - history_start) / step)
        for i in range(offset, len(detection)):
            result = detection.result(i)
            summary.evaluated += 1
            summary.fired += int(result.fired)
            updated, events = advance(episode, result, episode_settings, brand.name)
            if updated is not None and updated is not episode:
                if any(e.kind == "open" for e in events):
                    summary.opened.append(updated.id)
                store.save(updated)
            episode = updated
        store.set_last_evaluated(brand.name, end - step, run_id=run_id)

    for episode in store.with_pending(brand.name):
        for event in pending(episode):
            content = _content(client, settings, brand, episode, event, kibana_url, params)
            try:
                for notifier in notifiers:
                    notifier.notify(content, brand.alerts.recipients)
            except DeliveryError as exc:
                log.error(
                    "%s: delivery of %s/%s failed, will retry next run: %s",
                    brand.name,
                    episode.id,
                    event.key,
                    exc,
                )
                summary.unsent.append(f"{episode.id}/{event.key}")
                break
            if notifiers:
                episode = mark_notified(episode, event.key, at)
                store.save(episode)
                summary.sent.append(f"{episode.id}/{event.key}")
            else:
                summary.unsent.append(f"{episode.id}/{event.key}")
    return summary


def _around(client, settings, brand, params, bucket_start) -> list:
    """Detector verdicts for the day up to `bucket_start` (the e-mail's chart),
    computed from the same history the check uses."""
    step = timedelta(minutes=params.bucket_minutes)
    end = bucket_start + step
    start = end - CHART_SPAN - HISTORY
    negatives, totals = fetch_series(client, settings.indices, brand.name, start, end, params.bucket_minutes)
    detection = detect(negatives, totals, start, params)
    first = len(detection) - int(CHART_SPAN / step)
    return [detection.result(i) for i in range(max(0, first), len(detection))]


def _content(client, settings, brand, episode, event, kibana_url, params) -> AlertContent:
    names = settings.indices
    step = timedelta(minutes=params.bucket_minutes)
    window_end = event.bucket_start + step
    window_start = window_end - timedelta(minutes=params.horizon * params.bucket_minutes)
    chart = _around(client, settings, brand, params, event.bucket_start)
    result = chart[-1] if chart and chart[-1].start == event.bucket_start else None
    return AlertContent(
        brand=brand.name,
        brand_title=brand.title,
        event=event.kind,
        episode_id=episode.id,
        event_key=event.key,
        window_start=window_start,
        window_end=window_end,
        negatives=result.window_negatives if result else event.negatives,
        expected_negatives=(
            result.window_expected if result and result.window_expected is not None else event.expected or 0.0
        ),
        share=_window_share(chart, params.horizon),
        expected_share=result.expected_share if result else None,
        reason=result.reason if result else "",
        topics=grown_topics(client, names, brand.name, window_start, window_end),
        terms=grown_terms(client, names, brand.name, window_start, window_end),
        posts=top_negative_posts(client, names, brand.name, window_start, window_end),
        buckets=tuple(chart),
        kibana_url=(
            kibana_discover_url(kibana_url, brand.name, window_start, window_end) if kibana_url else None
        ),
    )


def _window_share(chart: list, horizon: int) -> float | None:
    """Negative share over the alert window (the last `horizon` buckets)."""
    window = chart[-horizon:]
    total = sum(r.total or 0 for r in window)
    return sum(r.negatives for r in window) / total if total else None


def default_notifiers() -> list[Notifier]:
    """SMTP (environment or the `brandpulse_smtp` Airflow Connection) and/or a webhook."""
    import os

    from alerts.notifiers import SmtpConfig, SmtpNotifier, WebhookNotifier

    found: list[Notifier] = []
    try:
        found.append(SmtpNotifier(SmtpConfig.resolve("brandpulse_smtp")))
    except Exception as exc:  # noqa: BLE001 - any lookup failure means "no SMTP configured"
        log.warning("no SMTP notifier (set BRANDPULSE_SMTP_HOST or connection brandpulse_smtp): %s", exc)
    if os.environ.get("BRANDPULSE_WEBHOOK_URL"):
        found.append(WebhookNotifier())
    return found


def check_alerts(
    config: BrandsConfig,
    at: datetime,
    brand: str | None = None,
    *,
    client: Elasticsearch | None = None,
    settings: Settings | None = None,
    notifiers: list[Notifier] | None = None,
    catch_up: timedelta = timedelta(hours=24),
    run_id: str | None = None,
) -> list[CheckSummary]:
    """`check_brand` for one or every configured brand."""
    from brandpulse.settings import get_settings
    from indexing.client import make_client

    settings = settings or get_settings()
    client = client or make_client(settings)
    notifiers = default_notifiers() if notifiers is None else notifiers
    brands = [config.brand(brand)] if brand else config.brands
    return [
        check_brand(
            b,
            at,
            client=client,
            settings=settings,
            notifiers=notifiers,
            kibana_url=config.kibana_url,
            catch_up=catch_up,
            run_id=run_id,
        )
        for b in brands
    ]
