"""Which rows a warm-started transformer learnt from, rebuilt from its metrics.json chain."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from nlp.training.char import blend_slice
from nlp.training.labelled import read_many
from nlp.training.lineage import UnknownLineage, fitted_texts, seen_texts, sha256_of
from nlp.training.transformer import TrainSettings


def _data(tmp_path: Path, name: str, n: int) -> Path:
    path = tmp_path / name / "train.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps({"text": f"{name} {i}", "label": "neutral"}) + "\n" for i in range(n)))
    return path


def _model(tmp_path: Path, name: str, files: list[Path], settings: TrainSettings) -> Path:
    out = tmp_path / name
    out.mkdir()
    data = [{"file": f"{p.parent.name}/{p.name}", "sha256": sha256_of(p)} for p in files]
    (out / "metrics.json").write_text(json.dumps({"settings": asdict(settings), "data": data}))
    return out


def test_seen_texts_walk_the_warm_start_chain(tmp_path):
    old, new = _data(tmp_path, "old", 40), _data(tmp_path, "new", 60)
    first = TrainSettings(holdout=0.25)
    parent = _model(tmp_path, "parent", [old], first)
    second = TrainSettings(holdout=0.1, caps=(("*new*", 20),), init_from=str(parent))
    child = _model(tmp_path, "child", [old, new], second)

    seen = seen_texts(child, [old, new])
    expected = fitted_texts(read_many([old]), first) | fitted_texts(read_many([old, new]), second)
    assert seen == expected
    assert 10 <= sum(t.startswith("old") for t in seen) < 40  # the parent's held-out rows stay unseen
    assert 14 <= sum(t.startswith("new") for t in seen) < 20  # 20 capped, some of them held out

    rows = blend_slice(read_many([old, new]), seen, per_file=15)
    assert not {ex.text for ex in rows} & seen
    assert sum(ex.text.startswith("new") for ex in rows) == 15


def test_an_unrebuildable_chain_says_why(tmp_path):
    data = _data(tmp_path, "d", 10)
    orphan = _model(tmp_path, "orphan", [data], TrainSettings(init_from=str(tmp_path / "gone")))
    with pytest.raises(UnknownLineage, match="gone"):
        seen_texts(orphan, [data])
    # the warm start found elsewhere (the recorded path was on another machine)
    moved = _model(tmp_path, "moved", [data], TrainSettings())
    assert seen_texts(orphan, [data], init_from=moved) == fitted_texts(read_many([data]), TrainSettings())
    other = _data(tmp_path, "other", 10)
    with pytest.raises(UnknownLineage, match=r"d/train\.jsonl"):
        seen_texts(orphan, [other])
    with pytest.raises(UnknownLineage, match=r"no metrics\.json"):
        seen_texts(tmp_path / "d", [data])
