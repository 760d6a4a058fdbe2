"""Short set-up output: pip's install log in, a few lines out.

`make setup` pipes `pip install --progress-bar raw` through this script
(standard library only: it runs before brandpulse is installed). Instead of
one "Collecting ..." line per package it prints each large download with its
size, and the progress of the largest every quarter, a running total now and then, pip's errors
and warnings as they are, and one closing line. On a terminal the progress of
a large file updates in place.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

BIG = 20e6  # bytes: downloads at least this large get a line of their own
HUGE = 100e6  # ... and at least this large, their progress every quarter
_UNITS = {"B": 1, "kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9}
_DOWNLOAD = re.compile(r"^\s*Downloading (\S+)(?: \(([\d.]+) (B|kB|KB|MB|GB)\))?")
_RAW = re.compile(r"^\s*Progress (\d+) of (\d+)\s*$")
_COLLECT = re.compile(r"^\s*Collecting (\S+)")
_CACHED = re.compile(r"^\s*Using cached (\S+)")
_INSTALLING = re.compile(r"^\s*Installing collected packages: (.*)$")
_DONE = re.compile(r"^\s*Successfully installed (.*)$")
_ALREADY = re.compile(r"^\s*Requirement already satisfied")
_PROBLEM = re.compile(r"^\s*(ERROR|WARNING|error|note|hint|×|╰─>)")


def human(size: float) -> str:
    for unit, factor in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= factor:
            return f"{size / factor:.1f} {unit}"
    return f"{size:.0f} B"


def _file_name(url_or_name: str) -> str:
    name = url_or_name.rsplit("/", 1)[-1]
    return re.sub(r"-(?:cp|py)\d.*$", "", name.removesuffix(".whl").removesuffix(".tar.gz"))


@dataclass
class Tally:
    collected: int = 0
    cached: int = 0
    downloads: int = 0
    downloaded: float = 0.0
    current: str | None = None
    current_size: float = 0.0
    shown_quarter: int = 0
    problems: list[str] = field(default_factory=list)


def summarise(lines: Iterable[str], clock=time.monotonic, every: float = 20.0) -> Iterator[str]:
    """The lines worth showing, from pip's output lines."""
    tally = Tally()
    started = last = clock()
    for raw in lines:
        line = raw.rstrip("\n")
        if m := _DOWNLOAD.match(line):
            size = float(m.group(2)) * _UNITS[m.group(3)] if m.group(2) else 0.0
            tally.downloads += 1
            tally.downloaded += size
            tally.current, tally.current_size, tally.shown_quarter = _file_name(m.group(1)), size, 0
            if size >= BIG:
                yield f"  downloading {tally.current} ({human(size)})"
        elif m := _RAW.match(line):
            done, total = int(m.group(1)), int(m.group(2))
            if total >= HUGE and tally.current:
                quarter = min(4, done * 4 // total)
                if quarter > tally.shown_quarter:
                    tally.shown_quarter = quarter
                    yield f"\r    {tally.current}: {human(done)} of {human(total)} ({quarter * 25}%)"
        elif m := _COLLECT.match(line):
            tally.collected += 1
        elif _CACHED.match(line):
            tally.cached += 1
        elif m := _INSTALLING.match(line):
            n = len([p for p in m.group(1).split(",") if p.strip()])
            yield (
                f"  {tally.collected} requirements: {tally.downloads} downloaded "
                f"({human(tally.downloaded)}), {tally.cached} from the cache; installing {n} packages"
            )
        elif m := _DONE.match(line):
            n = len(m.group(1).split())
            yield f"  installed {n} packages in {clock() - started:.0f} s"
        elif _ALREADY.match(line):
            continue
        elif _PROBLEM.match(line):
            yield line
        now = clock()
        if now - last >= every and tally.collected:
            last = now
            yield (
                f"  ... {tally.collected} requirements so far, {tally.downloads} downloaded "
                f"({human(tally.downloaded)}), {tally.cached} from the cache"
            )


def main() -> None:
    tty = sys.stdout.isatty()
    for text in summarise(sys.stdin):
        if text.startswith("\r"):
            if tty:
                sys.stdout.write(text + "\033[K")
                sys.stdout.flush()
                continue
            text = text[1:]
        elif tty:
            sys.stdout.write("\r\033[K")
        sys.stdout.write(text + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
