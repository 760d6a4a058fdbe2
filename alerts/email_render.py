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
from alerts.episodes import severity_label

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
    similar: int = 0  # near-identical posts grouped under this one ("+4 similar")


EventKind = Literal["open", "escalate", "reopen", "resolve"]
#: what an alert counts: negative mentions (social) or 1-2 star reviews (rating drop)
AlertSource = Literal["mentions", "reviews"]


@dataclass(frozen=True)
class ReviewsFollowing:
    """1-2 star app reviews already following a social spike (a line in its e-mail)."""

    low: int  # 1-2 star reviews in the last `hours`
    expected: float  # usual number in that many hours
    hours: int = 24

    @property
    def line(self) -> str:
        usual = f"{self.expected:,.0f}" if self.expected >= 0.5 else "fewer than 1"
        return f"1-2 star reviews: {self.low} in the last {self.hours} h vs {usual} expected"


@dataclass(frozen=True)
class NegativeEmotion:
    """Emotions of the alert window's negative mentions that carry one (emotion is
    absent for languages where its measured quality is not useful)."""

    negatives: int  # negative mentions in the window
    with_emotion: int  # of them, those with an emotion
    counts: Sequence[tuple[str, int]] = ()  # label, mentions; most frequent first

    def share(self, label: str) -> float:
        return dict(self.counts).get(label, 0) / self.with_emotion if self.with_emotion else 0.0

    @property
    def top(self) -> str:
        return self.counts[0][0] if self.counts else ""

    @property
    def line(self) -> str:
        """``42% anger, most often sadness (48%); 31 of 40 negative mentions carry an emotion``."""
        anger = f"{self.share('anger'):.0%} anger"
        top = (
            ", the most frequent emotion"
            if self.top == "anger"
            else f", most often {self.top} ({self.share(self.top):.0%})"
        )
        return f"{anger}{top}; {self.with_emotion} of {self.negatives} negative mentions carry an emotion"


