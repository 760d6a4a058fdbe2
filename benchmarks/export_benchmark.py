"""CSV export speed of `brandpulse search --format csv`: point in time + search_after
over N enriched mentions (default 100,000), written to a CSV file.

Usage: .venv/bin/python benchmarks/export_benchmark.py [--n 100000] [--page-size 5000] [--es-url URL]

Without --es-url (or ES_URL) it starts the embedded node on a free port in a
temporary state folder and stops it afterwards. The mentions (sample-data
texts, with sentiment and topics added) are bulk-indexed into a fresh index
prefix first; only the export is timed, `--repeats` times (the first run is
cold). Each CSV is checked to hold N rows with unique ids.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import socket
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from elasticsearch import helpers

from brandpulse.analyst.search import MentionFilter, build_query, export_mentions, write_csv
from brandpulse.core.mention import Mention
from brandpulse.core.settings import Settings
from brandpulse.dev.sample_data import generate
from indexing.client import make_client
from indexing.templates import ensure_indices

TOPICS = ("delivery", "pricing", "app", "taste", "service", "quality")


def enriched_documents(n: int, seed: int = 5) -> list[dict]:
    """n mention documents: sample-data rows (repeated with new ids) + sentiment/topics."""
    rows, _ = generate(scale=1.0)
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        row = dict(rows[i % len(rows)], native_id=f"bench{i:07d}")
        label = rng.choice(("negative", "neutral", "neutral", "positive"))
        topic = rng.choice(TOPICS)
        row["sentiment"] = {
            "label": label,
            "score": round(rng.uniform(0.5, 1.0), 3),
            "probabilities": {"negative": 0.2, "neutral": 0.5, "positive": 0.3},
            "model": "bench",
            "model_version": "1",
        }
        row["topics"] = [{"id": topic, "label": topic}]
        row["lang"] = "en"
        docs.append(Mention.model_validate(row).to_document())
    return docs


def export_once(client, names, n: int, page_size: int, run: int) -> float:
    """One timed export of every mention to a CSV file; returns seconds."""
    out = Path(tempfile.mkdtemp(prefix="bp-export-")) / "mentions.csv"
    query = build_query(None, MentionFilter())
    started = time.perf_counter()
    with out.open("w", encoding="utf-8", newline="") as sink:
        rows = write_csv(export_mentions(client, names, query, page_size=page_size), sink)
    elapsed = time.perf_counter() - started
    with out.open(encoding="utf-8", newline="") as fh:
        ids = [r["id"] for r in csv.DictReader(fh)]
    assert rows == n == len(ids) == len(set(ids)), (rows, len(ids), len(set(ids)))
    size_mb = out.stat().st_size / 1e6
    out.unlink()
    out.parent.rmdir()
    print(
        f"run {run}: CSV export of {rows:,} mentions in {elapsed:.2f} s = {rows / elapsed:,.0f} docs/s "
        f"(page size {page_size}, {size_mb:.1f} MB)",
        flush=True,
    )
    return elapsed


def run(es_url: str, n: int, page_size: int, repeats: int = 3) -> dict:
    settings = Settings(ES_URL=es_url, BRANDPULSE_INDEX_PREFIX=f"exp{uuid.uuid4().hex[:8]}")
    client = make_client(settings)
    names = settings.indices
    ensure_indices(client, names)
    try:
        started = time.perf_counter()
        docs = enriched_documents(n)
        ok, _ = helpers.bulk(
            client.options(request_timeout=120),
            ({"_index": names.mentions_write, "_id": d["id"], "_source": d} for d in docs),
            chunk_size=2000,
        )
        client.indices.refresh(index=names.mentions)
        client.indices.forcemerge(index=names.mentions, max_num_segments=1)
        assert client.count(index=names.mentions)["count"] == n
        print(
            f"indexed {ok:,} mentions in {time.perf_counter() - started:.1f} s (not timed below)", flush=True
        )
        del docs

        timings = [export_once(client, names, n, page_size, run) for run in range(1, repeats + 1)]
        median = sorted(timings)[len(timings) // 2]
        return {
            "n": n,
            "page_size": page_size,
            "seconds": [round(t, 2) for t in timings],
            "first_docs_per_s": round(n / timings[0]),
            "median_docs_per_s": round(n / median),
        }
    finally:
        client.indices.delete(index=f"{names.prefix}-*")
        client.indices.delete_index_template(name=f"{names.prefix}-*")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--es-url", default=os.environ.get("ES_URL"))
    args = parser.parse_args()
    if args.es_url:
        print(run(args.es_url, args.n, args.page_size, args.repeats))
        return
    from brandpulse.dev import es_node

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    state = Path(tempfile.mkdtemp(prefix="bp-export-es-"))
    info = es_node.start(port=port, state_dir=state)
    try:
        print(run(info.url, args.n, args.page_size, args.repeats))
    finally:
        es_node.stop(state_dir=state)


if __name__ == "__main__":
    main()
