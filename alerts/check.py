"""One alerts check for one brand at one time: judge the buckets not judged
yet, advance the brand's episode, store it, and deliver what is pending.

Idempotent for a given `at`: re-running (a retried DAG run, a restarted
scheduler) finds no new bucket and nothing pending, so nothing is sent twice.
After downtime, the missed buckets are judged once, in order (bounded by
`catch_up`).

Delivery guarantee: at least once, duplicates recognisable. Each event is
stored as `sending` before the notifiers are called and as `notified` after
they return. A failed delivery leaves it pending and the next check retries
it. A crash between the mail server's acceptance and the `notified` write
leaves it `sending`: the next check logs that and sends it again with the same
`Message-ID`, which mail clients use to show it once.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

from elasticsearch import Elasticsearch
from pydantic import ValidationError

from alerts.detector import Detection, DetectorParams, detect
from alerts.email_render import AlertContent, kibana_discover_url
from alerts.episodes import (
    Episode,
    EpisodeEvent,
    EpisodeSettings,
    advance,
    mark_notified,
    mark_sending,
    pending,
    thread_keys,
)
from alerts.explain import grown_terms, grown_topics, negative_emotion, reviews_following, top_negative_posts
from alerts.notifiers import DeliveryError, Notifier
from alerts.series import fetch_series, first_bucket, floor_bucket
from alerts.store import AlertStore
from brandpulse.core.config import Brand
from brandpulse.core.settings import IndexNames, Settings
from brandpulse.core.timeutil import as_utc

log = logging.getLogger(__name__)

#: history the detector reads before the first bucket it judges
HISTORY = timedelta(days=35)
#: the e-mail's chart: the hours up to the event, so the incident fills it
CHART_SPAN = timedelta(hours=12)


@dataclass
class CheckSummary:
    """Small, JSON-serialisable (an XCom)."""

    brand: str
    evaluated: int = 0
    fired: int = 0
    opened: list[str] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)
    unsent: list[str] = field(default_factory=list)
    resent: list[str] = field(default_factory=list)  # was `sending` when an earlier run stopped
    skipped_buckets: int = 0
    reviews: dict | None = None  # the brand's rating-drop check (`alerts.reviews`), when it has reviews

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
    at = as_utc(at)
    names = settings.indices
    store = AlertStore(client, names)
    episode_settings = episode_settings or EpisodeSettings.from_alert_settings(brand.alerts)
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
        history_start = history_from(client, names, brand.name, first, params.bucket_minutes)
        negatives, totals = fetch_series(client, names, brand.name, history_start, end, params.bucket_minutes)
        detection = detect(negatives, totals, history_start, params)
        judge(store, brand.name, detection, int((first - history_start) / step), episode_settings, summary)
        store.set_last_evaluated(brand.name, end - step, run_id=run_id)

    deliver_pending(
        brand,
        store,
        notifiers,
        summary,
        lambda e, ev: _content(client, settings, brand, e, ev, kibana_url, params),
    )
    return summary


def deliver_pending(
    brand: Brand,
    store: AlertStore,
    notifiers: list[Notifier],
    summary: CheckSummary,
    content_for,
    key: str | None = None,
) -> None:
    """Send every pending event of the brand's episodes, oldest first; stop an
    episode at its first failure (its later events wait for the next run).
    `key`: the episodes' key when not the brand's name (`<brand>:reviews`)."""
    for episode in store.with_pending(key or brand.name):
        for event in pending(episode):
            ref = f"{episode.id}/{event.key}"
            if not notifiers:
                summary.unsent.append(ref)
                continue
            if event.key in episode.sending:
                log.warning(
                    "%s: %s was being sent when an earlier check stopped; sending it again with the "
                    "same Message-ID (mail clients show it once)",
                    brand.name,
                    ref,
                )
                summary.resent.append(ref)
            content = content_for(episode, event)
            episode = mark_sending(episode, event.key, datetime.now(UTC))
            store.save(episode)
            try:
                for notifier in notifiers:
                    notifier.notify(content, brand.alerts.recipients)
            except DeliveryError as exc:
                log.error("%s: delivery of %s failed, will retry next run: %s", brand.name, ref, exc)
                summary.unsent.append(ref)
                break
            episode = mark_notified(episode, event.key, datetime.now(UTC))
            store.save(episode)
            summary.sent.append(ref)


def history_from(
    client: Elasticsearch,
    names: IndexNames,
    brand: str,
    first: datetime,
    bucket_minutes: int,
    *,
    history: timedelta = HISTORY,
    kind: dict | None = None,
) -> datetime:
    """Where the detector's series starts for judging buckets from `first` on:
    `history` before it, but not before the brand's first mention of `kind`
    (social mentions by default, see `first_bucket`)."""
    start = first - history
    known = first_bucket(client, names, brand, bucket_minutes, kind)
    return min(first, max(start, known)) if known is not None else start


def judge(
    store: AlertStore,
    key: str,
    detection: Detection,
    offset: int,
    episode_settings: EpisodeSettings,
    summary: CheckSummary,
) -> None:
    """Walk the verdicts from index `offset` on through the episode of `key`,
    saving every change; the same for social and rating checks."""
    episode = store.latest(key)
    for i in range(offset, len(detection)):
        result = detection.result(i)
        summary.evaluated += 1
        summary.fired += int(result.fired)
        updated, events = advance(episode, result, episode_settings, key)
        if updated is not None and updated is not episode:
            if any(e.kind == "open" for e in events):
                summary.opened.append(updated.id)
            store.save(updated)
        episode = updated


def chart_around(
    client: Elasticsearch,
    names: IndexNames,
    brand: str,
    params: DetectorParams,
    bucket_start: datetime,
    *,
    fetch=fetch_series,
    history: timedelta = HISTORY,
    span: timedelta = CHART_SPAN,
    kind: dict | None = None,
) -> list:
    """Detector verdicts for the day up to `bucket_start` (an e-mail's chart),
    computed from the same history the check uses, `span` long; `fetch`/`kind` pick the
    series (social negatives by default, or `fetch_rating_series` with
    `RATED_REVIEW`)."""
    step = timedelta(minutes=params.bucket_minutes)
    end = bucket_start + step
    start = history_from(client, names, brand, end - span, params.bucket_minutes, history=history, kind=kind)
    part, totals = fetch(client, names, brand, start, end, params.bucket_minutes)
    detection = detect(part, totals, start, params)
    first = len(detection) - int(span / step)
    return [detection.result(i) for i in range(max(0, first), len(detection))]


def _content(
    client, settings, brand: Brand, episode: Episode, event: EpisodeEvent, kibana_url, params
) -> AlertContent:
    """What the e-mail of one event says. The headline figures are the event's
    own (stored when it happened, so the alerts index and the report agree);
    the chart, posts, topics and terms are read around it."""
    names = settings.indices
    step = timedelta(minutes=params.bucket_minutes)
    window_end = event.bucket_start + step
    window_start = window_end - timedelta(minutes=params.horizon * params.bucket_minutes)
    chart = chart_around(client, names, brand.name, params, event.bucket_start)
    result = chart[-1] if chart and chart[-1].start == event.bucket_start else None
    following = reviews_following(client, names, brand.name, window_end) if event.kind != "resolve" else None
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
        topics=grown_topics(client, names, brand.name, window_start, window_end),
        terms=grown_terms(client, names, brand.name, window_start, window_end),
        posts=top_negative_posts(client, names, brand.name, window_start, window_end),
        buckets=tuple(chart),
        kibana_url=(
            kibana_discover_url(kibana_url, brand.name, window_start, window_end) if kibana_url else None
        ),
        reviews_following=following,
        negative_emotion=(
            negative_emotion(client, names, brand.name, window_start, window_end)
            if event.kind != "resolve"
            else None
        ),
    )


def window_share(chart: list, horizon: int) -> float | None:
    """Negative share over the alert window (the last `horizon` buckets)."""
    window = chart[-horizon:]
    total = sum(r.total or 0 for r in window)
    return sum(r.negatives for r in window) / total if total else None


def default_notifiers(smtp_connection: str | None = None) -> list[Notifier]:
    """SMTP (``BRANDPULSE_SMTP_*``, else the Airflow Connection `smtp_connection`
    when one is named: the DAG names ``brandpulse_smtp``) and/or a webhook
    (``BRANDPULSE_WEBHOOK_URL``). The command line names no connection, so it
    never touches an Airflow home. A setting that is wrong is logged (by
    variable name, never its value) and that notifier left out."""
    from alerts.notifiers import SmtpConfig, SmtpNotifier, WebhookNotifier
    from brandpulse.core.settings import WebhookSettings, describe_error

    found: list[Notifier] = []
    try:
        found.append(SmtpNotifier(SmtpConfig.resolve(smtp_connection)))
    except Exception as exc:  # noqa: BLE001 - any lookup failure means "no SMTP configured"
        where = f" or the Airflow connection {smtp_connection}" if smtp_connection else ""
        log.warning("no SMTP notifier (set BRANDPULSE_SMTP_HOST%s): %s", where, exc)
    try:
        webhook = WebhookSettings.load().url
    except ValidationError as exc:
        log.warning("no webhook notifier: %s", describe_error(exc))
        webhook = None
    if webhook is not None:
        found.append(WebhookNotifier(webhook))
    return found
