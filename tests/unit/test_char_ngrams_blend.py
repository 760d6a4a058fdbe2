"""The character n-gram companion model and its blend with the transformer."""

import numpy as np
import pytest

from nlp import blend
from nlp.char_ngrams import CharNgramModel, fit_char_ngrams
from nlp.training.char import file_balanced_weights

LABELS = ("negative", "neutral", "positive")


def _toy():
    words = {
        0: ["bekaar", "ghatiya", "bura"],
        1: ["table", "chair", "kal"],
        2: ["badhiya", "mast", "shandaar"],
    }
    texts, y = [], []
    for label, ws in words.items():
        for i in range(30):
            texts.append(f"{ws[i % 3]} yaar {i}")
            y.append(label)
    return texts, np.array(y)


def test_char_model_learns_spellings_and_round_trips(tmp_path):
    texts, y = _toy()
    model = fit_char_ngrams(texts, y, LABELS, min_df=2)
    pred = model.log_proba(["ekdum bekaar", "mast hai", "chair"]).argmax(1)
    assert pred.tolist() == [0, 2, 1]
    model.save(tmp_path)
    again = CharNgramModel.load(tmp_path)
    assert again.labels == LABELS
    np.testing.assert_allclose(again.log_proba(texts[:5]), model.log_proba(texts[:5]), atol=1e-2)
    assert model.log_proba([]).shape == (0, 3)


def test_rare_ngrams_are_dropped():
    texts, y = _toy()
    model = fit_char_ngrams([*texts, "zzqqxx"], np.append(y, 1), LABELS, min_df=2)
    # an n-gram seen once has idf 0: the text scores like an empty one
    np.testing.assert_allclose(model.log_proba(["zzqqxx"]), model.log_proba([""]), atol=1e-6)


def test_blend_weight_zero_is_the_transformer_and_rows_sum_to_one():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(3), size=5)
    q = rng.dirichlet(np.ones(3), size=5)
    same = blend.blend(np.log(p), np.log(q), ["en"] * 5, {"en": 0.0, "other": 0.5})
    np.testing.assert_allclose(same, p, atol=1e-9)
    mixed = blend.blend(np.log(p), np.log(q), ["other"] * 5, {"en": 0.0, "other": 0.5})
    np.testing.assert_allclose(mixed.sum(1), 1.0)
    assert not np.allclose(mixed, p)


def test_choose_weights_uses_the_char_model_only_where_it_helps():
    rng = np.random.default_rng(1)
    n = 300
    gold = np.tile([0, 1, 2], n // 3)
    groups = ["en"] * (n // 2) + ["other"] * (n // 2)
    sources = ["a"] * (n // 2) + ["b"] * (n // 2)
    good = np.full((n, 3), 0.1)
    good[np.arange(n), gold] = 0.8
    noise = rng.dirichlet(np.ones(3), size=n)
    # transformer right on English, noise elsewhere; char model the other way round
    transformer = np.where(np.array(groups)[:, None] == "en", good, noise)
    char = np.where(np.array(groups)[:, None] == "en", noise, good)
    chosen = blend.choose_weights(np.log(transformer), np.log(char), gold, sources, groups)
    assert chosen["en"]["weight"] == 0.0
    assert chosen["other"]["weight"] > 0.0
    assert chosen["other"]["after"] > chosen["other"]["before"]


def test_a_gain_below_min_gain_keeps_the_transformer():
    gold = np.tile([0, 1, 2], 40)
    transformer = np.full((120, 3), 0.2)
    transformer[np.arange(120), gold] = 0.6
    # two mistakes the char model fixes: +5 points of class-0 recall, +1.67 macro-recall
    transformer[[0, 3]] = [0.2, 0.6, 0.2]
    char = np.full((120, 3), 1 / 3)
    char[[0, 3]] = [0.98, 0.01, 0.01]
    args = (np.log(transformer), np.log(char), gold, ["a"] * 120, ["other"] * 120)
    assert blend.choose_weights(*args, min_gain=1.0)["other"]["weight"] > 0
    assert blend.choose_weights(*args, min_gain=5.0)["other"]["weight"] == 0.0


def test_languages_without_a_weight_share_other():
    p = np.full((2, 3), 1 / 3)
    q = np.log(np.array([[0.8, 0.1, 0.1], [0.8, 0.1, 0.1]]))
    mixed = blend.blend(np.log(p), q, ["en", "fi"], {"en": 0.0, "other": 0.5})
    np.testing.assert_allclose(mixed[0], p[0])
    assert mixed[1, 0] > 0.5
    assert blend.group_names(["en"] * 5 + ["de"] * 2 + ["fi"], min_group_texts=2) == ["de", "en", "other"]


def test_a_file_counts_for_a_language_by_its_share_in_it():
    # file "mixed": 40 of its 200 texts detected as English, where the char model helps it;
    # file "english": 160 of 160 texts in English, where the char model hurts. Mean per file
    # would pick the char model; weighted by share it keeps the transformer.
    n_en, n_mixed = 160, 40
    gold = np.concatenate([np.tile([0, 1], n_en // 2), np.tile([0, 1], n_mixed // 2), np.tile([0, 1], 80)])
    sources = ["english"] * n_en + ["mixed"] * n_mixed + ["mixed"] * 160
    langs = ["en"] * (n_en + n_mixed) + ["hi"] * 160
    right = np.full((len(gold), 3), 0.05)
    right[np.arange(len(gold)), gold] = 0.9
    wrong = np.full((len(gold), 3), 0.05)
    wrong[np.arange(len(gold)), 1 - gold] = 0.9
    english = np.arange(len(gold)) < n_en
    # transformer: right on English except 10%, wrong on the mixed file's English rows
    transformer = np.where(english[:, None], right, wrong)
    transformer[: n_en // 10] = wrong[: n_en // 10]
    char = np.where(english[:, None], wrong, right)
    chosen = blend.choose_weights(np.log(transformer), np.log(char), gold, sources, langs, min_texts=20)
    assert chosen["en"]["weight"] == 0.0
    assert chosen["en"]["files"] == {"english": 160, "mixed": 40}


def test_groups_too_small_to_judge_keep_the_transformer():
    gold = np.array([0, 1, 2])
    logp = np.log(np.full((3, 3), 1 / 3))
    chosen = blend.choose_weights(logp, logp, gold, ["x"] * 3, ["other"] * 3, min_texts=50)
    assert chosen["other"]["weight"] == 0.0 and chosen["other"]["before"] is None


def test_language_groups_and_file_weights():
    assert blend.language_groups(
        [
            "This is clearly an English sentence about coffee.",
            "Das ist eindeutig ein deutscher Satz über Kaffee.",
        ]
    ) == ["en", "de"]
    w = file_balanced_weights(["big"] * 3 + ["small"])
    assert w[3] == pytest.approx(3 * w[0]) and w.mean() == pytest.approx(1.0)


def test_blend_with_char_takes_the_callers_languages():
    texts = ["This is clearly an English sentence about coffee."]
    char = CharNgramModel(
        labels=LABELS,
        idf=np.zeros(2**20, dtype=np.float32),
        coef=np.zeros((3, 2**20)),
        intercept=np.array([5.0, 0.0, 0.0]),
    )
    probs = np.array([[0.1, 0.1, 0.8]], dtype=np.float32)
    weights = {"en": 0.0, "hi": 0.8}
    np.testing.assert_allclose(blend.blend_with_char(probs, texts, char, weights), probs, atol=1e-6)
    told = blend.blend_with_char(probs, texts, char, weights, langs=["hi"])
    assert told[0].argmax() == 0  # the char model's negative wins with the Hindi weight
