"""Training on mixed data: per-file caps, two-class files, the emotion loss."""

from __future__ import annotations

import numpy as np
import pytest

from nlp.emotion import EMOTIONS
from nlp.training import transformer as training
from nlp.training.emotion_data import EmotionExample
from nlp.training.labelled import LABELS, Example

torch = pytest.importorskip("torch")


def _examples() -> list[Example]:
    three = [Example(f"t{i}", LABELS[i % 3], "/d/xlmt/de/train.jsonl") for i in range(30)]
    two = [
        Example(f"b{i}", ("negative", "positive")[i % 2], "/d/binary-15lang/deu/train.jsonl")
        for i in range(20)
    ]
    return three + two


def test_caps_keep_a_seeded_subset_per_file_in_order_and_globs_win():
    rows = _examples()
    settings = training.TrainSettings(max_examples_per_source=12, caps=(("*binary-15lang*", 5),))
    kept = training.cap_per_source(rows, settings)
    by_source = {s: [r for r in kept if r.source == s] for s in {r.source for r in rows}}
    assert len(by_source["/d/xlmt/de/train.jsonl"]) == 12
    assert len(by_source["/d/binary-15lang/deu/train.jsonl"]) == 5
    assert [rows.index(r) for r in kept] == sorted(rows.index(r) for r in kept)
    assert kept == training.cap_per_source(rows, settings)  # same seed, same subset
    assert training.cap_per_source(rows, training.TrainSettings()) == rows


def test_two_class_files_are_scored_and_trained_over_their_own_labels():
    rows = _examples()
    allowed = training.source_label_masks(rows, LABELS)
    assert allowed[0].tolist() == [True, True, True]
    assert allowed[-1].tolist() == [True, False, True]
    logp = training.masked_log_probs(np.array([[0.0, 5.0, 1.0]]), allowed[-1:])
    assert logp.argmax(1).tolist() == [2] and np.exp(logp).sum() == pytest.approx(1.0)


class _Keep(torch.nn.Module):
    """A linear classifier that keeps its output logits (to read their gradient)."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(4, 3)
        self.out = None

    def forward(self, pooled):
        self.out = self.linear(pooled)
        self.out.retain_grad()
        return self.out


class _Heads(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.classifier = _Keep()
        self.emotion = torch.nn.Linear(4, len(EMOTIONS))


def test_partial_label_loss_ignores_the_neutral_logit_of_two_class_rows_and_adds_emotion():
    rows = _examples()
    emotion_rows = [
        EmotionExample("e0", frozenset({"joy"}), "/d/tweeteval/train.jsonl"),
        EmotionExample("e1", frozenset({"optimism"}), "/d/tweeteval/train.jsonl"),
        EmotionExample("e2", frozenset({"joy", "trust"}), "/d/xed/fi/train.jsonl"),
        EmotionExample("e3", frozenset(), "/d/xed/fi/train.jsonl"),
    ]
    n_s = len(rows)
    y = np.array([LABELS.index(r.label) for r in rows])
    allowed = torch.from_numpy(training.source_label_masks(rows, LABELS))
    single, e_allowed, targets = training._emotion_targets(emotion_rows)
    assert single.tolist() == [True, True, False, False]
    assert e_allowed[0].sum() == 2 and targets[2].sum() == 2 and targets[3].sum() == 0
    emotion = (torch.from_numpy(single), torch.from_numpy(e_allowed), torch.from_numpy(targets))
    heads = _Heads()
    weight = torch.ones(n_s)

    def sentiment_grad(batch):
        heads.zero_grad()
        pooled = torch.randn(len(batch), 4, generator=torch.Generator().manual_seed(1))
        loss = training._batch_loss(heads, pooled, batch, n_s, y, allowed, weight, emotion, 0.5)
        loss.backward()
        return loss, heads.classifier.out.grad

    loss, grad = sentiment_grad([n_s - 1, n_s - 2])  # two-class rows only
    assert torch.isfinite(loss) and grad[:, 1].abs().max() == 0  # neutral is not pushed down
    loss, grad = sentiment_grad([0, 1, n_s, n_s + 2, n_s + 3])  # three-class rows and emotion rows
    assert torch.isfinite(loss) and grad[:, 1].abs().max() > 0
    assert heads.emotion.weight.grad is not None and heads.emotion.weight.grad.abs().sum() > 0


def test_calibration_predicts_two_class_rows_among_their_labels():
    probs = np.array([[0.2, 0.5, 0.3], [0.3, 0.5, 0.2], [0.2, 0.6, 0.2], [0.1, 0.1, 0.8]])
    gold = np.array([2, 0, 1, 2])
    sources = ["bin", "bin", "three", "three"]
    allowed = np.array([[1, 0, 1], [1, 0, 1], [1, 1, 1], [1, 1, 1]], dtype=bool)
    zero = np.array([0.0])
    bias, after = training.calibrate_bias(probs, gold, sources, grid=zero, allowed=allowed)
    assert after == 100.0 and bias.tolist() == [0.0, 0.0, 0.0]
    _, unmasked = training.calibrate_bias(probs, gold, sources, grid=zero)
    assert unmasked == 50.0  # two-class rows predicted neutral count as misses
