"""A static, self-contained HTML report of one brand over a time window, for
people without Kibana: key figures, charts (PNG, base64-inlined), top topics,
the most-engaged negative posts and the alert episodes.

The page loads nothing from outside (a Content-Security-Policy says so) and
every piece of user text is escaped by Jinja2's autoescaping; links are kept
only when they are http(s).
"""

from __future__ import annotations

import base64
import io
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from elasticsearch import Elasticsearch
from jinja2 import Environment, FileSystemLoader, select_autoescape

from brandpulse.analyst.breakdowns import Breakdowns, breakdowns
from brandpulse.analyst.ratings import RatingSummary, rating_summary
from brandpulse.analyst.search import (
    MentionFilter,
    Stats,
    clean_text,
    mention_stats,
    newest_mention,
    terminal_text,
)
from brandpulse.core.settings import IndexNames

TEMPLATES = Path(__file__).resolve().parent / "templates"
COLORS = {"negative": "#c0392b", "neutral": "#95a5a6", "positive": "#27ae60", "unscored": "#d5d8dc"}
SENTIMENT_LABELS = ("negative", "neutral", "positive")


@dataclass
class Post:
    created_at: str
    platform: str
    author: str
    followers: int | None
    likes: int
    reposts: int
    replies: int
    text: str
    url: str | None


@dataclass
class Episode:
    opened_at: str
    status: str
    severity: str
    negative_count: int | None
    expected_count: float | None
    title: str


@dataclass
class ReportData:
    brand: str
    title: str
    generated_at: datetime
    stats: Stats
    posts: list[Post] = field(default_factory=list)
    episodes: list[Episode] = field(default_factory=list)
    #: the brand's newest mention anywhere (said when the window is empty)
    newest: datetime | None = None
    #: how the window was chosen, e.g. "the last 7 days, the default"
    window_note: str | None = None
    #: social negative share and review ratings per day
    ratings: RatingSummary = field(default_factory=RatingSummary)
    #: sentiment per language, emotion shares
    breakdowns: Breakdowns = field(default_factory=Breakdowns)


def safe_url(url: str | None) -> str | None:
    """The URL when it is http(s), else None (no `javascript:` or `data:` links)."""
    if not url:
        return None
    return url if urlsplit(url).scheme in ("http", "https") else None


def top_negative_posts(
    client: Elasticsearch, names: IndexNames, brand: str, start: datetime, end: datetime, size: int = 10
) -> list[Post]:
    """The most-engaged negative mentions (likes, then reposts, then replies)."""
    filters = MentionFilter(brand=brand, sentiment="negative", start=start, end=end)
    found = client.search(
        index=names.mentions,
        query={"bool": {"filter": filters.clauses()}},
        sort=[
            {"engagement.likes": {"order": "desc", "missing": "_last"}},
            {"engagement.reposts": {"order": "desc", "missing": "_last"}},
            {"engagement.replies": {"order": "desc", "missing": "_last"}},
            {"created_at": "desc"},
        ],
        size=size,
        ignore_unavailable=True,
    )
    posts = []
    for hit in found["hits"]["hits"]:
        doc = hit["_source"]
        engagement, author = doc.get("engagement") or {}, doc.get("author") or {}
        posts.append(
            Post(
                created_at=doc["created_at"][:16].replace("T", " "),
                platform=doc.get("platform", ""),
                author=clean_text(author.get("handle") or author.get("display_name") or "unknown"),
                followers=author.get("followers"),
                likes=engagement.get("likes") or 0,
                reposts=engagement.get("reposts") or 0,
                replies=engagement.get("replies") or 0,
                text=clean_text(doc.get("text") or ""),
                url=safe_url(doc.get("url")),
            )
        )
    return posts


def alert_episodes(
    client: Elasticsearch, names: IndexNames, brand: str, start: datetime, end: datetime, size: int = 50
) -> list[Episode]:
    """Alert episodes opened in the window (none when the alerts index does not exist)."""
    found = client.search(
        index=names.alerts,
        query={
            "bool": {
                "filter": [
                    {"term": {"brand": brand}},
                    {"range": {"opened_at": {"gte": start.isoformat(), "lt": end.isoformat()}}},
                ]
            }
        },
        sort=[{"opened_at": "asc"}],
        size=size,
        ignore_unavailable=True,
        allow_no_indices=True,
    )
    return [
        Episode(
            opened_at=str(doc.get("opened_at", ""))[:16].replace("T", " "),
            status=doc.get("status", ""),
            severity=doc.get("severity", ""),
            negative_count=doc.get("negative_count"),
            expected_count=doc.get("expected_count"),
            title=doc.get("title", ""),
        )
        for doc in (hit["_source"] for hit in found["hits"]["hits"])
    ]


def gather(
    client: Elasticsearch,
    names: IndexNames,
    brand: str,
    start: datetime,
    end: datetime,
    generated_at: datetime,
    title: str | None = None,
    window_note: str | None = None,
) -> ReportData:
    stats = mention_stats(client, names, brand, start, end, max_buckets=84)
    return ReportData(
        brand=brand,
        title=title or brand,
        generated_at=generated_at,
        stats=stats,
        posts=top_negative_posts(client, names, brand, start, end),
        episodes=alert_episodes(client, names, brand, start, end),
        newest=None if stats.total else newest_mention(client, names, brand),
        window_note=window_note,
        ratings=rating_summary(client, names, brand, start, end),
        breakdowns=breakdowns(client, names, brand, start, end),
    )


