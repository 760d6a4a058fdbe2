"""The alert e-mail: one message with plain-text and HTML parts and an inline chart.

Input is an `AlertContent` (what the alerts step gathered from the detector,
the episode and the mentions index); output is an `email.message.EmailMessage`
ready for a notifier. User text (posts, authors, terms, topics, brand names)
only reaches the HTML through Jinja2 autoescaping, and links only when they
are http(s).
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Literal
from urllib.parse import quote, urlsplit

import prison
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from alerts.detector import BucketResult

DATA_VIEW_ID = "brandpulse-mentions"
CHART_CID = "negative-chart@brandpulse"
MAX_POST_CHARS = 280


@dataclass(frozen=True)
class Growth:
    """A topic or term and how much it grew against the baseline."""

    label: str
    current: int
    baseline: float

    @property
    def ratio(self) -> float:
        return self.current / self.baseline if self.baseline > 0 else float("inf")


@dataclass(frozen=True)
class Post:
    """One negative post to show (the caller picks the most engaged)."""

    text: str
    platform: str
    author: str | None = None
    url: str | None = None
    engagement: int = 0
    created_at: datetime | None = None


@dataclass(frozen=True)
class AlertContent:
    """Everything the e-mail says about one episode event."""

    brand: str
    brand_title: str
    event: Literal["open", "escalate", "resolve"]
    episode_id: str
    event_key: str
    window_start: datetime
    window_end: datetime
    negatives: int
    expected_negatives: float
    share: float | None = None
    expected_share: float | None = None
    reason: str = ""
    topics: Sequence[Growth] = ()
    terms: Sequence[Growth] = ()
    posts: Sequence[Post] = ()
    buckets: Sequence[BucketResult] = field(default_factory=tuple)  # for the chart
    kibana_url: str | None = None

    @property
    def severity(self) -> float:
        if self.expected_negatives <= 0:
            return float(self.negatives)
        return self.negatives / self.expected_negatives

    @property
    def severity_label(self) -> str:
        if self.severity >= 10:
            return "critical"
        if self.severity >= 4:
            return "high"
        return "elevated"


def kibana_discover_url(
    base_url: str,
    brand: str,
    start: datetime,
    end: datetime,
    data_view_id: str = DATA_VIEW_ID,
) -> str:
    """A Discover link filtered to the brand, negative sentiment and the window.

    The app state (`_a`) carries the data view, two phrase filters and the
    columns; the global state (`_g`) carries the absolute time range. Both are
    rison, percent-encoded for the URL fragment.
    """

    def phrase(key: str, value: str) -> dict:
        return {
            "meta": {
                "alias": None,
                "disabled": False,
                "index": data_view_id,
                "key": key,
                "negate": False,
                "params": {"query": value},
                "type": "phrase",
            },
            "query": {"match_phrase": {key: value}},
        }

    g = {
        "filters": [],
        "refreshInterval": {"pause": True, "value": 0},
        "time": {"from": _iso(start), "to": _iso(end)},
    }
    a = {
        "columns": ["text", "platform", "author.handle", "engagement.likes"],
        "dataSource": {"dataViewId": data_view_id, "type": "dataView"},
        "filters": [phrase("brands", brand), phrase("sentiment.label", "negative")],
        "query": {"language": "kuery", "query": ""},
        "sort": [["created_at", "desc"]],
    }
    safe = "!'(),:*-._~@"
    return (
        f"{base_url.rstrip('/')}/app/discover#/"
        f"?_g={quote(prison.dumps(g), safe=safe)}&_a={quote(prison.dumps(a), safe=safe)}"
    )


def render_chart_png(buckets: Sequence[BucketResult], title: str = "") -> bytes:
    """Negative mentions per bucket against the expected value and normal range."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import dates as mdates
    from matplotlib import pyplot as plt

    times = [b.start for b in buckets]
    fig, ax = plt.subplots(figsize=(6.4, 2.4), dpi=100)
    try:
        known = [b for b in buckets if b.expected is not None]
        if known:
            ax.fill_between(
                [b.start for b in known],
                [b.lower or 0 for b in known],
                [b.upper or 0 for b in known],
                step="post",
                color="#9ecae1",
                alpha=0.5,
                label="normal range",
            )
            ax.step(
                [b.start for b in known],
                [b.expected for b in known],
                where="post",
                color="#3182bd",
                linewidth=1.2,
                label="expected",
            )
        ax.step(
            times,
            [b.negatives for b in buckets],
            where="post",
            color="#de2d26",
            linewidth=1.6,
            label="negative mentions",
        )
        for b in buckets:
            if b.fired:
                ax.axvspan(b.start, b.end, color="#fcbba1", alpha=0.5, linewidth=0)
        ax.set_ylim(bottom=0)
        ax.set_ylabel("per bucket")
        if title:
            ax.set_title(title, fontsize=10)
        ax.legend(loc="upper left", fontsize=7, frameon=False)
        ax.grid(axis="y", alpha=0.3)
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b\n%H:%M"))
        ax.tick_params(labelsize=8)
        fig.tight_layout()
        out = io.BytesIO()
        fig.savefig(out, format="png")
        return out.getvalue()
    finally:
        plt.close(fig)


