"""Commands of the NLP package (mounted into the ``brandpulse`` CLI).

``train-sentiment`` trains the offline default model, ``eval-sentiment`` scores
any model on labelled JSONL and prints a confusion matrix followed by one JSON
summary line, ``export-onnx`` writes the model for the torch-free ``onnx``
backend, ``detect-language`` is a small helper for checks.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="NLP enrichment: sentiment training and evaluation, language id.", no_args_is_help=True
)

FilesArg = Annotated[list[Path] | None, typer.Argument(help="More labelled JSONL files.", show_default=False)]


def _files(option: list[Path] | None, extra: list[Path] | None) -> list[Path]:
    files = [*(option or []), *(extra or [])]
    for path in files:
        if not path.is_file():
            raise typer.BadParameter(f"{path} is not a file")
    return files


@app.command("train-sentiment")
def train_sentiment(
    out: Annotated[Path, typer.Option("--out", "-o", help="Model directory to write.")],
    data: Annotated[list[Path] | None, typer.Option("--data", help="Labelled JSONL {text, label}.")] = None,
    more: FilesArg = None,
    eval_files: Annotated[list[Path] | None, typer.Option("--eval", help="JSONL to evaluate on.")] = None,
    eval_by_language: Annotated[
        list[Path] | None,
        typer.Option(
            "--eval-by-language", help="Folder of <language>/val.jsonl to evaluate on (repeatable)."
        ),
    ] = None,
    emotion_data: Annotated[
        list[Path] | None,
        typer.Option("--emotion-data", help="Emotion JSONL {text, labels}: trains an emotion head."),
    ] = None,
    eval_emotion: Annotated[
        list[Path] | None,
        typer.Option("--eval-emotion", help="Emotion JSONL to evaluate the emotion head on."),
    ] = None,
    eval_emotion_cap: Annotated[
        int | None,
        typer.Option(help="Score at most this many rows per emotion file (a fixed random sample)."),
    ] = None,
    init_from: Annotated[
        Path | None, typer.Option("--init-from", help="Warm start from this model directory's weights.")
    ] = None,
    max_per_source: Annotated[
        int | None, typer.Option(help="Keep at most this many examples per training file (random, seeded).")
    ] = None,
    cap: Annotated[
        list[str] | None,
        typer.Option("--cap", help="GLOB=N: at most N examples from each file whose path matches GLOB."),
    ] = None,
    emotion_weight: Annotated[float, typer.Option(help="Weight of the emotion loss.")] = 0.5,
    name: str = "e5-sentiment",
    version: str = "2.2.0",
    epochs: int = 2,
    cut_layer: Annotated[int, typer.Option(help="Layers below this stay frozen.")] = 6,
    threads: int = 1,
    seed: int = 13,
    min_per_source: Annotated[
        int, typer.Option(help="Repeat smaller files up to this many examples per epoch.")
    ] = 6000,
    class_balance: Annotated[
        str,
        typer.Option(help="Balance classes over all files pooled ('global') or within each file ('source')."),
    ] = "global",
    char_ngrams: Annotated[
        bool, typer.Option(help="Also train the character n-gram model and its blend weights.")
    ] = True,
    encoder_from: Annotated[
        Path | None,
        typer.Option(
            "--encoder-from",
            help="Reuse the transformer of an earlier run (same data, seed and settings) "
            "and train only the character n-gram stage.",
        ),
    ] = None,
    calibrate: Annotated[
        bool, typer.Option(help="Tune class logit offsets on the held-out training slice.")
    ] = True,
    blend_rows: Annotated[
        int,
        typer.Option(
            help="Per training file, at most this many rows no transformer stage trained on "
            "choose the char blend weights (kept out of the char model's training)."
        ),
    ] = 500,
) -> None:
    """Fine-tune the offline default model on labelled JSONL; write it with a model card."""
    import logging

    from tqdm import tqdm

    from nlp import e5_sentiment
    from nlp.training.emotion_data import read_emotion_many
    from nlp.training.labelled import read_many
    from nlp.training.model_card import describe_data, describe_emotion_data, write_card
    from nlp.training.transformer import TrainSettings, cap_per_source, train

    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s", stream=sys.stderr)
    files = _files(data, more)
    if not files:
        raise typer.BadParameter("give at least one --data file")
    all_examples = read_many(files)
    settings = TrainSettings(
        init_from=str(init_from) if init_from else None,
        max_examples_per_source=max_per_source,
        caps=tuple(_parse_cap(c) for c in cap or []),
        emotion_weight=emotion_weight,
        epochs=epochs,
        cut_layer=cut_layer,
        threads=threads,
        seed=seed,
        min_examples_per_source=min_per_source,
        calibrate=calibrate,
        class_balance=class_balance,
        char_ngrams=char_ngrams,
    )
    examples = cap_per_source(all_examples, settings)
    emotion_files = _files(emotion_data, None)
    emotion_examples = cap_per_source(read_emotion_many(emotion_files), settings)
    bars: dict[str, tqdm] = {}

    def progress(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage) or bars.setdefault(stage, tqdm(total=total, desc=stage, file=sys.stderr))
        bar.update(done - bar.n)

    if encoder_from is not None:
        result, history_from = _reuse_encoder(
            encoder_from, examples, settings, name, version, out, len(emotion_examples)
        )
    else:
        result = train(examples, name, version, settings, progress, emotion_examples)
        for bar in bars.values():
            bar.close()
        e5_sentiment.save(result.model, result.spec, out)
        typer.echo(json.dumps({"saved": str(out), "holdout": result.holdout_scores}), err=True)
        history_from = None
    blend = None
    from nlp.char_ngrams import FILE as CHAR_FILE

    (out / CHAR_FILE).unlink(missing_ok=True)  # a stale one from an earlier run in this directory
    if settings.char_ngrams:
        from nlp.training.char import add_char_ngrams, blend_slice, char_rows

        typer.echo("training the character n-gram model and choosing blend weights ...", err=True)
        seen, lineage = _transformer_seen(files, all_examples, examples, result, settings, encoder_from)
        rows = blend_slice(all_examples, seen, blend_rows, settings.seed)
        # the char model learns from every 3-class row outside the blend slice (caps apply to the transformer)
        char_examples = char_rows(all_examples, rows)
        blend = add_char_ngrams(out, rows, char_examples, all_examples)
        blend.update(lineage=lineage, per_file=blend_rows)
    evaluations = _evaluate_new(out, eval_files or [], eval_by_language or [])
    if eval_emotion:
        try:
            from nlp.training.emotion_eval import choose_emotion_languages, evaluate_emotion_files

            evaluations["emotion"] = evaluate_emotion_files(out, _files(eval_emotion, None), eval_emotion_cap)
            choose_emotion_languages(out, evaluations["emotion"])
        except Exception as exc:  # the trained model is saved; report and keep the card
            logging.getLogger(__name__).exception("emotion evaluation failed")
            evaluations["emotion_error"] = repr(exc)
    args = sys.argv[sys.argv.index("train-sentiment") + 1 :] if "train-sentiment" in sys.argv else []
    command = "brandpulse train-sentiment " + " ".join(shlex.quote(_portable(a)) for a in args)
    write_card(
        out,
        spec=e5_sentiment.ModelSpec.read(out),
        settings=settings,
        data=describe_data(files, examples),
        history=result.history,
        evaluations=evaluations,
        seconds=result.seconds,
        command=command,
        n_train=result.n_train,
        n_holdout=result.n_holdout,
        blend=blend,
        transformer_from=history_from,
        emotion_data=describe_emotion_data(emotion_files, emotion_examples),
    )
    typer.echo(
        json.dumps(
            {
                "out": str(out),
                "train_seconds": result.seconds,
                "holdout": result.holdout_scores,
                "blend": blend,
                "evaluations": evaluations,
            }
        )
    )


def _reuse_encoder(source: Path, examples, settings, name: str, version: str, out: Path, n_emotion: int = 0):
    """A TrainResult-like record for a transformer trained earlier by this command.

    Its weights are copied into ``out`` under the new name and version; the
    held-out split is recomputed (same seed and data give the same split).
    """
    import dataclasses
    import shutil
    from types import SimpleNamespace

    from nlp import e5_sentiment
    from nlp.training.transformer import split_holdout

    metrics = json.loads((source / "metrics.json").read_text())
    recorded = metrics.get("settings", {})
    for key in ("seed", "holdout", "cut_layer", "epochs", "min_examples_per_source", "class_balance"):
        if key in recorded and recorded[key] != getattr(settings, key):
            raise typer.BadParameter(
                f"{source} was trained with {key}={recorded[key]!r}, not {getattr(settings, key)!r}",
                param_hint="--encoder-from",
            )
    hold, fit = split_holdout(len(examples), settings)
    held_emotion = len(split_holdout(n_emotion, settings)[0])  # training holds these out too
    if metrics.get("n_holdout") != len(hold) + held_emotion:
        raise typer.BadParameter(
            f"{source} held out {metrics.get('n_holdout')} examples, this data "
            f"gives {len(hold) + held_emotion}: not the same training files",
            param_hint="--encoder-from",
        )
    out.mkdir(parents=True, exist_ok=True)
    if source.resolve() != out.resolve():
        shutil.copy2(source / e5_sentiment.DELTA_FILE, out / e5_sentiment.DELTA_FILE)
    spec = e5_sentiment.ModelSpec.read(source)
    dataclasses.replace(spec, name=name, version=version, blend=None).write(out)
    result = SimpleNamespace(
        history=metrics.get("holdout_history", []),
        seconds=metrics.get("train_seconds"),
        n_train=metrics.get("n_train"),
        n_holdout=len(hold),
        hold=hold,
        fit=fit,
        holdout_scores=metrics.get("holdout_history", []),
    )
    return result, f"{metrics.get('model')} {metrics.get('version')}"


def _transformer_seen(
    files, all_examples, examples, result, settings, encoder_from: Path | None
) -> tuple[set[str], str]:
    """Texts the transformer (every stage of its warm-start chain) trained on, and how
    that was established. An unknown chain leaves every text but this run's held-out
    slice counted as seen."""
    import logging

    from nlp.training.lineage import UnknownLineage, seen_texts

    try:
        if encoder_from is not None:
            # the encoder was trained by this command with these settings: same warm start
            init = Path(settings.init_from) if settings.init_from else None
            return seen_texts(encoder_from, files, init), "rebuilt from the metrics.json chain"
        seen = {examples[i].text for i in result.fit}
        if settings.init_from:
            seen |= seen_texts(Path(settings.init_from), files)
        return seen, "rebuilt from the metrics.json chain"
    except UnknownLineage as exc:
        logging.getLogger(__name__).warning("blend slice limited to the held-out rows: %s", exc)
        held = {examples[i].text for i in result.hold}
        return {ex.text for ex in all_examples if ex.text not in held}, f"unknown ({exc})"


def _portable(arg: str) -> str:
    """An absolute path argument as a path relative to the working directory (model cards)."""
    if not arg.startswith("/"):
        return arg
    return os.path.relpath(arg)


def _short(path: Path) -> str:
    """``folder/file`` (no machine-specific prefix in model cards)."""
    return f"{path.parent.name}/{path.name}"


def _parse_cap(text: str) -> tuple[str, int]:
    """``GLOB=N`` → (glob, N)."""
    pattern, sep, n = text.rpartition("=")
    if not sep or not pattern or not n.isdigit():
        raise typer.BadParameter(f"--cap wants GLOB=N, not {text!r}")
    return pattern, int(n)


def _evaluate_new(model_dir: Path, files: list[Path], by_language: list[Path]) -> dict:
    from nlp.sentiment import create
    from nlp.training.evaluation import by_language_summary, evaluate, evaluate_by_language
    from nlp.training.labelled import read_jsonl

    if not files and not by_language:
        return {}
    model = create(str(model_dir))
    results = {_short(f): evaluate(model, read_jsonl(f)).summary() for f in files}
    for folder in by_language:
        results[folder.name] = by_language_summary(evaluate_by_language(model, folder))
    return results


@app.command("eval-sentiment")
def eval_sentiment(
    data: Annotated[list[Path] | None, typer.Option("--data", help="Labelled JSONL {text, label}.")] = None,
    more: FilesArg = None,
    model: Annotated[
        str, typer.Option("--model", help="'default', 'vader', a model directory or a Hugging Face id/path.")
    ] = "default",
    by_language: Annotated[
        Path | None,
        typer.Option(
            "--by-language",
            help="Folder of <name>/<split>.jsonl (nested folders too): score each file.",
        ),
    ] = None,
    split: Annotated[str, typer.Option(help="File name under --by-language: <split>.jsonl.")] = "val",
    glob: Annotated[
        str | None,
        typer.Option("--glob", help="Files under --by-language matching this glob instead of --split."),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Score only the first N rows of each file.")
    ] = None,
) -> None:
    """Confusion matrix, then one JSON line: n, macro_recall, macro_f1, accuracy, posts_per_s, labels.

    A file whose labels are a subset (two-class data) is scored over the labels
    present in it: argmax over those labels, macro averages over them; the
    output says so.
    """
    from nlp.sentiment import create
    from nlp.training.evaluation import (
        Evaluation,
        by_language_summary,
        evaluate,
        labelled_files,
        scored_over,
    )
    from nlp.training.labelled import read_jsonl, read_many
    from nlp.training.metrics import format_confusion, sub_matrix

    files = _files(data, more)
    if not files and by_language is None:
        raise typer.BadParameter("give --data FILE or --by-language DIR")
    if glob is not None and by_language is None:
        raise typer.BadParameter("--glob needs --by-language DIR", param_hint="--glob")
    found: dict[str, Path] = {}
    if by_language is not None:
        if not by_language.is_dir():
            raise typer.BadParameter(f"{by_language} is not a folder", param_hint="--by-language")
        try:
            found, skipped = labelled_files(by_language, split, glob)
        except FileNotFoundError as exc:
            raise typer.BadParameter(str(exc), param_hint="--by-language") from exc
        for path in skipped:
            typer.echo(f"skipped {path}: not a sentiment file (no 'label')", err=True)
    scorer = create(model)
    meta: dict[str, object] = {"model": scorer.name, "model_version": scorer.version}
    if precision := getattr(scorer, "precision", None):  # fp32, int8, onnx-int8-recheck-0.2...
        meta["precision"] = precision
    if limit is not None:
        meta["limit"] = limit

    def show(title: str | None, ev: Evaluation) -> None:
        if title:
            typer.echo(f"== {title}")
        typer.echo(scored_over(ev.labels))
        typer.echo(format_confusion(sub_matrix(ev.matrix, ev.labels), ev.labels))
        typer.echo(json.dumps(ev.summary()))

    if by_language is not None:
        results = {}
        for name, path in found.items():
            results[name] = evaluate(scorer, read_jsonl(path, limit))
            show(name, results[name])
        summary = by_language_summary(results)
        if files:
            ev = evaluate(scorer, read_many(files, limit))
            show(", ".join(map(str, files)), ev)
            summary["data"] = ev.summary()
        typer.echo(json.dumps({**summary, **meta}))
        return
    ev = evaluate(scorer, read_many(files, limit))
    typer.echo(scored_over(ev.labels))
    typer.echo(format_confusion(sub_matrix(ev.matrix, ev.labels), ev.labels))
    typer.echo(json.dumps({**ev.summary(), **meta}))


@app.command("export-onnx")
def export_onnx(
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write (model.onnx, tokenizer...).")],
    model_dir: Annotated[
        Path | None, typer.Option("--model-dir", help="Model directory (default: the shipped model).")
    ] = None,
    int8: Annotated[bool, typer.Option("--int8", help="ONNX Runtime dynamic int8 quantisation.")] = False,
    per_channel: Annotated[bool, typer.Option(help="int8: one weight scale per output channel.")] = True,
    reduce_range: Annotated[bool, typer.Option(help="int8: 7-bit weights (CPUs without VNNI).")] = False,
    unsigned: Annotated[bool, typer.Option(help="int8: uint8 weights (u8u8 kernels).")] = False,
    keep_float: Annotated[
        list[str] | None,
        typer.Option("--keep-float", help="int8: MatMul nodes whose name contains this stay float."),
    ] = None,
    smooth: Annotated[
        float | None,
        typer.Option(help="int8: SmoothQuant alpha in [0, 1] (0.7 measured best), needs --calibration."),
    ] = None,
    calibration: Annotated[
        Path | None,
        typer.Option(help="int8 --smooth: texts to calibrate on (.jsonl with a text field, or one a line)."),
    ] = None,
    smooth_skip: Annotated[
        list[str] | None,
        typer.Option(
            "--smooth-skip", help="int8 --smooth: activations whose name contains this stay unscaled."
        ),
    ] = None,
    per_token: Annotated[
        bool, typer.Option("--per-token", help="int8: one activation scale per token, not per tensor.")
    ] = False,
    per_token_input: Annotated[
        list[str] | None,
        typer.Option(
            "--per-token-input", help="int8 --per-token: only activations whose name contains this."
        ),
    ] = None,
    recheck_margin: Annotated[
        float | None,
        typer.Option(
            help="int8: texts whose two best probabilities lie closer than this (0.1 measured) "
            "are scored again by the fp32 graph, kept beside the int8 one."
        ),
    ] = None,
) -> None:
    """Export the sentiment model for the torch-free `onnx` backend (model ref `onnx:DIR`)."""
    from nlp.onnx_export import Int8Options, export
    from nlp.onnx_smooth import read_calibration

    if smooth is not None and (not int8 or calibration is None):
        raise typer.BadParameter("--smooth needs --int8 and --calibration FILE", param_hint="--smooth")
    if smooth is not None and not 0.0 <= smooth <= 1.0:
        raise typer.BadParameter(f"must lie in [0, 1], got {smooth}", param_hint="--smooth")
    if per_token and not int8:
        raise typer.BadParameter("--per-token needs --int8", param_hint="--per-token")
    if per_token_input and not per_token:
        raise typer.BadParameter("needs --per-token", param_hint="--per-token-input")
    if recheck_margin is not None and not int8:
        raise typer.BadParameter("--recheck-margin needs --int8", param_hint="--recheck-margin")
    if recheck_margin is not None and not 0.0 < recheck_margin <= 1.0:
        raise typer.BadParameter(f"must lie in (0, 1], got {recheck_margin}", param_hint="--recheck-margin")
    try:
        texts = read_calibration(calibration) if calibration is not None else []
    except (OSError, ValueError) as error:
        raise typer.BadParameter(str(error), param_hint="--calibration") from error
    options = Int8Options(
        per_channel=per_channel,
        reduce_range=reduce_range,
        unsigned_weights=unsigned,
        keep_float=tuple(keep_float or ()),
        smooth=smooth,
        smooth_skip=tuple(smooth_skip or ()),
        per_token=per_token,
        per_token_inputs=tuple(per_token_input or ()),
        recheck_margin=recheck_margin,
    )
    written = export(out, model_dir, int8=int8, int8_options=options, calibration=texts)
    files = {p.name: p.stat().st_size for p in sorted(written.iterdir())}
    typer.echo(json.dumps({"out": str(written), "model": f"onnx:{written}", "bytes": files}))


@app.command("detect-language")
def detect_language_cmd(texts: Annotated[list[str], typer.Argument(help="Texts to identify.")]) -> None:
    """Print one JSON line per text: lang and confidence."""
    from nlp.language import detect_language

    for text in texts:
        guess = detect_language(text)
        typer.echo(json.dumps({"text": text, "lang": guess.lang, "confidence": guess.confidence}))


if __name__ == "__main__":
    app()
