"""Bulk writer vs one request per document, on the same 20,000 sample mentions.

Usage: .venv/bin/python benchmarks/bulk_indexing.py [--n 20000] [--es-url URL]

Without --es-url (or ES_URL) it starts the embedded node on a free port and
stops it afterwards. Both runs write into fresh, identical indices (same
template) and are checked to hold exactly n documents afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from brandpulse.core.mention import Mention
from brandpulse.core.settings import Settings
from brandpulse.dev.sample_data import generate
from indexing.client import make_client
from indexing.templates import ensure_indices
from indexing.writer import raw_document, write_mentions


def sample_mentions(n: int) -> list[Mention]:
    rows, _ = generate(scale=max(1.0, n / 18_000))
    return [Mention.model_validate(r) for r in rows[:n]]


def run(es_url: str, n: int) -> dict:
    mentions = sample_mentions(n)
    results = {}
    for mode in ("bulk", "single"):
        settings = Settings(ES_URL=es_url, BRANDPULSE_INDEX_PREFIX=f"bench{uuid.uuid4().hex[:8]}")
        client = make_client(settings)
        names = settings.indices
        ensure_indices(client, names)
        started = time.perf_counter()
        if mode == "bulk":
            result = write_mentions(client, names, mentions, chunk_size=settings.bulk_chunk_size)
            assert not result.failed, result.failed[:3]
        else:
            for m in mentions:
                client.index(index=names.mentions_write, id=m.id, document=raw_document(m))
        client.indices.refresh(index=names.mentions)
        elapsed = time.perf_counter() - started
        count = client.count(index=names.mentions)["count"]
        assert count == n, f"{mode}: {count} documents, expected {n}"
        results[mode] = {"seconds": round(elapsed, 2), "docs_per_s": round(n / elapsed, 1)}
        client.indices.delete(index=f"{names.prefix}-*")
        client.indices.delete_index_template(name=f"{names.prefix}-*")
        print(f"{mode:>6}: {n} docs in {elapsed:6.2f} s = {n / elapsed:8.1f} docs/s", flush=True)
    speedup = results["bulk"]["docs_per_s"] / results["single"]["docs_per_s"]
    return {
        "n": n,
        **{f"{k}_docs_per_s": v["docs_per_s"] for k, v in results.items()},
        "speedup": round(speedup, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--es-url", default=os.environ.get("ES_URL"))
    args = parser.parse_args()
    if args.es_url:
        summary = run(args.es_url, args.n)
    else:
        from brandpulse.dev import es_node

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        state = Path(tempfile.mkdtemp(prefix="bp-bench-es-"))
        info = es_node.start(port=port, state_dir=state)
        try:
            summary = run(info.url, args.n)
        finally:
            es_node.stop(state_dir=state)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
