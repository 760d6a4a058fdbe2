"""Social connectors against their local HTTP stubs: mentions/s and HTTP requests.

Usage: .venv/bin/python benchmarks/listeners_benchmark.py [--n 1000] [--repeat 3]
       [--es-url URL | --no-index]

For each connector a stub platform holds --n posts (5 of 6 match the brand
query "acme"; the rest are broader platform hits the local re-check drops).
Two figures per connector:

- fetch: a 1,000-post backfill through the real client library (tweepy, praw,
  Mastodon.py, atproto, requests) against the stub: HTTP requests made (with
  each platform's default page size) and mentions/s (best of --repeat);
- fetch -> index: the same backfill through `brandpulse.pipeline.ingest.run_ingest`
  (bulk write to Elasticsearch, quarantine, cursor store), mentions/s.
  Without --es-url (or ES_URL) the embedded node is started on a free port;
  --no-index skips this part.

The stubs run in-process, so their own cost (HTTP mocking, JSON encoding) is
part of the time: the figures are a lower bound of the pipeline's throughput.
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
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from brandpulse.core.config import Brand, BrandsConfig
from listeners import bluesky_source, hackernews_source, mastodon_source, reddit_source, x_source  # noqa: F401
from tests.fixtures.bluesky_api import BlueskyStub
from tests.fixtures.common import NOW, FakeClock
from tests.fixtures.hackernews_api import HackerNewsStub
from tests.fixtures.mastodon_api import MastodonStub
from tests.fixtures.reddit_api import RedditStub
from tests.fixtures.x_api import XStub

ENV = {
    "X_BEARER_TOKEN": "SCRUBBED",
    "REDDIT_CLIENT_ID": "SCRUBBED",
    "REDDIT_CLIENT_SECRET": "SCRUBBED",
}
# name -> (stub factory (posts, first post's time), options with the default page size, page size)
PLATFORMS: dict[str, tuple[Callable[[int, float], Any], dict[str, Any], int]] = {
    "x": (lambda n, t: XStub(posts=n, start=t, step_s=1), {"max_reads_per_run": None}, 100),
    "reddit": (
        lambda n, t: RedditStub(posts=n, start=t, step_s=1),
        {
            "user_agent": "bench:brandpulse:0.1 (by /u/brandpulse)",
            "subreddits": ["gadgets"],
            "comments": False,
        },
        100,
    ),
    "mastodon": (lambda n, t: MastodonStub(posts=n, start=t, step_s=1), {}, 40),
    "bluesky": (lambda n, t: BlueskyStub(posts=n, start=t, step_s=1), {}, 100),
    "hackernews": (lambda n, t: HackerNewsStub(posts=n, start=t, step_s=1), {}, 100),
}


def brand(name: str, options: dict[str, Any]) -> Brand:
    return Brand(name="acme", query="acme", sources={name: options})


def fetch_only(name: str, n: int, repeat: int) -> dict[str, Any]:
    factory, options, page = PLATFORMS[name]
    from listeners.registry import registry

    cls = registry.get(name)
    best, requests, mentions = float("inf"), 0, 0
    for _ in range(repeat):
        with factory(n, NOW - 3600) as stub:
            connector = cls(brand(name, options), options, retry=FakeClock().policy())
            started = time.perf_counter()
            mentions = sum(len(b.mentions) for b in connector.fetch(None))
            best = min(best, time.perf_counter() - started)
            requests = len(stub.requests)
    return {
        "page_size": page,
        "http_requests": requests,
        "mentions": mentions,
        "fetch_s": round(best, 3),
        "fetch_mentions_per_s": round(mentions / best, 1),
    }


def fetch_and_index(name: str, n: int, es_url: str) -> dict[str, Any]:
    from brandpulse.core.settings import Settings
    from brandpulse.pipeline.ingest import run_ingest
    from indexing.client import make_client
    from indexing.templates import ensure_indices

    factory, options, _ = PLATFORMS[name]
    settings = Settings(ES_URL=es_url, BRANDPULSE_INDEX_PREFIX=f"lbench{uuid.uuid4().hex[:8]}")
    client = make_client(settings)
    ensure_indices(client, settings.indices)
    config = BrandsConfig(brands=[brand(name, options)])
    first_post = time.time() - 3600  # run_ingest runs on the real clock (X only searches 7 days)
    try:
        with factory(n, first_post):
            started = time.perf_counter()
            since = datetime.fromtimestamp(first_post - 60, UTC)
            summary = run_ingest(config, "acme", name, client=client, settings=settings, since=since)
            elapsed = time.perf_counter() - started
        client.indices.refresh(index=settings.indices.mentions)
        count = client.count(index=settings.indices.mentions)["count"]
        assert count == summary.fetched, f"{name}: {count} documents for {summary.fetched} mentions"
    finally:
        client.options(ignore_status=404).indices.delete(index=f"{settings.index_prefix}-*")
        client.options(ignore_status=404).indices.delete_index_template(name=f"{settings.index_prefix}-*")
    return {"indexed": count, "index_s": round(elapsed, 3), "index_mentions_per_s": round(count / elapsed, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="posts on each stub platform")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--es-url", default=os.environ.get("ES_URL"))
    parser.add_argument("--no-index", action="store_true", help="fetch only, no Elasticsearch")
    args = parser.parse_args()
    os.environ.update(ENV)

    results: dict[str, dict[str, Any]] = {}
    for name in PLATFORMS:
        results[name] = fetch_only(name, args.n, args.repeat)
        r = results[name]
        print(
            f"{name:>10} fetch: {r['mentions']:5d} mentions from {args.n} posts, "
            f"{r['http_requests']:3d} HTTP requests (page size {r['page_size']}), "
            f"{r['fetch_mentions_per_s']:9.1f} mentions/s",
            flush=True,
        )

    if not args.no_index:
        node_state = None
        es_url = args.es_url
        if not es_url:
            from brandpulse.dev import es_node

            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                port = sock.getsockname()[1]
            node_state = Path(tempfile.mkdtemp(prefix="bp-bench-es-"))
            es_url = es_node.start(port=port, state_dir=node_state).url
        try:
            fetch_and_index("hackernews", 100, es_url)  # warm-up (JIT, templates), not reported
            for name in PLATFORMS:
                results[name] |= fetch_and_index(name, args.n, es_url)
                r = results[name]
                print(
                    f"{name:>10} fetch -> index: {r['indexed']:5d} documents, "
                    f"{r['index_mentions_per_s']:9.1f} mentions/s",
                    flush=True,
                )
        finally:
            if node_state is not None:
                from brandpulse.dev import es_node

                es_node.stop(state_dir=node_state)
    print(json.dumps({"n": args.n, "results": results}))


if __name__ == "__main__":
    main()