@dataclass(frozen=True)
class AlertContent:
    """Everything the e-mail says about one episode event.

    `negatives`/`expected_negatives` are the alert window's (the detector's
    horizon, `window_start`..`window_end`): subject, headline, body, the
    alerts index and the report all quote these same two figures.
    """

    brand: str
    brand_title: str
    event: EventKind
    episode_id: str
    event_key: str
    window_start: datetime
    window_end: datetime
    negatives: int
    expected_negatives: float
    share: float | None = None
    expected_share: float | None = None
    fired_on: Sequence[str] = ()  # which tests fired: "count", "share"
    details: str = ""  # the statistics, for the curious (one line)
    thread: Sequence[str] = ()  # keys of this episode's earlier events (threading)
    topics: Sequence[Growth] = ()
    terms: Sequence[Growth] = ()
    posts: Sequence[Post] = ()
    buckets: Sequence[BucketResult] = field(default_factory=tuple)  # for the chart
    kibana_url: str | None = None
    #: "reviews": a rating-drop alert (`negatives` are 1-2 star reviews, `share` their share)
    source: AlertSource = "mentions"
    #: a social alert's line when 1-2 star reviews are already following (None: not shown)
    reviews_following: ReviewsFollowing | None = None
    #: emotions of the window's negative mentions (None: none carries one, nothing is said)
    negative_emotion: NegativeEmotion | None = None

    @property
    def count_label(self) -> str:
        return "1-2 star reviews" if self.source == "reviews" else "Negative mentions"

    @property
    def share_label(self) -> str:
        return "1-2 star share" if self.source == "reviews" else "Negative share"

    @property
    def posts_heading(self) -> str:
        if self.source == "reviews":
            return "Most-helpful 1-2 star reviews (answer these first)"
        return "Most-engaged negative posts (answer these first)"

    @property
    def severity(self) -> float:
        if self.expected_negatives <= 0:
            return float(self.negatives)
        return self.negatives / self.expected_negatives

    @property
    def severity_label(self) -> str:
        return severity_label(self.severity)

    @property
    def window_label(self) -> str:
        """The alert window in words: "the last hour", "the last 30 minutes"."""
        minutes = round((self.window_end - self.window_start).total_seconds() / 60)
        if minutes == 60:
            return "the last hour"
        if minutes % 60 == 0:
            return f"the last {minutes // 60} hours"
        return f"the last {minutes} minutes"

    @property
    def expected_text(self) -> str:
        return fmt_count(self.expected_negatives)

    @property
    def headline(self) -> str:
        """Why this e-mail came, in plain words (the statistics go in `details`)."""
        who, n, window = self.brand_title, self.negatives, self.window_label
        if self.source == "reviews":
            return self._reviews_headline()
        share_fired = "share" in self.fired_on and "count" not in self.fired_on
        if self.event == "resolve":
            return (
                f"Negative posts about {who} are back to normal: {n} in {window}, "
                f"about {self.expected_text} expected."
            )
        if share_fired and self.share is not None and self.expected_share is not None:
            lead = {"escalate": "is climbing further", "reopen": "has jumped again"}.get(
                self.event, "has jumped"
            )
            return (
                f"The share of negative posts about {who} {lead}: {self.share:.0%} of posts in "
                f"{window} are negative, where {self.expected_share:.0%} is usual."
            )
        lead = {
            "open": f"{who} is getting far more negative posts than usual",
            "escalate": f"The negative spike for {who} is growing",
            "reopen": f"The negative spike for {who} is back",
        }[self.event]
        return (
            f"{lead}: {n} in {window}, about {fmt_ratio(self.severity)} "
            f"the {self.expected_text} that are normal for this time."
        )

    def _reviews_headline(self) -> str:
        who, n, window = self.brand_title, self.negatives, self.window_label
        if self.event == "resolve":
            return (
                f"1-2 star reviews of {who}'s app are back to normal: {n} in {window}, "
                f"about {self.expected_text} expected."
            )
        if "count" not in self.fired_on and self.share is not None and self.expected_share is not None:
            return (
                f"{who}'s app rating is dropping: {self.share:.0%} of reviews in {window} have 1-2 stars, "
                f"where {self.expected_share:.0%} is usual."
            )
        lead = {
            "open": f"{who}'s app rating is dropping",
            "escalate": f"The rating drop of {who}'s app is growing",
            "reopen": f"The rating drop of {who}'s app is back",
        }[self.event]
        return (
            f"{lead}: {n} reviews with 1-2 stars in {window}, about {fmt_ratio(self.severity)} "
            f"the {self.expected_text} that are normal for this time."
        )


def fmt_count(value: float) -> str:
    """An expected count the way every alert text prints it."""
    return f"{value:,.0f}" if value >= 10 else f"{value:.1f}"


