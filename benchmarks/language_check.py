"""Language id on the labelled check, on the validation files, and its speed.

Prints per-language (and per-script) accuracy of ``nlp.language.detect_language``
on ``tests/data/language_check.jsonl`` (hand-written brand posts, romanised,
code-mixed and short ones included) next to py3langid alone, then for each
sentiment validation file the share of texts detected as each language, then
texts/s on 5,000 mixed texts for both (best of ``--repeat``).

Usage: python benchmarks/language_check.py [--n 5000] [--repeat 3]
Data: ``$BRANDPULSE_DATA_DIR`` (default ``../shared/data``; validation splits
only). Without it, the check's texts are repeated for the speed figure.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.shared_data import data_dir  # noqa: E402

CHECK = REPO / "tests" / "data" / "language_check.jsonl"
VAL_FILES = [
    "xlmt-sentiment/arabic",
    "xlmt-sentiment/english",
    "xlmt-sentiment/french",
    "xlmt-sentiment/german",
    "xlmt-sentiment/hindi",
    "xlmt-sentiment/italian",
    "xlmt-sentiment/portuguese",
    "xlmt-sentiment/spanish",
    "more-sentiment/hinglish-sentimix",
    "more-sentiment/sinhala-news",
    "more-sentiment/singlish-youtube",
    "more-sentiment/german-potts",
    "more-sentiment/spanish-tass",
]


def py3langid_alone() -> Callable[[str], str]:
    """The detector before the script layer: py3langid on cleaned text, 0.5 floor."""
    from nlp.language import UNDETERMINED, _identifier, language_text

    ident = _identifier()

    def detect(text: str) -> str:
        cleaned = language_text(text)
        if not any(ch.isalpha() for ch in cleaned):
            return UNDETERMINED
        lang, confidence = ident.classify(cleaned)
        return lang if confidence >= 0.5 else UNDETERMINED

    return detect


def ours() -> Callable[[str], str]:
    from nlp.language import detect_language

    return lambda text: detect_language(text).lang


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]


def check(detectors: dict[str, Callable[[str], str]]) -> dict:
    rows = read(CHECK)
    out: dict[str, dict] = {}
    for name, detect in detectors.items():
        by_lang: dict[str, list[bool]] = defaultdict(list)
        by_variant: dict[str, list[bool]] = defaultdict(list)
        misses = []
        for row in rows:
            got = detect(row["text"])
            ok = got == row["lang"]
            by_lang[row["lang"]].append(ok)
            by_variant[f"{row['lang']}/{row['variant']}"].append(ok)
            if not ok:
                misses.append(f"{row['lang']}/{row['variant']} -> {got}: {row['text'][:60]}")
        total = sum(sum(v) for v in by_lang.values())
        out[name] = {
            "accuracy": f"{total}/{len(rows)}",
            "languages": {k: f"{sum(v)}/{len(v)}" for k, v in sorted(by_lang.items())},
            "variants": {k: f"{sum(v)}/{len(v)}" for k, v in sorted(by_variant.items())},
            "misses": misses,
        }
    return out


def val_shares(data_dir: Path, detect: Callable[[str], str]) -> dict:
    out = {}
    for name in VAL_FILES:
        path = data_dir / name / "val.jsonl"
        if not path.is_file():
            continue
        texts = [row["text"] for row in read(path)]
        counts = Counter(detect(t) for t in texts)
        out[name] = {lang: round(n / len(texts), 3) for lang, n in counts.most_common(4)} | {"n": len(texts)}
    return out


def speed(texts: list[str], detect: Callable[[str], str], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for text in texts:
            detect(text)
        best = min(best, time.perf_counter() - started)
    return round(len(texts) / best, 1)


def mixed_texts(data_dir: Path, n: int, seed: int) -> tuple[list[str], str]:
    pool = [
        row["text"]
        for name in VAL_FILES
        if (data_dir / name / "val.jsonl").is_file()
        for row in read(data_dir / name / "val.jsonl")
    ]
    source = f"{len(VAL_FILES)} validation files under {data_dir}"
    if not pool:
        pool, source = [row["text"] for row in read(CHECK)], "the check's texts, repeated"
    rng = random.Random(seed)
    return [rng.choice(pool) for _ in range(n)], source


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="Texts for the speed figure.")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=data_dir(),
    )
    args = parser.parse_args()
    detectors = {"brandpulse": ours(), "py3langid_alone": py3langid_alone()}
    results = check(detectors)
    for name, res in results.items():
        print(f"== {name}: {res['accuracy']} on {CHECK.relative_to(REPO)}")
        for lang, acc in res["languages"].items():
            variants = {k.split("/")[1]: v for k, v in res["variants"].items() if k.split("/")[0] == lang}
            print(f"  {lang:4s} {acc:>6s}  {variants}")
        for miss in res["misses"]:
            print(f"  miss {miss}")
    shares = val_shares(args.data_dir, detectors["brandpulse"])
    if shares:
        print("== validation files: share detected as (brandpulse)")
        for name, share in shares.items():
            print(f"  {name:36s} {share}")
    texts, source = mixed_texts(args.data_dir, args.n, args.seed)
    detectors["brandpulse"](texts[0])  # load the model outside the timing
    summary = {
        "check": {name: res["accuracy"] for name, res in results.items()},
        "texts_per_s": {name: speed(texts, d, args.repeat) for name, d in detectors.items()},
        "n": len(texts),
        "speed_texts": source,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
