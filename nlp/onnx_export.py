"""Export the offline default model to ONNX, for the torch-free ``onnx`` backend.

:func:`export` writes a directory that :class:`nlp.onnx_sentiment.OnnxSentiment`
runs with ONNX Runtime and the ``sentencepiece`` library alone:

* ``model.onnx``: inputs ``input_ids``, ``attention_mask`` (int64, batch x tokens);
  outputs ``sentiment_logits``, ``emotion_logits`` (when the model has the head)
  and ``embedding``, the topic vector (the base e5's last layer, mean pooled,
  L2-normalised) computed from the same cut-layer states, so sentiment, emotion
  and topics stay one pass of the shared lower layers (see :mod:`nlp.embeddings`);
* ``sentiment.onnx``: the same graph without ``embedding`` (ONNX Runtime runs every
  node of a graph whatever outputs are asked for); both read ``weights.bin``;
* ``e5-sentencepiece.model`` (the base e5's tokeniser), ``config.json`` (labels, prefix, blend weights,
  emotion languages, name/version, precision) and ``char_ngrams.npz`` copied.

``int8=True`` writes ONNX Runtime's dynamic quantisation of that graph
(``onnxruntime.quantization.quantize_dynamic``), after SmoothQuant-style scaling
when ``Int8Options.smooth`` is set (:mod:`nlp.onnx_smooth`, calibrated on texts
the caller gives), with the fp32 sentiment graph kept for close calls when
``Int8Options.recheck_margin`` is set (:mod:`nlp.onnx_recheck`). Needs torch and
transformers; the result does not, and :func:`quantise_export` quantises an fp32
directory without them.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from nlp.char_ngrams import FILE as CHAR_FILE
from nlp.e5_tokenizer import TOKENIZER_FILE
from nlp.onnx_graph import save_graph
from nlp.onnx_per_token import quantise_per_token
from nlp.onnx_recheck import RECHECK_FILE, RECHECK_WEIGHTS, write_recheck_graph
from nlp.onnx_sentiment import (
    CONFIG_FILE,
    EMBEDDING,
    INPUTS,
    KIND,
    MODEL_FILE,
    SENTIMENT_FILE,
    WEIGHTS_FILE,
)
from nlp.onnx_smooth import activation_maxima, smooth

OPSET = 17


@dataclass(frozen=True)
class Int8Options:
    """How ``quantize_dynamic`` quantises the graph (``benchmarks/int8_variants.py`` tried the
    same knobs for torch): per-channel weight scales, 7-bit weights (``reduce_range``, avoids
    the u8s8 overflow of AVX2 CPUs without VNNI), unsigned weights (u8u8 kernels), and MatMul
    nodes kept in float by a substring of their name; ``smooth``: the SmoothQuant alpha
    (:mod:`nlp.onnx_smooth`, needs calibration texts), ``None`` for none, and
    ``smooth_skip``: activations left unsmoothed by a substring of their name;
    ``per_token``: one activation scale per token (:mod:`nlp.onnx_per_token`) instead
    of ONNX Runtime's one per tensor, for every activation or, with ``per_token_inputs``,
    those whose name contains one of them (the rest per tensor); ``recheck_margin``: texts
    whose two best probabilities lie closer are scored again by the fp32 graph, kept
    beside the int8 one (:mod:`nlp.onnx_recheck`), ``None`` for int8 alone."""

    per_channel: bool = True
    reduce_range: bool = False
    unsigned_weights: bool = False
    keep_float: tuple[str, ...] = field(default_factory=tuple)
    smooth: float | None = None
    smooth_skip: tuple[str, ...] = field(default_factory=tuple)
    per_token: bool = False
    per_token_inputs: tuple[str, ...] = field(default_factory=tuple)
    recheck_margin: float | None = None


def _graph(network, base_top, cut: int):
    """The exported module: one pass for sentiment, emotion and the topic embedding."""
    import torch

    from nlp.embeddings import mean_pool, run_layers

    class Graph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.network, self.base_top = network, base_top

        def forward(self, input_ids, attention_mask):
            bert = self.network.bert
            hidden = bert.embeddings(input_ids=input_ids)
            # additive mask (batch, 1, 1, tokens): no data-dependent branch to bake into the trace
            mask = (1.0 - attention_mask[:, None, None, :].to(hidden.dtype)) * torch.finfo(hidden.dtype).min
            lower = run_layers(bert.encoder.layer[:cut], hidden, mask)
            pooled = bert.pooler(run_layers(bert.encoder.layer[cut:], lower, mask))
            outputs = [self.network.classifier(pooled)]
            if getattr(self.network, "emotion", None) is not None:
                outputs.append(self.network.emotion(pooled))
            outputs.append(mean_pool(run_layers(self.base_top, lower, mask), attention_mask))
            return tuple(outputs)

    return Graph().eval()


def _spec_json(spec, outputs: list[str]) -> dict[str, Any]:
    raw = asdict(spec)
    raw.update(kind=KIND, source_kind=spec.kind, precision="fp32", outputs=outputs, int8=None)
    return raw


def export(
    out: Path,
    model_dir: Path | None = None,
    *,
    int8: bool = False,
    int8_options: Int8Options | None = None,
    calibration: Sequence[str] = (),
) -> Path:
    """Write the ONNX model directory for ``model_dir`` (default: the shipped model).

    With ``int8``, the fp32 directory is written to a temporary folder first and
    quantised from there (:func:`quantise_export`, ``calibration`` for smoothing).
    """
    if int8:
        with tempfile.TemporaryDirectory() as tmp:
            fp32_dir = export(Path(tmp) / "fp32", model_dir)
            return quantise_export(fp32_dir, out, int8_options or Int8Options(), calibration=calibration)
    import torch

    from nlp import e5_sentiment
    from nlp.embeddings import _base_layers
    from nlp.sentiment import DEFAULT_MODEL_DIR

    model_dir = Path(model_dir or DEFAULT_MODEL_DIR)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer, network, spec = e5_sentiment.load(model_dir, dtype=torch.float32)
    network.config._attn_implementation = "eager"  # plain MatMul/Softmax: ORT fuses them
    base_top = _base_layers(
        range(spec.cut_layer, network.config.num_hidden_layers), network.config, torch.float32
    )
    outputs = ["sentiment_logits"]
    if getattr(network, "emotion", None) is not None:
        outputs.append("emotion_logits")
    outputs.append(EMBEDDING)
    sample = tokenizer(
        [spec.prefix + "an example, long enough to pad the other one", spec.prefix + "ok"],
        padding=True,
        return_tensors="pt",
    )
    dynamic = {name: {0: "batch", 1: "tokens"} for name in INPUTS}
    dynamic |= {name: {0: "batch"} for name in outputs}
    with tempfile.TemporaryDirectory() as tmp:
        fp32_path = Path(tmp) / MODEL_FILE
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
            torch.onnx.export(
                _graph(network, base_top, spec.cut_layer),
                (sample["input_ids"], sample["attention_mask"]),
                str(fp32_path),
                input_names=list(INPUTS),
                output_names=outputs,
                dynamic_axes=dynamic,
                opset_version=OPSET,
                dynamo=False,
                do_constant_folding=True,
            )
        write_graphs(fp32_path, out, outputs)
    shutil.copyfile(e5_sentiment_tokenizer(), out / TOKENIZER_FILE)
    if (model_dir / CHAR_FILE).exists():
        shutil.copyfile(model_dir / CHAR_FILE, out / CHAR_FILE)
    (out / CONFIG_FILE).write_text(json.dumps(_spec_json(spec, outputs), indent=2) + "\n")
    return out


Quantiser = Callable[[Path, Path], None]


def quantise_export(
    fp32_dir: Path,
    out: Path,
    options: Int8Options,
    *,
    calibration: Sequence[str] = (),
    quantiser: Quantiser | None = None,
) -> Path:
    """An int8 directory from an fp32 one written by :func:`export` (no torch needed).

    ``quantiser(source, target)`` replaces the dynamic quantisation of ``options``
    (a benchmark's static quantisation, for example); smoothing, when
    ``options.smooth`` is set, runs before either.
    """
    fp32_dir, out = Path(fp32_dir), Path(out)
    config = json.loads((fp32_dir / CONFIG_FILE).read_text())
    if config.get("precision") != "fp32":
        raise ValueError(f"{fp32_dir} holds a {config.get('precision')} graph; quantise an fp32 export")
    margin = options.recheck_margin
    if margin is not None and not 0.0 < margin <= 1.0:
        raise ValueError(f"recheck_margin must lie in (0, 1], got {margin}")
    with tempfile.TemporaryDirectory() as tmp:
        source = fp32_dir / MODEL_FILE
        if options.smooth is not None:
            maxima = activation_maxima(fp32_dir, calibration)
            source = smooth(source, Path(tmp) / "smoothed.onnx", maxima, options.smooth, options.smooth_skip)
        (quantiser or partial(quantise, options=options))(source, Path(tmp) / MODEL_FILE)
        out.mkdir(parents=True, exist_ok=True)
        write_graphs(Path(tmp) / MODEL_FILE, out, config["outputs"])
    for stale in (RECHECK_FILE, RECHECK_WEIGHTS):
        (out / stale).unlink(missing_ok=True)
    if options.recheck_margin is not None:
        write_recheck_graph(fp32_dir / SENTIMENT_FILE, out / SENTIMENT_FILE)
    for name in (TOKENIZER_FILE, CHAR_FILE):
        if (fp32_dir / name).exists():
            shutil.copyfile(fp32_dir / name, out / name)
    config.update(precision="int8", int8=asdict(options), recheck_margin=options.recheck_margin)
    (out / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
    return out


def write_graphs(source: Path, out: Path, outputs: list[str]) -> None:
    """``model.onnx`` and ``sentiment.onnx`` (no ``embedding``) sharing ``weights.bin``."""
    import onnx
    from onnx.utils import Extractor

    (out / SENTIMENT_FILE).unlink(missing_ok=True)
    save_graph(onnx.load(str(source)), out / MODEL_FILE, WEIGHTS_FILE)
    # tensors stay references into weights.bin: the sub-graph is written without copying them
    shared = onnx.load(str(out / MODEL_FILE), load_external_data=False)
    heads = [name for name in outputs if name != EMBEDDING]
    onnx.save_model(Extractor(shared).extract_model(list(INPUTS), heads), str(out / SENTIMENT_FILE))


def e5_sentiment_tokenizer() -> Path:
    """The base e5's SentencePiece model (written next to the dequantised encoder)."""
    from nlp.e5_base import ensure_encoder

    return ensure_encoder() / TOKENIZER_FILE


def quantise(source: Path, target: Path, options: Int8Options) -> None:
    """Dynamic int8 quantisation of the MatMul weights of ``source``: ONNX Runtime's, or
    with ``options.per_token`` :func:`nlp.onnx_per_token.quantise_per_token` (intermediate
    graphs stay in a temporary folder: only ``target`` and its weights are written)."""
    if options.per_token:
        if options.unsigned_weights:
            raise ValueError("per-token int8 uses int8 weights: drop unsigned_weights (--unsigned)")
        per_token = partial(
            quantise_per_token,
            per_channel=options.per_channel,
            reduce_range=options.reduce_range,
            keep_float=options.keep_float,
        )
        only = options.per_token_inputs
        if not only:
            per_token(source, target)
            return
        with tempfile.TemporaryDirectory() as tmp:
            # the MatMuls left float take ONNX Runtime's quantisation, from a graph in tmp
            half = Path(tmp) / "per_token.onnx"
            per_token(source, half, inputs=only)
            _quantise_dynamic(half, target, options)
        return
    _quantise_dynamic(source, target, options)


def _quantise_dynamic(source: Path, target: Path, options: Int8Options) -> None:
    """ONNX Runtime's dynamic int8 for the MatMuls of ``source`` with a float weight."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    keep = kept_matmuls(onnx.load(str(source), load_external_data=False).graph, options.keep_float)
    quantize_dynamic(
        str(source),
        str(target),
        op_types_to_quantize=["MatMul"],
        per_channel=options.per_channel,
        reduce_range=options.reduce_range,
        weight_type=QuantType.QUInt8 if options.unsigned_weights else QuantType.QInt8,
        nodes_to_exclude=keep,
    )


def kept_matmuls(graph, patterns: Sequence[str]) -> list[str]:
    """Names of the MatMul nodes of ``graph`` whose name contains one of ``patterns``."""
    return [n.name for n in graph.node if n.op_type == "MatMul" and any(p in n.name for p in patterns)]