def fmt_ratio(value: float) -> str:
    return "new" if value == float("inf") else f"{value:.1f}x"


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
    """Two panels over the given buckets (the caller passes the hours around
    the event): negative mentions against the expected number, and the
    negative share against the expected share. Buckets that fired are shaded
    in both, so the metric that fired is visible at a glance."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import dates as mdates
    from matplotlib import pyplot as plt

    times = [b.start for b in buckets]
    fig, (counts, shares) = plt.subplots(
        2, 1, figsize=(6.4, 3.6), dpi=100, sharex=True, gridspec_kw={"height_ratios": [3, 2]}
    )
    try:
        for ax in (counts, shares):
            for b in buckets:
                if b.fired:
                    ax.axvspan(b.start, b.end, color="#fcbba1", alpha=0.6, linewidth=0)
        known = [b for b in buckets if b.expected is not None]
        counts.step(
            times,
            [b.negatives for b in buckets],
            where="post",
            color="#de2d26",
            linewidth=1.6,
            label="negative mentions",
        )
        if known:
            counts.step(
                [b.start for b in known],
                [b.expected for b in known],
                where="post",
                color="#3182bd",
                linewidth=1.2,
                linestyle="--",
                label="expected",
            )
        counts.set_ylim(bottom=0)
        counts.set_ylabel("per bucket", fontsize=8)
        counts.legend(loc="upper left", fontsize=7, frameon=False)
        with_share = [b for b in buckets if b.share is not None]
        shares.step(
            [b.start for b in with_share],
            [100 * (b.share or 0) for b in with_share],
            where="post",
            color="#de2d26",
            linewidth=1.4,
            label="negative share",
        )
        expected_share = [b for b in buckets if b.expected_share is not None]
        if expected_share:
            shares.step(
                [b.start for b in expected_share],
                [100 * (b.expected_share or 0) for b in expected_share],
                where="post",
                color="#3182bd",
                linewidth=1.2,
                linestyle="--",
                label="expected share",
            )
        shares.set_ylim(0, 100)
        shares.set_ylabel("% negative", fontsize=8)
        shares.legend(loc="upper left", fontsize=7, frameon=False)
        if title:
            counts.set_title(title, fontsize=10)
        for ax in (counts, shares):
            ax.grid(axis="y", alpha=0.3)
            ax.tick_params(labelsize=8)
        shares.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M"))
        fig.tight_layout()
        out = io.BytesIO()
        fig.savefig(out, format="png")
        return out.getvalue()
    finally:
        plt.close(fig)


def message_id(episode_id: str, event_key: str) -> str:
    """The fixed Message-ID of one episode event: a resend carries the same one,
    so mail clients show it once."""
    return f"<{_token(episode_id)}.{_token(event_key)}@brandpulse>"


def render_email(
    content: AlertContent,
    sender: str,
    recipients: Sequence[str],
    sent_at: datetime | None = None,
) -> EmailMessage:
    """Build the message: text and HTML alternatives, chart as a related part.

    Every mail of an episode threads under its first: `In-Reply-To` names the
    opening mail, `References` every earlier one."""
    env = _environment()
    context = {
        "c": content,
        "window": f"{_human(content.window_start)} – {_human(content.window_end)} UTC",
        "posts": [_post_view(p) for p in content.posts[:5]],
        "terms": [t for t in content.terms if t.current > t.baseline],
        "topics": [t for t in content.topics if t.current > t.baseline],
        "kibana": content.kibana_url if _is_http(content.kibana_url) else None,
        "chart_cid": CHART_CID if content.buckets else None,
    }
    text = env.get_template("alert_email.txt.j2").render(**context)
    html = env.get_template("alert_email.html.j2").render(**context)

    msg = EmailMessage()
    msg["Subject"] = subject(content)
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Message-ID"] = message_id(content.episode_id, content.event_key)
    if content.thread:
        earlier = [message_id(content.episode_id, key) for key in content.thread]
        msg["In-Reply-To"] = earlier[0]
        msg["References"] = " ".join(earlier)
    msg["X-Brandpulse-Episode"] = content.episode_id
    if sent_at is not None:
        msg["Date"] = format_datetime(sent_at if sent_at.tzinfo else sent_at.replace(tzinfo=UTC))
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    if content.buckets:
        html_part = list(msg.iter_parts())[1]  # [text, html] after add_alternative
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
    env.filters["num"] = fmt_count
    env.filters["times"] = fmt_ratio
    return env


def subject(c: AlertContent) -> str:
    """One line with the same figures as the headline and the body."""
    if c.source == "reviews":
        what = {
            "open": "rating drop",
            "escalate": "rating drop growing",
            "reopen": "rating drop back",
            "resolve": "resolved",
        }[c.event]
        title = re.sub(r"[\x00-\x1f\x7f]+", " ", c.brand_title)
        return (
            f"[brandpulse] {title}: {what} – {c.negatives} 1-2 star reviews in {c.window_label} "
            f"vs {c.expected_text} expected"
        )
    what = {
        "open": "negative spike",
        "escalate": "negative spike growing",
        "reopen": "negative spike back",
        "resolve": "resolved",
    }[c.event]
    title = re.sub(r"[\x00-\x1f\x7f]+", " ", c.brand_title)
    return (
        f"[brandpulse] {title}: {what} – {c.negatives} negative posts in {c.window_label} "
        f"vs {c.expected_text} expected"
    )


def _post_view(p: Post) -> dict:
    text = p.text if len(p.text) <= MAX_POST_CHARS else p.text[: MAX_POST_CHARS - 1] + "…"
    return {
        "text": text,
        "platform": p.platform,
        "author": p.author or "unknown author",
        "url": p.url if _is_http(p.url) else None,
        "engagement": p.engagement,
        "similar": p.similar,
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
