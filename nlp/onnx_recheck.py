"""Close calls of an int8 graph, scored again in fp32.

int8 rounding moves only the texts that sit near a class boundary (about 1-2% of
them for the default model). An int8 directory exported with a recheck margin
keeps the fp32 sentiment graph beside the int8 one (``recheck.onnx``); every text
whose two best blended probabilities lie closer than the margin is scored again
by it, so nearly all answers are fp32's (1 label of 10,935 differed on the
validation files at margin 0.2) at the cost of re-running that share. The fp32
graph reads every tensor the int8 one has unchanged (the word embeddings above
all) from the int8 ``weights.bin``; only its own weights go to ``recheck.bin``
(82 MB, where a copy would be 470). In memory the second session still adds
200-500 MB of peak RSS, mostly the embeddings' file pages counted once per
session that maps them (nlp/README.md, "Close calls in fp32").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nlp.onnx_graph import save_graph

RECHECK_FILE = "recheck.onnx"
RECHECK_WEIGHTS = "recheck.bin"


def close_calls(probs: np.ndarray, margin: float) -> np.ndarray:
    """Indices of the rows whose best and second-best probabilities differ by less than ``margin``."""
    if probs.shape[1] < 2:
        return np.zeros(0, dtype=np.int64)
    top = np.sort(probs, axis=1)
    return np.flatnonzero(top[:, -1] - top[:, -2] < margin)


def _external(tensor) -> dict[str, str]:
    return {entry.key: entry.value for entry in tensor.external_data}


def write_recheck_graph(fp32_graph: Path, int8_graph: Path) -> Path:
    """Write ``recheck.onnx`` next to ``int8_graph``: the graph ``fp32_graph``, whose
    tensors equal to one of ``int8_graph``'s (name, shape, type and bytes) point into
    that graph's weights file; the others are written to ``recheck.bin``."""
    import onnx
    from onnx.external_data_helper import set_external_data

    out = Path(int8_graph).parent
    quantised = onnx.load(str(int8_graph), load_external_data=False)
    theirs = {t.name: t for t in quantised.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL}
    model = onnx.load(str(fp32_graph))
    for tensor in model.graph.initializer:
        other = theirs.get(tensor.name)
        if other is None or list(other.dims) != list(tensor.dims) or other.data_type != tensor.data_type:
            continue
        where = _external(other)
        offset, length = int(where.get("offset", 0)), int(where["length"])
        with open(out / where["location"], "rb") as weights:
            weights.seek(offset)
            if weights.read(length) != tensor.raw_data:
                continue
        set_external_data(tensor, where["location"], offset=offset, length=length)
        tensor.data_location = onnx.TensorProto.EXTERNAL
        tensor.ClearField("raw_data")
    # tensors already pointing into the int8 weights carry no raw data and are left as they are
    return save_graph(model, out / RECHECK_FILE, RECHECK_WEIGHTS)
