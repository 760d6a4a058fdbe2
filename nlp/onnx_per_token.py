"""Dynamic int8 with one activation scale per token, written as plain ONNX operators.

ONNX Runtime's ``quantize_dynamic`` gives a MatMul's whole input (every token of
every text in the batch) one scale, so one token with a large value (e5's GELU
outputs reach 69 where most stay near 1) costs every other token its
resolution. Here each token (row) gets its own range: ``ReduceMin``/``ReduceMax``
over the channels, ``x_q = round(x / scale) + zero_point`` clipped to uint8,
``MatMulInteger`` against int8 weights (symmetric, one scale per output column),
and ``(y_int - zero_point * column_sums(w_q)) * scale * w_scale`` back to float.
A row's zero point is folded into that correction because ONNX Runtime's
``MatMulInteger`` takes a single zero point for its first input. MatMuls reading
the same activations (query, key, value) share one quantised copy of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nlp.onnx_graph import save_graph, weight_matmuls


def quantise_per_token(
    source: Path,
    target: Path,
    *,
    per_channel: bool = True,
    reduce_range: bool = False,
    keep_float: Sequence[str] = (),
    inputs: Sequence[str] = (),
) -> Path:
    """Write ``source`` with every weight MatMul (but ``keep_float`` name matches) per-token int8;
    with ``inputs``, only those whose activation's name contains one of them (the others stay
    float MatMuls, for ONNX Runtime's per-tensor quantisation to take)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(source))
    graph = model.graph
    tensors = {t.name: t for t in graph.initializer}
    levels = 63 if reduce_range else 127  # 7-bit weights: no int16 overflow in AVX2 u8s8 kernels
    constants = [
        numpy_helper.from_array(np.array(0.0, np.float32), "per_token_zero"),
        numpy_helper.from_array(np.array(255.0, np.float32), "per_token_levels"),
        numpy_helper.from_array(np.array(1e-8, np.float32), "per_token_tiny"),
    ]
    before: dict[str, list] = {}  # first MatMul of a group -> nodes that replace the group
    replaced: set[str] = set()
    for name, nodes in weight_matmuls(graph).items():
        nodes = [n for n in nodes if not any(p in n.name for p in keep_float)]
        if not nodes or (inputs and not any(p in name for p in inputs)):
            continue
        a = name + "_per_token"  # prefix of this activation's tensors
        new = [
            helper.make_node("ReduceMin", [name], [a + "_min"], axes=[-1], keepdims=1),
            helper.make_node("ReduceMax", [name], [a + "_max"], axes=[-1], keepdims=1),
            helper.make_node("Min", [a + "_min", "per_token_zero"], [a + "_low"]),
            helper.make_node("Max", [a + "_max", "per_token_zero"], [a + "_high"]),
            helper.make_node("Sub", [a + "_high", a + "_low"], [a + "_range"]),
            helper.make_node("Div", [a + "_range", "per_token_levels"], [a + "_step"]),
            helper.make_node("Max", [a + "_step", "per_token_tiny"], [a + "_scale"]),
            helper.make_node("Div", [a + "_low", a + "_scale"], [a + "_low_steps"]),
            helper.make_node("Round", [a + "_low_steps"], [a + "_minus_zero"]),  # -zero_point
            helper.make_node("Div", [name, a + "_scale"], [a + "_steps"]),
            helper.make_node("Round", [a + "_steps"], [a + "_rounded"]),
            helper.make_node("Sub", [a + "_rounded", a + "_minus_zero"], [a + "_shifted"]),
            helper.make_node(
                "Clip", [a + "_shifted", "per_token_zero", "per_token_levels"], [a + "_clipped"]
            ),
            helper.make_node("Cast", [a + "_clipped"], [a + "_uint8"], to=TensorProto.UINT8),
        ]
        for node in nodes:
            weight = numpy_helper.to_array(tensors[node.input[1]])
            peak = (
                np.abs(weight).max(axis=0) if per_channel else np.full(weight.shape[1], np.abs(weight).max())
            )
            step = (np.maximum(peak, 1e-12) / levels).astype(np.float32)
            quantised = np.clip(np.round(weight / step), -levels, levels).astype(np.int8)
            w = node.input[1] + "_per_token"
            constants += [
                numpy_helper.from_array(quantised, w + "_int8"),
                numpy_helper.from_array(quantised.astype(np.float32).sum(axis=0), w + "_column_sums"),
                numpy_helper.from_array(step, w + "_scale"),
            ]
            m = node.name + "_per_token"
            new += [
                helper.make_node("MatMulInteger", [a + "_uint8", w + "_int8"], [m + "_int32"], name=m),
                helper.make_node("Cast", [m + "_int32"], [m + "_float"], to=TensorProto.FLOAT),
                helper.make_node("Mul", [a + "_minus_zero", w + "_column_sums"], [m + "_offset"]),
                helper.make_node("Add", [m + "_float", m + "_offset"], [m + "_centred"]),
                helper.make_node("Mul", [m + "_centred", a + "_scale"], [m + "_rescaled"]),
                helper.make_node("Mul", [m + "_rescaled", w + "_scale"], [node.output[0]]),
            ]
            replaced.add(node.name)
        before[nodes[0].name] = new
    ordered = []
    for node in graph.node:
        ordered += before.get(node.name, [])
        if node.name not in replaced:
            ordered.append(node)
    del graph.node[:]
    graph.node.extend(ordered)
    used = {i for n in ordered for i in n.input}
    kept = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept + constants)
    return save_graph(model, target)
