"""The alert e-mail: structure, escaping, Kibana link, chart, and a real browser render."""

from __future__ import annotations

import base64
import io
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, unquote, urlsplit

import prison
import pytest
from PIL import Image

from alerts.detector import BucketResult
from alerts.email_render import (
    CHART_CID,
    AlertContent,
    Growth,
    Post,
    kibana_discover_url,
    render_chart_png,
    render_email,
    subject,
)
from alerts.explain import group_similar

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
EVIL = "<script>alert('x')</script> \"quoted\" & more"


def buckets(count: int = 48) -> list[BucketResult]:
    out = []
    for i in range(count):
        start = T0 + timedelta(minutes=15 * i)
        spike = 36 <= i < 42
        neg = 30 if spike else 3 + i % 3
        out.append(
            BucketResult(
                start=start,
                end=start + timedelta(minutes=15),
                negatives=neg,
                expected=4.0,
                lower=1.0,
                upper=8.0,
                window_negatives=neg,
                window_expected=4.0,
                fired=spike,
            )
        )
    return out


def content(**changes) -> AlertContent:
    start, end = T0 + timedelta(hours=9), T0 + timedelta(hours=10, minutes=30)
    values = dict(
        brand="acme",
        brand_title=f"Acme {EVIL}",
        event="open",
        episode_id="acme:20250303T1800Z",
        event_key="open",
        window_start=start,
        window_end=end,
        negatives=180,
        expected_negatives=24.0,
        share=0.42,
        expected_share=0.12,
        fired_on=["count"],
        details="180 negative mentions in 60 min vs 24.0 expected (7.5x, p=1.0e-40)",
        topics=[Growth("delivery", 40, 5.0), Growth(EVIL, 12, 0.0)],
        terms=[Growth("refund", 30, 3.0)],
        posts=[
            Post(
                text=EVIL,
                platform="x",
                author=f"@{EVIL}",
                url="https://x.com/a/1",
                engagement=900,
                created_at=start,
            ),
            Post(text="second", platform="reddit", author="u/b", url="javascript:alert(1)", engagement=500),
            *[Post(text=f"post {i}", platform="mastodon", engagement=10 - i) for i in range(5)],
        ],
        buckets=buckets(),
        kibana_url=kibana_discover_url("http://kibana.local:5601/", "acme", start, end),
    )
    values.update(changes)
    return AlertContent(**values)


def parts(msg):
    html_part = msg.get_body(("html",))
    text_part = msg.get_body(("plain",))
    images = [p for p in msg.walk() if p.get_content_type() == "image/png"]
    return html_part.get_content(), text_part.get_content(), images


def test_message_has_text_html_and_an_inline_chart():
    msg = render_email(content(), "alerts@example.org", ["a@example.org", "b@example.org"])
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.walk()] == [
        "multipart/alternative",
        "text/plain",
        "multipart/related",
        "text/html",
        "image/png",
    ]
    html, text, images = parts(msg)
    assert images[0]["Content-ID"] == f"<{CHART_CID}>"
    assert f'src="cid:{CHART_CID}"' in html
    assert msg["To"] == "a@example.org, b@example.org"
    assert msg["Message-ID"] == "<acme-20250303T1800Z.open@brandpulse>"
    for body in (html, text):
        assert "180" in body and "24" in body and "42%" in body and "12%" in body
        assert "2025-03-03 18:00" in body and "19:30" in body
        assert "delivery" in body and "refund" in body
    assert "\n" not in msg["Subject"] and "negative spike" in msg["Subject"]


def test_user_text_is_escaped_and_bad_links_dropped():
    html, text, _ = parts(render_email(content(), "alerts@example.org", ["a@example.org"]))
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "&#34;quoted&#34;" in html or "&quot;quoted&quot;" in html
    assert "javascript:" not in html and "javascript:" not in text
    assert 'href="https://x.com/a/1"' in html
    assert html.count("open the post") == 1  # only the http(s) link
    assert "<script>" in text  # plain text shows the post as written


