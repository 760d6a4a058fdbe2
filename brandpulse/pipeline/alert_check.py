"""The alerts check as a pipeline step: the brands config, the cluster and the
notifiers joined around `alerts.check.check_brand` (what the alerts DAG and
`brandpulse alerts check` run)."""

from __future__ import annotations

from datetime import datetime, timedelta

from elasticsearch import Elasticsearch

from alerts.check import CheckSummary, check_brand, default_notifiers
from alerts.notifiers import Notifier
from alerts.reviews import check_reviews
from brandpulse.core.config import BrandsConfig, load_config
from brandpulse.core.settings import Settings, get_settings
from brandpulse.core.timeutil import as_utc
from indexing.client import make_client


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
    smtp_connection: str | None = None,
) -> list[CheckSummary]:
    """`check_brand` for one or every configured brand, each followed by its
    rating-drop check (`alerts.reviews.check_reviews`; its summary is the social
    summary's `reviews`, None for a brand without app reviews)."""
    settings = settings or get_settings()
    client = client or make_client(settings)
    notifiers = default_notifiers(smtp_connection) if notifiers is None else notifiers
    brands = [config.brand(brand)] if brand else config.brands
    summaries = []
    for b in brands:
        summary = check_brand(
            b,
            at,
            client=client,
            settings=settings,
            notifiers=notifiers,
            kibana_url=config.kibana_url,
            catch_up=catch_up,
            run_id=run_id,
        )
        reviews = check_reviews(
            b, at, client=client, settings=settings, notifiers=notifiers, catch_up=catch_up, run_id=run_id
        )
        summary.reviews = reviews.to_dict() if reviews is not None else None
        summaries.append(summary)
    return summaries


def check_alerts_for(brand: str, at, run_id: str | None = None, smtp_connection: str | None = None) -> dict:
    """Alerts check of one brand at the end of a data interval (a small dict:
    an XCom), with the number of notifiers it had."""
    notifiers = default_notifiers(smtp_connection)
    [summary] = check_alerts(load_config(), as_utc(at), brand, run_id=run_id, notifiers=notifiers)
    return {**summary.to_dict(), "notifiers": len(notifiers)}
