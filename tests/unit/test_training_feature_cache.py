"""The frozen-layer feature cache is keyed on the warm-start tensors below the cut, no others."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from nlp import e5_sentiment
from nlp.training.transformer import TrainSettings, _below_cut, _init_id


def _delta(tmp_path: Path, name: str, layers: dict[int, float]) -> str:
    out = tmp_path / name
    out.mkdir()
    weight = "bert.encoder.layer.{}.output.dense.weight"
    tensors = {weight.format(i): np.full((2, 2), v, np.float16) for i, v in layers.items()}
    tensors["classifier.weight"] = np.full((3, 2), sum(layers.values()), np.float16)
    save_file(tensors, str(out / e5_sentiment.DELTA_FILE))
    return str(out)


def test_only_tensors_below_the_cut_change_the_key(tmp_path):
    a = _delta(tmp_path, "a", {6: 1.0, 7: 1.0, 8: 1.0, 9: 1.0})
    b = _delta(tmp_path, "b", {6: 1.0, 7: 1.0, 8: 5.0, 9: 5.0})  # differs only above cut 8
    c = _delta(tmp_path, "c", {6: 1.0, 7: 2.0, 8: 1.0, 9: 1.0})  # differs in layer 7

    key_a, key_b, key_c = (_init_id(TrainSettings(cut_layer=8, init_from=d)) for d in (a, b, c))
    assert key_a == key_b != key_c
    assert key_a != ""
    # at cut 6 every stored tensor is trained, so the frozen part is the base's alone
    assert {_init_id(TrainSettings(cut_layer=6, init_from=d)) for d in (a, b, c)} == {""}
    assert _init_id(TrainSettings(cut_layer=8)) == ""


def test_below_cut_reads_layer_numbers_not_prefixes():
    assert _below_cut("bert.encoder.layer.7.attention.self.query.weight", 8)
    assert not _below_cut("bert.encoder.layer.10.attention.self.query.weight", 8)
    assert not _below_cut("bert.encoder.layer.1.attention.self.query.weight", 1)
    assert _below_cut("bert.embeddings.word_embeddings.weight", 6)
    assert not _below_cut("bert.pooler.dense.weight", 6)
    assert not _below_cut("classifier.weight", 6)


def test_the_cache_keeps_the_most_recently_used_files(tmp_path):
    import os

    from nlp.training.transformer import FEATURE_FILES_KEPT, prune_features

    files = [tmp_path / f"lower-{i}.npz" for i in range(FEATURE_FILES_KEPT + 2)]
    for age, f in enumerate(files):
        f.write_bytes(b"x")
        os.utime(f, (1_000_000 + age, 1_000_000 + age))  # the last written is the newest
    os.utime(files[0], (2_000_000, 2_000_000))  # ... but the first was just read again
    (tmp_path / "lower-partial.tmp.npz").write_bytes(b"x")  # a run still writing

    removed = prune_features(tmp_path)
    assert sorted(removed) == sorted(files[1:3])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [files[0].name, *(f.name for f in files[3:]), "lower-partial.tmp.npz"]
    )
