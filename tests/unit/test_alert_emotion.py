"""The alert e-mail's emotion line: anger share and top emotion among negatives, escaped,
absent without emotion."""

from __future__ import annotations

from alerts.email_render import NegativeEmotion, render_email
from tests.unit.test_alert_email import content, parts


def test_anger_share_and_top_emotion_in_both_parts():
    emo = NegativeEmotion(negatives=40, with_emotion=30, counts=(("sadness", 15), ("anger", 12), ("fear", 3)))
    assert emo.line == "40% anger, most often sadness (50%); 30 of 40 negative mentions carry an emotion"
    html, text, _ = parts(
        render_email(content(negative_emotion=emo), "alerts@example.org", ["a@example.org"])
    )
    assert f"Emotion:           {emo.line}" in text
    assert f"Emotion of the negative mentions: {emo.line}" in html


def test_anger_on_top_is_said_once():
    emo = NegativeEmotion(negatives=10, with_emotion=10, counts=(("anger", 7), ("sadness", 3)))
    assert emo.line.startswith("70% anger, the most frequent emotion;")


def test_labels_are_escaped_in_html():
    emo = NegativeEmotion(negatives=2, with_emotion=2, counts=(("<b>x</b>", 2),))
    html, _, _ = parts(render_email(content(negative_emotion=emo), "alerts@example.org", ["a@example.org"]))
    assert "most often &lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html


def test_nothing_said_without_emotion():
    html, text, _ = parts(render_email(content(), "alerts@example.org", ["a@example.org"]))
    assert "Emotion" not in text and "negative-emotion" not in html