def test_at_most_five_posts_are_shown():
    html, text, _ = parts(render_email(content(), "alerts@example.org", ["a@example.org"]))
    assert "post 2" in html and "post 3" not in html
    assert "post 2" in text and "post 3" not in text


def test_kibana_link_filters_brand_negative_sentiment_and_window():
    start, end = T0, T0 + timedelta(hours=2)
    url = kibana_discover_url("https://kibana.example.org/base/", "acme", start, end)
    parsed = urlsplit(url)
    assert parsed.scheme == "https" and parsed.path == "/base/app/discover"
    state = parse_qs(parsed.fragment.split("?", 1)[1])
    g = prison.loads(unquote(state["_g"][0]))
    a = prison.loads(unquote(state["_a"][0]))
    assert g["time"] == {"from": "2025-03-03T09:00:00.000Z", "to": "2025-03-03T11:00:00.000Z"}
    assert a["dataSource"] == {"dataViewId": "brandpulse-mentions", "type": "dataView"}
    phrases = {f["meta"]["key"]: f["meta"]["params"]["query"] for f in a["filters"]}
    assert phrases == {"brands": "acme", "sentiment.label": "negative"}
    assert all(f["query"]["match_phrase"] for f in a["filters"])


def test_kibana_link_survives_quotes_in_brand_names():
    url = kibana_discover_url("http://k", "o'neil & co", T0, T0 + timedelta(hours=1))
    state = parse_qs(urlsplit(url).fragment.split("?", 1)[1])
    a = prison.loads(unquote(state["_a"][0]))
    assert a["filters"][0]["meta"]["params"]["query"] == "o'neil & co"


def test_chart_is_a_small_png():
    png = render_chart_png(buckets())
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.size == (640, 360)
    assert len(image.convert("L").getcolors()) > 10  # not blank


def test_no_chart_and_no_link_when_missing():
    msg = render_email(content(buckets=(), kibana_url=None), "a@example.org", ["b@example.org"])
    html, _, images = parts(msg)
    assert images == [] and "cid:" not in html and "Kibana" not in html


@pytest.mark.skipif(
    shutil.which("chromium") is None,
    reason="Debian's chromium is not installed "
    "(apt-get install -y chromium) - the browser rendering check needs it",
)
def test_html_renders_in_headless_chromium(tmp_path):
    posts = group_similar(
        [
            Post(text="parcel never arrived, order 1", platform="x", engagement=43),
            Post(text="App crashes at checkout", platform="x", engagement=38),
            Post(text="parcel never arrived, order 2", platform="x", engagement=31),
            Post(text="Refund took 3 weeks", platform="reddit", engagement=16),
        ]
    )
    terms = [Growth("refund", 30, 3.0), Growth("shrunk", 2, 9.0)]
    c = content(posts=posts, terms=terms, brand_title="Northwind Coffee", expected_negatives=1.5)
    msg = render_email(c, "alerts@example.org", ["a@example.org"])
    html, _, images = parts(msg)
    png = images[0].get_payload(decode=True)
    # What a mail client does with the related part: resolve cid: to the image.
    page = html.replace(f"cid:{CHART_CID}", "data:image/png;base64," + base64.b64encode(png).decode())
    source = tmp_path / "alert.html"
    source.write_text(page, encoding="utf-8")
    shot = tmp_path / "alert.png"
    subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            "--window-size=700,1400",
            "--hide-scrollbars",
            source.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=90,
    )
    dom = subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={tmp_path / 'profile-dom'}",
            "--dump-dom",
            source.as_uri(),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=90,
    ).stdout
    # what the browser shows, in order: the headline in words, the same figures
    # as the subject, posts by the interactions beside them, grouped duplicates
    headline = dom.index("far more negative posts than usual")
    assert headline < dom.index("Most-engaged negative posts") < dom.index("Details:")
    assert "p=" not in dom[headline : dom.index("</div>", headline)]
    assert "180 negative posts" in msg["Subject"] and "vs 1.5 expected" in msg["Subject"]
    assert "expected 1.5" in dom
    shown = [dom.index(f"{n} interactions") for n in (43, 38, 16)]
    assert shown == sorted(shown) and "31 interactions" not in dom and "+1 similar" in dom
    assert "refund" in dom and "shrunk" not in dom and "listed for Northwind Coffee" in dom
    image = Image.open(shot).convert("RGB")
    assert image.size == (700, 1400)
    colours = image.getcolors(maxcolors=1_000_000)
    assert colours is not None and len(colours) > 50  # text, badge, chart: not blank
    # The red spike line of the chart made it into the page.
    reds = sum(n for n, (r, g, b) in colours if r > 180 and g < 90 and b < 90)
    assert reds > 200