def render_email(
    content: AlertContent,
    sender: str,
    recipients: Sequence[str],
    sent_at: datetime | None = None,
) -> EmailMessage:
    """Build the message: text and HTML alternatives, chart as a related part."""
    env = _environment()
    context = {
        "c": content,
        "window": f"{_human(content.window_start)} – {_human(content.window_end)} UTC",
        "posts": [_post_view(p) for p in content.posts[:5]],
        "kibana": content.kibana_url if _is_http(content.kibana_url) else None,
        "chart_cid": CHART_CID if content.buckets else None,
    }
    text = env.get_template("alert_email.txt.j2").render(**context)
    html = env.get_template("alert_email.html.j2").render(**context)

    msg = EmailMessage()
    msg["Subject"] = _subject(content)
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Message-ID"] = f"<{_token(content.episode_id)}.{_token(content.event_key)}@brandpulse>"
    msg["X-Brandpulse-Episode"] = content.episode_id
    if sent_at is not None:
        msg["Date"] = format_datetime(sent_at if sent_at.tzinfo else sent_at.replace(tzinfo=UTC))
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    if content.buckets:
        html_part = msg.get_payload()[1]
        html_part.add_related(
            render_chart_png(content.buckets),
            maintype="image",
            subtype="png",
            cid=f"<{CHART_CID}>",
            filename="negative-mentions.png",
        )
    return msg


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("alerts", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = lambda v: "–" if v is None else f"{v:.0%}"
    env.filters["num"] = lambda v: f"{v:,.0f}" if v >= 10 else f"{v:.1f}"
    env.filters["times"] = lambda v: "new" if v == float("inf") else f"{v:.1f}x"
    return env


def _subject(c: AlertContent) -> str:
    what = {
        "open": "negative spike",
        "escalate": "negative spike escalating",
        "resolve": "negative spike resolved",
    }[c.event]
    title = re.sub(r"[\r\n]+", " ", c.brand_title)
    return (
        f"[brandpulse] {title}: {what} – {c.negatives} negative mentions vs "
        f"{c.expected_negatives:.0f} expected"
    )


def _post_view(p: Post) -> dict:
    text = p.text if len(p.text) <= MAX_POST_CHARS else p.text[: MAX_POST_CHARS - 1] + "…"
    return {
        "text": text,
        "platform": p.platform,
        "author": p.author or "unknown author",
        "url": p.url if _is_http(p.url) else None,
        "engagement": p.engagement,
        "when": _human(p.created_at) if p.created_at else "",
    }


def _is_http(url: str | None) -> bool:
    if not url:
        return False
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _iso(value: datetime) -> str:
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _human(value: datetime) -> str:
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def _token(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "-", value)
