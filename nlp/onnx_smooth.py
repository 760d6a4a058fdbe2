"""SmoothQuant-style scaling of an exported graph before dynamic int8 quantisation.

Dynamic int8 gives each activation tensor one scale per batch, so a few channels
with large values (e5 has them: LayerNorm outputs up to 44, GELU outputs up to
69, against a median channel maximum near 1.3) leave the other channels a few
levels each. Smoothing (Xiao et al. 2023, "SmoothQuant") divides each input
channel ``j`` of a MatMul's activations by ``s_j`` and multiplies row ``j`` of its
weight by ``s_j``: the float result is unchanged, and part of the range moves
into the weights, which are quantised per output channel. With
``s_j = max|X_j| ** alpha / max|W_j| ** (1 - alpha)`` the activation maxima come
from calibration texts run through the fp32 graph.

Every MatMul whose second input is a 2-D weight is smoothed, unless ``skip``
names its input; those reading the same activations (query, key and value)
share one scale and one inserted ``Mul`` node. The ``Mul`` is kept explicit
rather than folded into the LayerNorm before it, because in a post-LN encoder
that LayerNorm also feeds the residual path.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nlp.onnx_graph import save_graph, weight_matmuls
from nlp.onnx_sentiment import INPUTS, MODEL_FILE, OnnxSentiment

SUFFIX = "_smoothed"


def read_calibration(path: Path, limit: int = 512, seed: int = 0) -> list[str]:
    """Up to ``limit`` texts of ``path`` (JSON lines with a ``text`` field, else one text a line),
    an even random sample (fixed ``seed``) when it holds more."""
    import json
    import random

    lines = [(n, line) for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1)]
    lines = [(n, line) for n, line in lines if line.strip()]
    if Path(path).suffix != ".jsonl":
        texts = [line for _, line in lines]
    else:
        texts = []
        for n, line in lines:
            try:
                texts.append(str(json.loads(line)["text"]))
            except (ValueError, KeyError, TypeError) as error:
                raise ValueError(f"{path}:{n}: expected a JSON object with a 'text' field") from error
    if not texts:
        raise ValueError(f"{path}: no calibration texts in it")
    return random.Random(seed).sample(texts, limit) if len(texts) > limit else texts


def activation_maxima(fp32_dir: Path, texts: Sequence[str], batch_size: int = 16) -> dict[str, np.ndarray]:
    """Per-channel ``max |x|`` of every smoothed MatMul's input over ``texts`` (padding excluded)."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    if not texts:
        raise ValueError("smoothing needs calibration texts (--calibration FILE)")
    reader = OnnxSentiment(fp32_dir, threads=1)
    model = onnx.load(str(Path(fp32_dir) / MODEL_FILE))
    names = list(weight_matmuls(model.graph))
    model.graph.output.extend(helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in names)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    maxima: dict[str, np.ndarray] = {}
    model_texts = reader.model_texts(list(texts))
    for start in range(0, len(model_texts), batch_size):
        encoded = reader.encode(model_texts[start : start + batch_size])
        real = encoded["attention_mask"].astype(bool)
        values = session.run(names, {k: encoded[k] for k in INPUTS})
        for name, value in zip(names, values, strict=True):
            batch_max = np.abs(value[real]).max(axis=0)
            maxima[name] = np.maximum(maxima[name], batch_max) if name in maxima else batch_max
    return maxima


def smooth(
    source: Path, target: Path, maxima: dict[str, np.ndarray], alpha: float, skip: Sequence[str] = ()
) -> Path:
    """Write ``source`` with every weight MatMul smoothed (same float outputs) to ``target``,
    but those whose input's name contains one of ``skip`` (``act_fn``: the FFN-out projections)."""
    import onnx
    from onnx import helper, numpy_helper

    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"smoothing alpha must lie in [0, 1], got {alpha}")
    model = onnx.load(str(source))
    graph = model.graph
    tensors = {t.name: t for t in graph.initializer}
    inserted: dict[str, object] = {}  # activation name -> its Mul node
    for name, nodes in weight_matmuls(graph).items():
        if any(p in name for p in skip):
            continue
        if name not in maxima:
            raise ValueError(f"no calibration maximum for {name!r}: calibrate on the same graph")
        weights = [numpy_helper.to_array(tensors[n.input[1]]) for n in nodes]
        weight_max = np.max([np.abs(w).max(axis=1) for w in weights], axis=0)
        scale = np.maximum(maxima[name], 1e-5) ** alpha / np.maximum(weight_max, 1e-5) ** (1 - alpha)
        scale = np.maximum(scale, 1e-5).astype(np.float32)
        for node, weight in zip(nodes, weights, strict=True):
            tensors[node.input[1]].CopyFrom(numpy_helper.from_array(weight * scale[:, None], node.input[1]))
            node.input[0] = name + SUFFIX
        divisor = numpy_helper.from_array((1.0 / scale).astype(np.float32), name + SUFFIX + "_inverse_scale")
        graph.initializer.append(divisor)
        inserted[name] = helper.make_node("Mul", [name, divisor.name], [name + SUFFIX], name=name + SUFFIX)
    ordered = [inserted.pop(i.name) for i in graph.input if i.name in inserted]
    for node in graph.node:
        ordered.append(node)
        ordered += [inserted.pop(out) for out in node.output if out in inserted]
    if inserted:
        raise ValueError(f"activations with no producing node: {sorted(inserted)}")
    del graph.node[:]
    graph.node.extend(ordered)
    return save_graph(model, target)