def test_posts_are_ordered_by_the_figure_shown_and_similar_ones_grouped():
    posts = [
        Post(text="Where is my parcel? Ordered a week ago #northwind", platform="x", engagement=16),
        Post(text="where is my parcel?? ordered a week ago", platform="x", engagement=43),
        Post(text="Refund took 3 weeks, never again", platform="reddit", engagement=31),
        Post(text="Where is my parcel ordered a week ago https://t.co/1", platform="x", engagement=4),
        Post(text="App crashes at checkout", platform="x", engagement=38),
    ]
    ordered = sorted(posts, key=lambda p: -p.engagement)
    grouped = group_similar(ordered)
    assert [p.engagement for p in grouped] == [43, 38, 31]
    assert grouped[0].similar == 2 and grouped[1].similar == 0
    html, text, _ = parts(render_email(content(posts=grouped), "a@example.org", ["b@example.org"]))
    for body in (html, text):
        shown = [body.index(f"{n} interactions") for n in (43, 38, 31)]
        assert shown == sorted(shown)
        assert "+2 similar" in body


def test_headline_in_plain_words_statistics_in_the_details_line():
    html, text, _ = parts(render_email(content(), "a@example.org", ["b@example.org"]))
    c = content()
    assert "p=" not in c.headline and "far more negative posts than usual" in c.headline
    assert "180" in c.headline and "7.5x" in c.headline
    for body in (html, text):
        assert "Details: 180 negative mentions in 60 min" in body
    share = content(fired_on=["share"])
    assert "42%" in share.headline and "12%" in share.headline and "share" in share.headline


def test_subject_and_body_quote_the_same_figures():
    c = content(expected_negatives=1.5, negatives=11)
    msg = render_email(c, "a@example.org", ["b@example.org"])
    html, text, _ = parts(msg)
    assert "11 negative posts" in msg["Subject"] and "vs 1.5 expected" in msg["Subject"]
    for body in (html, text):
        assert "expected 1.5" in body and "11" in body
    assert subject(content(expected_negatives=24.4)).endswith("vs 24 expected")


def test_only_terms_that_grew_and_the_display_name_everywhere():
    c = content(terms=[Growth("refund", 30, 3.0), Growth("shrunk", 2, 9.0)], brand_title="Acme Bikes")
    msg = render_email(c, "a@example.org", ["b@example.org"])
    html, text, _ = parts(msg)
    for body in (html, text):
        assert "refund" in body and "shrunk" not in body
        assert "listed for Acme Bikes" in body
    assert "Acme Bikes" in msg["Subject"]


def test_every_mail_of_an_episode_threads_under_the_first():
    first = render_email(content(), "a@example.org", ["b@example.org"])
    assert first["In-Reply-To"] is None
    later = render_email(
        content(event="escalate", event_key="escalate-1", thread=["open"]), "a@example.org", ["b@example.org"]
    )
    assert later["Message-ID"] == "<acme-20250303T1800Z.escalate-1@brandpulse>"
    assert later["In-Reply-To"] == first["Message-ID"]
    assert later["References"] == first["Message-ID"]
    resolved = render_email(
        content(event="resolve", event_key="resolve-1", thread=["open", "escalate-1"]),
        "a@example.org",
        ["b@example.org"],
    )
    assert resolved["References"].split() == [first["Message-ID"], later["Message-ID"]]
    assert "back to normal" in resolved.get_body(("plain",)).get_content()
