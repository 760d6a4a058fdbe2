"""One harness per registered connector for the shared contract suite.

A harness prepares a connector against local data (a file, or HTTP stubs that
follow the platform's documented payloads) and says which native ids a full
fetch must return. Every connector in the registry must have one: the suite
fails for a connector without a harness.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from brandpulse.config import Brand
from listeners.base import Connector
from listeners.registry import registry


@dataclass
class Harness:
    connector: Connector
    expected_native_ids: set[str]


HarnessFactory = Callable[[Path], "contextmanager[Harness]"]
HARNESSES: dict[str, Callable[[Path], Iterator[Harness]]] = {}


def harness(name: str):
    def decorate(fn):
        HARNESSES[name] = contextmanager(fn)
        return fn

    return decorate


@harness("file")
def file_harness(tmp: Path) -> Iterator[Harness]:
    path = tmp / "mentions.jsonl"
    rows = [
        {
            "native_id": f"n{i}",
            "platform": "x",
            "created_at": f"2026-11-02T10:{i:02d}:00Z",
            "text": f"acme 😀 ünïcode {i}",
        }
        for i in range(25)
    ]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    brand = Brand(name="acme", query="acme")
    yield Harness(
        registry.get("file")(brand, {"path": str(path), "batch_size": 10}), {r["native_id"] for r in rows}
    )
