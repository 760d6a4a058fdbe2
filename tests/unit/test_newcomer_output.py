"""Issue 12.1: long steps show progress (counts, rate, time left), set-up output
fits a screen, paths are never wrapped, and nothing alarming is printed."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from brandpulse.core.progress import Progress, describe, progress_text
from brandpulse.dev.demo import follow_progress, node_message
from brandpulse.dev.pip_progress import summarise


def test_describe_says_counts_share_rate_and_time_left() -> None:
    assert describe("enrich acme", 4096, 18544, 48.0, "mentions") == (
        "enrich acme: 4,096/18,544 mentions (22%), 85.3/s, about 2.8 min left"
    )
    assert describe("enrich acme", 18544, 18544, 200.0, "mentions").endswith("92.7/s, done in 3.3 min")
    assert describe("topics acme", 0, 0, 0.1, "mentions") == "topics acme: 0 mentions"


def test_progress_speaks_at_most_every_interval_and_always_at_the_end() -> None:
    now = [0.0]
    said: list[str] = []
    progress = Progress("enrich acme", 1000, every=10, emit=said.append, clock=lambda: now[0])
    for _ in range(10):
        now[0] += 3
        progress.advance(100)
    progress.finish()
    assert len(said) == 3  # at 12 s and 24 s (10 s apart at least), and at the end
    assert said[0] == "enrich acme: 400/1,000 mentions (40%), 33.3/s, about 18 s left"
    assert said[-1] == "enrich acme: 1,000/1,000 mentions (100%), 33.3/s, done in 30 s"


def test_progress_text_is_found_in_any_log_format() -> None:
    text = "enrich acme: 8/30 mentions (27%), 85.0/s, about 0 s left"
    for line in (
        f"[2026-11-30T07:00:00.000+0000] {{progress.py:80}} INFO - progress: {text}",
        f"2026-11-30T07:00:00.000000Z [info     ] progress: {text} [brandpulse.progress]",
        f"2026-11-30T07:00:00.000000Z [info     ] progress: {text} [brandpulse.progress] loc=progress.py:65",
        f"progress: {text}",
    ):
        assert progress_text(line) == text
    assert progress_text("INFO - Task instance is in running state") is None


def test_the_demo_passes_the_childs_progress_lines_to_the_terminal(tmp_path: Path) -> None:
    """The DAG runs in a child process that writes a log file; its progress lines
    reach the terminal as they come, the rest stays in the file."""
    log = tmp_path / "dag.log"
    script = (
        "import sys, time\n"
        "out = open(sys.argv[1], 'a', buffering=1)\n"
        "for i in range(3):\n"
        "    out.write(f'INFO - noisy airflow line {i}\\n')\n"
        "    out.write(f'[x] INFO - progress: enrich acme: {i + 1}/3 mentions\\n')\n"
        "    time.sleep(0.3)\n"
    )
    log.write_text("")
    child = subprocess.Popen([sys.executable, "-c", script, str(log)])
    said: list[tuple[float, str]] = []
    started = time.monotonic()
    follow_progress(
        log, lambda: child.poll() is None, lambda t: said.append((time.monotonic(), t)), poll=0.05
    )
    assert [t for _, t in said] == [f"enrich acme: {i}/3 mentions" for i in (1, 2, 3)]
    assert said[0][0] - started < 0.6  # shown while the child still runs, not at its end


def test_the_node_build_time_is_promised_only_when_it_builds() -> None:
    assert "first run builds it" in node_message(9200, built=False)
    assert node_message(9200, built=True) == "starting Elasticsearch on 127.0.0.1:9200"


def _pip_log() -> list[str]:
    """A cold-cache install: 208 requirements, big CUDA wheels, raw progress."""
    lines = []
    for i in range(200):
        lines += [f"Collecting pkg{i}==1.0", f"  Downloading pkg{i}-1.0-py3-none-any.whl (120 kB)"]
    for name, mb in (("torch-2.13.0", 899.7), ("nvidia_cublas_cu13-13.0.0", 512.0), ("triton-3.5.0", 160.2)):
        total = int(mb * 1e6)
        lines += [
            f"Collecting {name.split('-')[0]}",
            f"  Downloading {name}-cp311-cp311-manylinux.whl ({mb} MB)",
        ]
        lines += [f"Progress {n} of {total}" for n in range(0, total + 1, total // 40)]
    lines += [f"Using cached six-{i}.whl" for i in range(5)]
    lines.append("Installing collected packages: " + ", ".join(f"pkg{i}" for i in range(208)))
    lines.append("Successfully installed " + " ".join(f"pkg{i}-1.0" for i in range(208)))
    return lines


def test_setup_output_fits_one_screen_and_shows_the_big_downloads() -> None:
    shown = list(summarise(_pip_log(), clock=lambda: 0.0))
    assert len(shown) <= 40
    assert "  downloading torch-2.13.0 (899.7 MB)" in shown
    assert any("torch-2.13.0: 449.9 MB of 899.7 MB (50%)" in s for s in shown)
    assert not any("Collecting" in s for s in shown)
    assert any(
        "203 requirements: 203 downloaded (1.6 GB), 5 from the cache; installing 208" in s for s in shown
    )


def test_setup_errors_pass_through() -> None:
    shown = list(summarise(["Collecting nope", "ERROR: No matching distribution found for nope"]))
    assert shown == ["ERROR: No matching distribution found for nope"]


def test_paths_are_not_wrapped_when_output_is_not_a_terminal(tmp_path: Path) -> None:
    """Rich wraps at 80 columns off a terminal; a long path must stay on one line."""
    from brandpulse.cli.app import app

    deep = tmp_path / ("a-rather-long-folder-name-" * 4) / "brands-with-a-long-name.yaml"
    run = CliRunner().invoke(app, ["check-config", "--config", str(deep)])
    assert run.exit_code != 0
    assert str(deep) in run.output.replace("\r", "")


def test_models_load_without_weight_reports_or_bars(capfd) -> None:
    """No "LOAD REPORT ... MISSING ... Consider training" and no "Loading weights" bars."""
    from nlp.embeddings import E5Embedder

    E5Embedder()
    out, err = capfd.readouterr()
    for noise in ("LOAD REPORT", "MISSING", "Consider training", "Loading weights"):
        assert noise not in out + err


def test_the_closing_line_is_not_said_twice() -> None:
    said: list[str] = []
    progress = Progress("enrich acme", 10, every=0, emit=said.append, clock=lambda: 1.0)
    progress.advance(10)
    progress.finish()
    assert len(said) == 1 and said[0].startswith("enrich acme: 10/10 mentions (100%)")
