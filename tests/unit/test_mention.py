from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from brandpulse.core.mention import MAX_TEXT_CHARS, Mention, mention_id


def make(**kw):
    base = {"platform": "x", "native_id": "123", "created_at": "2026-11-02T10:00:00Z", "text": "hi"}
    return Mention.model_validate({**base, **kw})


def test_id_is_platform_and_native_id():
    m = make()
    assert m.id == "x:123" == mention_id("x", "123")
    assert m.to_document()["id"] == "x:123"


def test_created_at_is_normalised_to_utc():
    m = make(created_at=datetime(2026, 11, 2, 12, 0, tzinfo=timezone(timedelta(hours=2))))
    assert m.created_at == datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
    assert make(created_at="2026-11-02T10:00:00").created_at.tzinfo == UTC


@pytest.mark.parametrize(
    "bad",
    [
        {"text": "   "},
        {"text": "x" * (MAX_TEXT_CHARS + 1)},
        {"platform": "X Twitter"},
        {"native_id": ""},
        {"native_id": "a b"},
        {"kind": "story"},
        {"unknown": 1},
        {"created_at": "yesterday"},
    ],
)
def test_invalid_records_are_refused(bad):
    with pytest.raises(ValidationError):
        make(**bad)


def test_text_is_kept_verbatim():
    text = "  <b>Ünïcödé</b> 😀 @someone http://x.co  "
    assert make(text=text).to_document()["text"] == text
