"""The static HTML report: figures from the index, everything user-written
escaped, nothing loaded from outside, and a real render in headless Chromium."""

from __future__ import annotations

import math
import random
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from elasticsearch import helpers
from typer.testing import CliRunner

from brandpulse.cli.analyst import app
from brandpulse.core.mention import Emotion, Mention

pytestmark = pytest.mark.integration

END = datetime(2026, 11, 16, tzinfo=UTC)
START = END - timedelta(days=7)
SPIKE = START + timedelta(days=4, hours=9)
TOPICS = ("delivery", "pricing", "mobile app", "taste", "<b>bold</b> topic")
EVIL = "<script>alert('x')</script> refund & \"late\""


def week_of_mentions(seed: int = 3) -> list[Mention]:
    """A week of enriched mentions with a daily cycle and a negative spike."""
    rng = random.Random(seed)
    out: list[Mention] = []
    hour = START
    while hour < END:
        daily = 1 + 0.8 * math.sin((hour.hour - 9) / 24 * 2 * math.pi)
        spike = 8 if SPIKE <= hour < SPIKE + timedelta(hours=5) else 0
        for _ in range(rng.randint(2, 6) * round(daily + 0.5) + spike):
            n = len(out)
            negative = spike > 0 and rng.random() < 0.8
            label = "negative" if negative else rng.choice(["negative", "neutral", "neutral", "positive"])
            topic = "delivery" if negative and spike else rng.choice(TOPICS)
            text = EVIL if n == 7 else f"Northwind {topic} post {n}"
            out.append(
                Mention(
                    platform=rng.choice(["x", "x", "reddit", "mastodon", "bluesky"]),
                    native_id=f"r{n}",
                    url="javascript:alert(1)" if n == 7 else f"https://example.org/{n}",
                    created_at=hour + timedelta(minutes=rng.randrange(60)),
                    brands=["northwind-coffee"],
                    text=text,
                    lang=rng.choice(["en", "en", "de", "fr"]),
                    author={"handle": f"fan{n % 40}", "followers": rng.randrange(5000)},
                    engagement={"likes": 500 if n == 7 else rng.randrange(60), "reposts": rng.randrange(9)},
                    sentiment={
                        "label": label,
                        "score": 0.8,
                        "probabilities": {"negative": 0.1, "neutral": 0.1, "positive": 0.8},
                        "model": "test",
                        "model_version": "1",
                    },
                    topics=[{"id": topic, "label": topic}],
                )
            )
            if out[-1].lang != "fr":  # French: no emotion, as for a language without useful quality
                out[-1] = out[-1].model_copy(update={"emotion": Emotion(**_emotion(label, n))})
        hour += timedelta(hours=1)
    return out


EMOTIONS = ("anger", "anticipation", "disgust", "fear", "joy", "sadness", "surprise", "trust", "optimism")


def _emotion(label: str, n: int) -> dict:
    """A fixture emotion (no model): negatives anger two times in three, else sadness; others joy."""
    top = ("anger" if n % 3 else "sadness") if label == "negative" else "joy"
    scores = {e: 0.9 if e == top else 0.05 for e in EMOTIONS}
    return {"label": top, "score": 0.9, "scores": scores}


def week_of_reviews() -> list[Mention]:
    """Rated app-store reviews, four a day; days 5-6 bring 1-2 star ones after the spike."""
    out: list[Mention] = []
    for day in range(7):
        for i in range(4):
            stars = 1 if day >= 5 and i < 3 else 4 + i % 2
            out.append(
                Mention(
                    platform="appstore",
                    kind="review",
                    native_id=f"rev{day}-{i}",
                    created_at=START + timedelta(days=day, hours=10 + i),
                    brands=["northwind-coffee"],
                    text=f"Northwind app review {day}-{i}",
                    lang="en",
                    author={"handle": f"reviewer{day}{i}"},
                    review={"rating": stars, "title": "<i>review</i>"},
                    sentiment={
                        "label": "negative" if stars <= 2 else "positive",
                        "score": 0.9,
                        "probabilities": {},
                        "model": "test",
                        "model_version": "1",
                    },
                )
            )
    return out


class Resources(HTMLParser):
    """Collects every URL the page would load, every link and every tag name."""

    def __init__(self) -> None:
        super().__init__()
        self.loads: list[str] = []
        self.links: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        values = dict(attrs)
        if tag == "a":
            self.links.append(values.get("href") or "")
        for name in ("src", "srcset", "data", "poster"):
            if values.get(name):
                self.loads.append(values[name])
        if tag == "link" and values.get("href"):
            self.loads.append(values["href"])


