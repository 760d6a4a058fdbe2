"""Rating-drop e-mails and the social e-mail's reviews line (alerts/email_render.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from alerts.email_render import AlertContent, ReviewsFollowing, render_email

END = datetime(2026, 11, 12, 15, 0, tzinfo=UTC)


def _content(**kw) -> AlertContent:
    base = AlertContent(
        brand="northwind-coffee",
        brand_title="Northwind Coffee",
        event="open",
        episode_id="northwind-coffee:20261112T0930Z",
        event_key="open",
        window_start=END - timedelta(hours=1),
        window_end=END,
        negatives=42,
        expected_negatives=6.0,
        share=0.6,
        expected_share=0.2,
        fired_on=("count",),
    )
    return replace(base, **kw)


def _parts(content: AlertContent) -> tuple[str, str, str]:
    msg = render_email(content, "a@b.test", ["c@d.test"])
    text, html = (p.get_content() for p in msg.iter_parts())
    return msg["Subject"], text, html


def test_social_email_shows_the_reviews_line_only_when_reviews_follow():
    subject, text, html = _parts(_content())
    assert "1-2 star reviews" not in text + html and "Negative mentions: 42 in the last hour" in text
    following = ReviewsFollowing(low=9, expected=2.2)
    assert following.line == "1-2 star reviews: 9 in the last 24 h vs 2 expected"
    subject2, text, html = _parts(_content(reviews_following=following))
    assert subject2 == subject
    assert "App reviews:       1-2 star reviews: 9 in the last 24 h vs 2 expected" in text
    assert 'id="reviews-following"' in html and "9 in the last 24 h vs 2 expected" in html
    assert ReviewsFollowing(low=6, expected=0.1).line.endswith("vs fewer than 1 expected")


def test_rating_drop_email_speaks_of_reviews():
    content = _content(
        source="reviews",
        episode_id="northwind-coffee:reviews:20261112T1400Z",
        window_start=END - timedelta(hours=6),
        negatives=31,
        expected_negatives=3.5,
    )
    subject, text, html = _parts(content)
    assert subject == (
        "[brandpulse] Northwind Coffee: rating drop – 31 1-2 star reviews in the last 6 hours vs 3.5 expected"
    )
    assert "Northwind Coffee's app rating is dropping: 31 reviews with 1-2 stars" in text
    assert "1-2 star reviews:  31 in the last 6 hours (expected 3.5)" in text
    assert "1-2 star share:    60% (expected 20%)" in text
    assert "1-2 star reviews in the last 6 hours" in html and "Negative mentions" not in html
    resolved = _parts(replace(content, event="resolve"))[1]
    assert "1-2 star reviews of Northwind Coffee's app are back to normal" in resolved
