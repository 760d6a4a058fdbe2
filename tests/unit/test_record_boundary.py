"""The Mention record boundary: valid UTF-8 everywhere, ids that Elasticsearch takes."""

import json

import pytest
from pydantic import ValidationError

from brandpulse.core.mention import MAX_ID_BYTES, Author, Mention, Topic, clean_strings


def make(**kw):
    return Mention(
        **{"platform": "x", "native_id": "1", "created_at": "2026-11-02T10:00:00Z", "text": "acme", **kw}
    )


def all_strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from all_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from all_strings(v)


def test_lone_surrogates_become_replacement_characters_in_every_nested_string():
    m = make(
        text="a\udfffb",
        author={"handle": "h\ud800", "display_name": "\udc80name"},
        thread={"subreddit": "s\udfff"},
        brands=["acme\udfff"],
        matched_terms=["t\ud83d"],
        topics=[{"id": "1", "label": "l\udfff", "keywords": ["k\udfff"]}],
    )
    assert m.text == "a\ufffdb" and m.author.handle == "h\ufffd" and m.author.display_name == "\ufffdname"
    assert m.thread.subreddit == "s\ufffd" and m.brands == ["acme\ufffd"] and m.matched_terms == ["t\ufffd"]
    assert m.topics[0].label == "l\ufffd" and m.topics[0].keywords == ["k\ufffd"]
    doc = m.to_document()
    for value in all_strings(doc):
        value.encode("utf-8")  # strict: raises on any surrogate left
    json.dumps(doc, ensure_ascii=False).encode("utf-8")
    assert m.model_dump_json()


def test_nested_models_built_on_their_own_are_clean_too():
    assert Author(handle="x\udfff").handle == "x\ufffd"
    assert Topic(id="1", label="\ud800").label == "\ufffd"


def test_copies_that_skip_validation_are_cleaned_on_the_way_out():
    m = make().model_copy(update={"text": "z\udfff", "author": Author.model_construct(handle="\udfff")})
    doc = m.to_document()
    assert doc["text"] == "z\ufffd" and doc["author"]["handle"] == "\ufffd"


def test_valid_pairs_and_other_unicode_are_untouched():
    text = "acme 😀 \u202e\u200b é 中文 \u0000"
    assert make(text=text).text == text


def test_an_id_with_a_lone_surrogate_is_refused_not_repaired():
    with pytest.raises(ValidationError, match="lone surrogate"):
        make(native_id="a\udfff")


def test_ids_over_elasticsearchs_512_bytes_are_refused():
    make(native_id="a" * (MAX_ID_BYTES - 2))  # "x:" + 510 = 512 bytes
    with pytest.raises(ValidationError, match="513 bytes"):
        make(native_id="a" * (MAX_ID_BYTES - 1))
    with pytest.raises(ValidationError, match="limited to 512 bytes"):
        make(native_id="€" * 171)  # 171 characters, 513 bytes


@pytest.mark.parametrize("field", ["likes", "reposts", "replies", "views", "score"])
def test_counts_beyond_elasticsearch_long_are_refused(field):
    with pytest.raises(ValidationError):
        make(engagement={field: 2**63})


def test_clean_strings_is_bounded():
    deep: list = []
    for _ in range(100):
        deep = [deep]
    with pytest.raises(ValueError, match="nested"):
        clean_strings(deep)
