"""Helpers the int8 graph rewrites share: which MatMuls carry weights, and writing a graph."""

from __future__ import annotations

from pathlib import Path


def weight_matmuls(graph) -> dict[str, list]:
    """``{activation name: [MatMul nodes reading it with a 2-D weight]}``, in graph order."""
    weights = {t.name for t in graph.initializer if len(t.dims) == 2}
    groups: dict[str, list] = {}
    for node in graph.node:
        if node.op_type == "MatMul" and node.input[1] in weights:
            groups.setdefault(node.input[0], []).append(node)
    return groups


def save_graph(model, target: Path, weights: str | None = None) -> Path:
    """Write ``model`` to ``target`` with its tensors in one file beside it, ``weights``
    (default ``<target name>.data``), replacing both; tensors that already point into
    another file (no raw data) keep pointing there."""
    import onnx

    target = Path(target)
    location = weights or target.name + ".data"
    for stale in (target, target.with_name(location)):
        stale.unlink(missing_ok=True)
    onnx.save_model(
        model,
        str(target),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=location,
        size_threshold=1024,
    )
    target.with_name(location).chmod(0o644)
    return target
