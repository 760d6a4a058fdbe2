"""eval-sentiment: label subsets (argmax over the labels present), nested folders, --split/--glob/--limit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from brandpulse.cli.nlp import app
from nlp.sentiment import SentimentResult
from nlp.training.evaluation import (
    by_language_summary,
    evaluate,
    evaluate_by_language,
    labelled_files,
    restrict,
    scored_over,
)
from nlp.training.labelled import LABELS, Example, labels_present, read_jsonl


class Fixed:
    """A model that gives every text the probabilities stored for it."""

    name = "fixed"
    version = "0"

    def __init__(self, probs: dict[str, dict[str, float]]) -> None:
        self.probs = probs

    def predict(self, texts: list[str]) -> list[SentimentResult]:
        out = []
        for text in texts:
            p = self.probs[text]
            label = max(p, key=p.__getitem__)
            out.append(SentimentResult(label=label, score=p[label], probabilities=p))
        return out


def _write(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"text": t, "label": lab}) + "\n" for t, lab in rows))
    return path


def test_two_class_examples_score_argmax_over_present_labels():
    model = Fixed(
        {
            "a": {"negative": 0.3, "neutral": 0.5, "positive": 0.2},  # neutral; negative among neg/pos
            "b": {"negative": 0.1, "neutral": 0.6, "positive": 0.3},  # neutral; positive among neg/pos
        }
    )
    examples = [Example("a", "negative", "f"), Example("b", "positive", "f")]
    ev = evaluate(model, examples)
    assert ev.labels == ("negative", "positive")
    assert ev.scores["accuracy"] == 100.0 and ev.scores["macro_f1"] == 100.0
    # the same texts scored over all three labels: both predicted neutral
    full = evaluate(model, examples, LABELS)
    assert full.scores["accuracy"] == 0.0
    assert ev.summary()["labels"] == ["negative", "positive"]


def test_labels_present_and_the_line_that_says_so():
    assert labels_present([Example("x", "positive", "f"), Example("y", "negative", "f")]) == (
        "negative",
        "positive",
    )
    assert labels_present([Example("x", "neutral", "f")]) == LABELS  # one label: scored over all
    assert scored_over(("negative", "positive")) == (
        "macro over negative, positive: labels present in the file"
    )
    assert scored_over(LABELS) == "macro over negative, neutral, positive"


def test_restrict_keeps_own_label_without_probabilities():
    bare = SentimentResult(label="neutral", score=1.0)
    assert restrict(bare, ("negative", "positive")) == "neutral"  # counted wrong, not guessed
    assert restrict(bare, LABELS) == "neutral"


def test_walks_nested_folders_and_skips_emotion_files(tmp_path):
    _write(tmp_path / "arabic" / "val.jsonl", [("a", "negative"), ("b", "positive")])
    _write(tmp_path / "binary-15lang" / "bos" / "train.jsonl", [("c", "negative"), ("d", "positive")])
    _write(tmp_path / "binary-15lang" / "bos" / "val.jsonl", [("c", "negative"), ("d", "positive")])
    emo = tmp_path / "emotion" / "val.jsonl"
    emo.parent.mkdir()
    emo.write_text(json.dumps({"text": "x", "labels": ["anger"]}) + "\n")
    found, skipped = labelled_files(tmp_path)
    assert set(found) == {"arabic", "binary-15lang/bos"}
    assert skipped == [emo]
    assert set(labelled_files(tmp_path, split="train")[0]) == {"binary-15lang/bos"}
    by_glob = labelled_files(tmp_path, pattern="binary-15lang/*/*.jsonl")[0]
    assert set(by_glob) == {"binary-15lang/bos/train", "binary-15lang/bos/val"}
    with pytest.raises(FileNotFoundError):
        labelled_files(tmp_path, split="test")


def test_limit_reads_the_first_rows(tmp_path):
    path = _write(tmp_path / "x" / "val.jsonl", [(str(i), "negative") for i in range(10)])
    assert [ex.text for ex in read_jsonl(path, limit=3)] == ["0", "1", "2"]
    model = Fixed({str(i): {"negative": 1.0, "neutral": 0.0, "positive": 0.0} for i in range(10)})
    results = evaluate_by_language(model, tmp_path, limit=4)
    assert results["x"].scores["n"] == 4


def test_pooled_summary_mixes_two_and_three_class_files():
    model = Fixed(
        {
            "p": {"negative": 0.1, "neutral": 0.2, "positive": 0.7},
            "n": {"negative": 0.5, "neutral": 0.4, "positive": 0.1},
            "u": {"negative": 0.2, "neutral": 0.6, "positive": 0.2},
        }
    )
    three = evaluate(
        model, [Example("p", "positive", "a"), Example("n", "negative", "a"), Example("u", "neutral", "a")]
    )
    two = evaluate(model, [Example("p", "positive", "b"), Example("n", "negative", "b")])
    summary = by_language_summary({"three": three, "two": two})
    assert summary["n"] == 5 and summary["accuracy"] == 100.0
    assert summary["labels"] == ["negative", "neutral", "positive"]
    assert summary["languages"]["two"]["labels"] == ["negative", "positive"]


def test_cli_says_which_labels_it_scored(tmp_path):
    data = _write(
        tmp_path / "bin.jsonl", [("I love it, great!", "positive"), ("awful, I hate it", "negative")]
    )
    result = CliRunner().invoke(app, ["eval-sentiment", "--data", str(data), "--model", "vader"])
    assert result.exit_code == 0, result.output
    assert "macro over negative, positive: labels present in the file" in result.output
    assert "neutral" not in result.output.splitlines()[1]  # the matrix has the scored labels only
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["labels"] == ["negative", "positive"] and summary["accuracy"] == 100.0


def test_cli_by_language_split_glob_and_limit(tmp_path):
    rows = [("I love it, great!", "positive"), ("awful, I hate it", "negative"), ("great", "positive")]
    _write(tmp_path / "more" / "binary-15lang" / "eng" / "train.jsonl", rows)
    _write(tmp_path / "more" / "binary-15lang" / "deu" / "train.jsonl", rows)
    _write(tmp_path / "more" / "sinhala" / "val.jsonl", rows)
    root = str(tmp_path / "more")
    run = CliRunner().invoke(
        app, ["eval-sentiment", "--by-language", root, "--split", "train", "--limit", "2", "--model", "vader"]
    )
    assert run.exit_code == 0, run.output
    summary = json.loads(run.output.strip().splitlines()[-1])
    assert set(summary["languages"]) == {"binary-15lang/deu", "binary-15lang/eng"}
    assert summary["n"] == 4 and summary["limit"] == 2
    assert "== binary-15lang/eng" in run.output
    run = CliRunner().invoke(
        app, ["eval-sentiment", "--by-language", root, "--glob", "*/val.jsonl", "--model", "vader"]
    )
    assert run.exit_code == 0, run.output
    assert set(json.loads(run.output.strip().splitlines()[-1])["languages"]) == {"sinhala"}
    run = CliRunner().invoke(
        app, ["eval-sentiment", "--by-language", root, "--split", "test", "--model", "vader"]
    )
    assert run.exit_code != 0 and "no labelled sentiment files" in run.output