# --- charts --------------------------------------------------------------------------------


def _png(fig: Any) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})  # fixed size: charts scale alike
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _figure(width: float, height: float) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    ax = fig.add_subplot()
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(axis="y", color="#eeeeee")
    ax.set_axisbelow(True)
    return fig, ax


def timeline_chart(stats: Stats) -> str | None:
    """Mentions per bucket with the negative part in red (None when there are none:
    no empty chart with a made-up axis)."""
    if not stats.buckets or not stats.total:
        return None
    from matplotlib import dates as mdates

    fig, ax = _figure(10, 2.8)
    step = (stats.buckets[1] - stats.buckets[0]) if len(stats.buckets) > 1 else None
    width = (step.total_seconds() / 86400 * 0.9) if step else 0.03
    other = [v - n for v, n in zip(stats.volume, stats.negative, strict=True)]
    ax.bar(
        stats.buckets, stats.negative, width=width, color=COLORS["negative"], label="negative", align="edge"
    )
    ax.bar(
        stats.buckets, other, width=width, bottom=stats.negative, color="#aab7c4", label="other", align="edge"
    )
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))
    ax.set_ylabel(f"mentions per {stats.interval}")
    ax.legend(loc="upper left", frameon=False, ncols=2)
    return _png(fig)


def ratings_chart(ratings: RatingSummary) -> str | None:
    """Per day: the 1-2 star share of reviews against the social negative share (left
    axis, %), the average rating (right axis, stars). None when no review is rated."""
    if not ratings.reviews:
        return None
    from matplotlib import dates as mdates

    fig, ax = _figure(10, 2.8)
    days = [d.day for d in ratings.days]

    def pct(values: list[float | None]) -> list[float]:
        return [float("nan") if v is None else 100 * v for v in values]

    ax.plot(
        days,
        pct([d.social_negative_share for d in ratings.days]),
        color=COLORS["negative"],
        marker=".",
        label="social negative share",
    )
    ax.plot(
        days,
        pct([d.low_share for d in ratings.days]),
        color="#8e44ad",
        marker="s",
        markersize=4,
        label="1-2 star share of reviews",
    )
    ax.set_ylabel("%")
    ax.set_ylim(bottom=0)
    right = ax.twinx()
    stars = [float("nan") if d.average_rating is None else d.average_rating for d in ratings.days]
    right.plot(days, stars, color="#f39c12", linestyle="--", marker="*", label="average rating")
    right.set_ylim(1, 5)
    right.set_ylabel("stars")
    right.spines["top"].set_visible(False)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))
    lines = ax.get_lines() + right.get_lines()
    ax.legend(lines, [line.get_label() for line in lines], loc="upper left", frameon=False, ncols=3)
    return _png(fig)


def bars_chart(
    values: dict[str, int], negative: dict[str, int] | None = None, width: float = 4.4
) -> str | None:
    """Horizontal bars, largest on top; the negative part (if given) in red."""
    if not values:
        return None
    items = sorted(values.items(), key=lambda kv: kv[1])
    labels = [terminal_text(k if len(k) <= 28 else k[:27] + "…") for k, _ in items]  # no control chars
    fig, ax = _figure(width, 0.32 * len(items) + 0.6)
    ax.grid(axis="x", color="#eeeeee")
    ax.grid(axis="y", visible=False)
    totals = [v for _, v in items]
    ax.barh(labels, totals, color="#aab7c4")
    if negative is not None:  # the page's legend says red = negative
        ax.barh(labels, [negative.get(k, 0) for k, _ in items], color=COLORS["negative"])
    return _png(fig)


# --- HTML ------------------------------------------------------------------------------------


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = lambda v: "–" if v is None else f"{v:,.0f}"
    env.filters["pct"] = lambda v: f"{v * 100:.1f}%"
    return env


def render_html(data: ReportData) -> str:
    stats = data.stats
    charts = {
        "timeline": timeline_chart(stats),
        "topics": bars_chart(
            {t.label: t.mentions for t in stats.topics}, {t.label: t.negative for t in stats.topics}
        ),
        "platforms": bars_chart(stats.platforms),
        "languages": bars_chart(stats.languages),
        "ratings": ratings_chart(data.ratings),
        "emotions": bars_chart(data.breakdowns.emotion.counts, data.breakdowns.emotion.negative_counts),
    }
    scored = sum(stats.sentiment.get(k, 0) for k in ("negative", "neutral", "positive"))
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            data=data,
            stats=stats,
            charts=charts,
            colors=COLORS,
            scored=scored,
            sentiment_labels=SENTIMENT_LABELS,
        )
    )


def write_report(
    client: Elasticsearch,
    names: IndexNames,
    brand: str,
    start: datetime,
    end: datetime,
    out: Path,
    generated_at: datetime,
    title: str | None = None,
    window_note: str | None = None,
) -> ReportData:
    data = gather(client, names, brand, start, end, generated_at, title, window_note)
    html = clean_text(render_html(data))  # lone surrogates in user text -> U+FFFD
    write_atomically(out, html)
    return data


def write_atomically(path: Path, text: str) -> None:
    """Write `text` to a temporary file next to `path`, then rename it over `path`:
    a failure leaves the previous file (or none), never a truncated one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="replace", newline="") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