@pytest.fixture
def report(ready, settings, env, tmp_path) -> tuple[Path, list[Mention]]:
    mentions = week_of_mentions()
    reviews = week_of_reviews()
    helpers.bulk(
        ready,
        (
            {"_index": settings.indices.mentions_write, "_id": m.id, "_source": m.to_document()}
            for m in mentions + reviews
        ),
        refresh=True,
    )
    ready.index(
        index=settings.indices.alerts,
        id="northwind-coffee:spike",
        document={
            "brand": "northwind-coffee",
            "status": "resolved",
            "severity": "high",
            "opened_at": SPIKE.isoformat(),
            "window_start": SPIKE.isoformat(),
            "negative_count": 31,
            "expected_count": 4.5,
            "title": "Negative spike: <delivery> complaints",
        },
        refresh=True,
    )
    config = tmp_path / "brands.yaml"
    config.write_text(
        "brands:\n  - name: northwind-coffee\n"
        "    display_name: 'Northwind <Coffee> & Co'\n    query: northwind\n"
    )
    env.setenv("BRANDPULSE_CONFIG", str(config))
    out = tmp_path / "report.html"
    run = CliRunner().invoke(
        app,
        [
            "report",
            "--brand",
            "northwind-coffee",
            "--since",
            "7d",
            "--at",
            END.isoformat(),
            "--out",
            str(out),
        ],
    )
    assert run.exit_code == 0, run.output
    return out, mentions + reviews


def test_report_figures_come_from_the_index(report) -> None:
    path, mentions = report
    html = path.read_text(encoding="utf-8")
    assert f'<div class="value">{len(mentions):,}</div>' in html
    negatives = sum(m.sentiment.label == "negative" for m in mentions)
    assert f'<div class="value">{negatives:,}</div>' in html
    assert "Negative spike: &lt;delivery&gt; complaints" in html  # the alert episode
    # timeline, topics, platforms, languages, ratings beside social, emotions
    assert html.count('src="data:image/png;base64,') == 6


def test_report_shows_sentiment_per_language(report) -> None:
    path, mentions = report
    html = path.read_text(encoding="utf-8")
    table = html.split('id="languages"')[1].split("</table>")[0]
    for lang in ("en", "de", "fr"):
        mine = [m for m in mentions if m.lang == lang]
        row = table.split(f"<td><code>{lang}</code></td>")[1].split("</tr>")[0]
        assert f'<td class="n">{len(mine):,}</td>' in row
        for label in ("negative", "neutral", "positive"):
            share = sum(m.sentiment.label == label for m in mine) / len(mine)
            assert f'<td class="n">{share * 100:.1f}%</td>' in row


def test_report_shows_emotion_and_anger_among_negatives(report) -> None:
    path, mentions = report
    html = path.read_text(encoding="utf-8")
    section = html.split('id="emotion"')[1].split("<h2")[0]
    with_emotion = [m for m in mentions if m.emotion is not None]
    negatives = [m for m in with_emotion if m.sentiment.label == "negative"]
    anger = sum(m.emotion.label == "anger" for m in negatives) / len(negatives)
    assert f"{len(with_emotion):,} of {len(mentions):,} mentions carry an emotion" in section
    assert (
        f"Among the {len(negatives):,} negative ones: anger {anger * 100:.1f}%, the most frequent emotion"
        in section
    )
    assert 'alt="mentions per emotion, negative in red"' in section


def test_report_sets_review_ratings_beside_the_social_negative_share(report) -> None:
    """Issue 14: daily average rating and 1-2 star share beside social negative share;
    reviews do not count in the social share."""
    path, mentions = report
    html = path.read_text(encoding="utf-8")
    social = [m for m in mentions if m.kind != "review"]
    reviews = [m for m in mentions if m.kind == "review"]
    share = sum(m.sentiment.label == "negative" for m in social) / len(social)
    assert f'Negative share (social)</div><div class="value">{share * 100:.1f}%' in html
    low = sum(m.review.rating <= 2 for m in reviews)
    average = sum(m.review.rating for m in reviews) / len(reviews)
    low_share = low / len(reviews) * 100
    assert f"{len(reviews)} rated reviews, average {average:.2f} stars, {low_share:.1f}%" in html
    last_day = (START + timedelta(days=6)).strftime("%Y-%m-%d")
    row = html.split(f"<td>{last_day}</td>")[1].split("</tr>")[0]
    assert "2.00" in row and "75.0%" in row  # three 1-star reviews and one 5-star that day


def test_report_escapes_user_text_and_loads_nothing(report) -> None:
    html = report[0].read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; refund &amp; &#34;late&#34;" in html
    assert "Northwind &lt;Coffee&gt; &amp; Co" in html
    assert "javascript:" not in html
    parser = Resources()
    parser.feed(html)
    assert parser.loads and all(url.startswith("data:image/png;base64,") for url in parser.loads)
    assert parser.links and all(link.startswith("https://") for link in parser.links)
    assert not parser.tags & {"script", "iframe", "object", "embed", "link"}
    assert "default-src 'none'" in html


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(_chromium() is None, reason="chromium not installed (apt-get install -y chromium)")
def test_report_renders_in_headless_chromium(report, tmp_path) -> None:
    from PIL import Image

    path, _ = report
    png = tmp_path / "report.png"
    subprocess.run(
        [
            _chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'chromium'}",
            "--window-size=1200,2600",
            f"--screenshot={png}",
            path.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    image = Image.open(png).convert("RGB")
    assert image.size == (1200, 2600)
    small = image.resize((120, 260))
    colors = small.getcolors(maxcolors=120 * 260) or []
    assert len(colors) > 50  # not a blank page
    reds = sum(n for n, (r, g, b) in colors if r > 150 and g < 90 and b < 80)
    assert reds > 0  # the negative bars (#c0392b) were drawn
