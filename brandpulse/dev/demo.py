"""The demo: local Elasticsearch + the sample dataset through the real ingest DAG."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from brandpulse.core.progress import describe, progress_text
from brandpulse.core.settings import get_settings


def run_dag(dag_id: str) -> str:
    """Run one DAG in this process with `dag.test()` (no scheduler needed).

    Returns the run's state; raises if the DAG has import errors or fails."""
    from brandpulse.airflow_env import apply_airflow_env, migrate_db

    apply_airflow_env()
    migrate_db()
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    run = bag.dags[dag_id].test()
    state = str(getattr(run.state, "value", run.state))
    if state != "success":
        raise RuntimeError(f"DAG {dag_id} ended {state}")
    return state


DONE_MARKER = "brandpulse-dag-run:"


def follow_progress(
    log_file: Path, running: Callable[[], bool], say: Callable[[str], None], poll: float = 0.5
) -> None:
    """While `running()`, pass the progress lines that appear in `log_file` to `say`
    (the rest of Airflow's output stays in the file)."""
    with log_file.open("r", errors="replace") as source:
        pending = ""
        while True:
            alive = running()
            chunk = source.read()
            pending += chunk
            *lines, pending = pending.split("\n")
            for line in lines:
                text = progress_text(line)
                if text:
                    say(text)
            if not alive:
                return
            if not chunk:
                time.sleep(poll)


def run_dag_logged(dag_id: str, log_file: Path, say: Callable[[str], None] | None = None) -> None:
    """`run_dag` in a child process whose (verbose) Airflow output goes to `log_file`;
    its progress lines (counts, rate, time left) go to `say` as they come."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("w") as sink:
        child = subprocess.Popen(
            [sys.executable, "-m", "brandpulse.dev.demo", dag_id], stdout=sink, stderr=subprocess.STDOUT
        )
        follow_progress(log_file, lambda: child.poll() is None, say or (lambda _text: None))
    text = log_file.read_text(errors="replace")
    if child.returncode != 0 or f"{DONE_MARKER} {dag_id} success" not in text:
        tail = "\n".join(text.splitlines()[-30:])
        raise RuntimeError(f"DAG {dag_id} failed; last lines of {log_file}:\n{tail}")


def node_message(port: int, built: bool) -> str:
    """What the demo says before starting the node: the build time only when it builds."""
    first = "" if built else " (first run builds it from Maven Central: a few minutes)"
    return f"starting Elasticsearch on 127.0.0.1:{port}{first}"


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity where the OS tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def demo_torch_threads() -> int:
    """Torch threads for the demo's enrich tasks. ``dag.test()`` runs mapped tasks one
    after another in this process, so each may use every usable core; a set
    ``BRANDPULSE_TORCH_THREADS`` wins (it is exported for the run either way)."""
    from brandpulse.core.settings import LocalSettings

    if not os.environ.get("BRANDPULSE_TORCH_THREADS", "").strip():
        os.environ["BRANDPULSE_TORCH_THREADS"] = str(usable_cores())
    return LocalSettings.load().torch_threads  # a bad value fails here, naming the variable


def run_demo(port: int | None, config_path: Path, say: Callable[[str], None]) -> None:
    from brandpulse.dev import es_node
    from brandpulse.dev.sample_data import write_sample
    from brandpulse.pipeline.maintenance import prepare_indices

    os.environ["BRANDPULSE_CONFIG"] = str(config_path)
    if port:
        os.environ["BRANDPULSE_ES_PORT"] = str(port)
    settings = get_settings()

    say(node_message(settings.es_port, es_node.is_built()))
    info = es_node.start(port=settings.es_port, state_dir=settings.state_dir / "es")
    say(f"Elasticsearch {info.version} is {info.health}")

    path, incident = write_sample(settings.state_dir / "sample")
    say(f"sample dataset: {path}")
    say(f"injected incident: {incident['kind']} for {incident['brand']} from {incident['onset']}")

    say(f"index templates: {prepare_indices()}")
    log_file = settings.state_dir / "airflow" / "demo-dag.log"
    say(f"running the ingest DAG with dag.test() (Airflow's log: {log_file})")
    threads = demo_torch_threads()
    say(f"enrichment: {threads} torch threads (BRANDPULSE_TORCH_THREADS; enrich tasks run one at a time)")
    started = time.monotonic()
    run_dag_logged("brandpulse_ingest", log_file, say)
    say(f"ingest DAG finished: success in {time.monotonic() - started:.0f} s")
    run_alerts_replay(incident, say)


def run_alerts_replay(incident: dict, say: Callable[[str], None]) -> None:
    """Replay the alerts schedule over the sample fortnight (one catch-up check
    judges every 15-minute bucket in order, exactly as the DAG would have),
    deliver the e-mails to a local SMTP sink, and report the detection delay."""
    from datetime import datetime, timedelta

    from alerts.notifiers import SmtpConfig, SmtpNotifier
    from alerts.store import AlertStore
    from brandpulse.core.config import load_config
    from brandpulse.dev.mail_sink import MailSink
    from brandpulse.pipeline.alert_check import check_alerts
    from indexing.client import make_client

    settings = get_settings()
    config = load_config()
    client = make_client(settings)
    start, end = datetime.fromisoformat(incident["start"]), datetime.fromisoformat(incident["end"])
    first = start + timedelta(days=7)  # a week of history before the first judged bucket
    mail_dir = settings.state_dir / "demo-mail"
    with MailSink(mail_dir) as sink:
        notifier = SmtpNotifier(
            SmtpConfig(
                host="127.0.0.1",
                port=sink.port,
                security="none",
                sender="brandpulse-demo@localhost",
                retries=1,
            )
        )
        say(
            f"alerts: replaying 15-minute checks from {first:%Y-%m-%d} to {end:%Y-%m-%d} "
            f"(local SMTP sink on 127.0.0.1:{sink.port})"
        )
        check_alerts(config, first, client=client, settings=settings, notifiers=[notifier])
        summaries = []
        started = time.monotonic()
        for n, brand in enumerate(config.brands, 1):
            [summary] = check_alerts(
                config,
                end,
                brand.name,
                client=client,
                settings=settings,
                notifiers=[notifier],
                catch_up=end - first,
            )
            summaries.append(summary)
            elapsed = time.monotonic() - started
            say(describe(f"alerts replay ({brand.name})", n, len(config.brands), elapsed, "brands"))
    for s in summaries:
        say(
            f"alerts {s.brand}: {s.evaluated} buckets judged, {len(s.opened)} episodes opened, "
            f"{len(s.sent)} e-mails sent"
        )
        if s.reviews:
            r = s.reviews
            say(
                f"rating-drop alerts {r['brand']}: {r['evaluated']} hourly buckets judged, "
                f"{len(r['opened'])} episodes opened, {len(r['sent'])} e-mails sent"
            )
    store = AlertStore(client, settings.indices)
    onset = datetime.fromisoformat(incident["onset"])
    window = (onset - timedelta(minutes=15), onset + timedelta(hours=16))  # the incident's span
    during = [
        e
        for e in store.episodes(incident["brand"])
        if any(window[0] <= ev.bucket_start <= window[1] for ev in e.events)
    ]
    alerts = sorted(
        (
            (ev.bucket_start, e)
            for e in during
            for ev in e.events
            if ev.kind in ("open", "reopen") and window[0] <= ev.bucket_start <= window[1]
        ),
        key=lambda pair: pair[0],
    )
    hit = alerts[0][1] if alerts else None
    if hit is None:
        say(f"WARNING: the incident ({incident['kind']}, onset {onset:%Y-%m-%d %H:%M}) was NOT detected")
    else:
        alerted = alerts[0][0] + timedelta(minutes=hit.bucket_minutes)  # the bucket closes, the check runs
        delay = (alerted - onset).total_seconds() / 60
        say(
            f"incident '{incident['kind']}' for {incident['brand']}: onset {onset:%Y-%m-%d %H:%M} UTC, "
            f"alert {alerted:%H:%M} UTC → detected after {delay:.0f} minutes (episode {hit.id})"
        )
        report_review_drop(store, incident, alerted, say)
        mails = [f"{e.id.split(':')[-1]}/{key}" for e in during for key in e.notified]
        ended = f"resolved {hit.resolved_at:%Y-%m-%d %H:%M} UTC" if hit.resolved_at else "still open"
        say(f"the incident: {len(during)} episode(s), {len(mails)} e-mail(s) ({', '.join(mails)}); {ended}")
    saved = sorted(mail_dir.glob("*.html"))
    if saved:
        stem = hit.id.replace(":", "-") if hit else ""
        show = next((p for p in saved if p.name.startswith(f"{stem}.open")), saved[0])
        say(f"e-mails saved in {mail_dir} ({len(saved)} .eml + .html); the incident's alert: {show}")


def report_review_drop(store, incident: dict, social_alert, say: Callable[[str], None]) -> None:
    """The app reviews follow the incident later: print when the rating-drop
    alert came, beside the social alert's time."""
    from datetime import datetime, timedelta

    from alerts.reviews import review_key

    onset = datetime.fromisoformat(incident["onset"])
    episodes = [e for e in store.episodes(review_key(incident["brand"])) if e.opened_at >= onset]
    say(f"social alert: {social_alert:%Y-%m-%d %H:%M} UTC (negative mentions)")
    if not episodes:
        say("WARNING: the review drop that follows the incident was NOT detected")
        return
    first = episodes[0]
    alerted = first.opened_at + timedelta(minutes=first.bucket_minutes)
    lag = (alerted - social_alert).total_seconds() / 3600
    say(
        f"review-drop alert: {alerted:%Y-%m-%d %H:%M} UTC (1-2 star reviews, episode {first.id}), "
        f"{lag:.1f} h after the social alert; reviews began following at "
        f"{datetime.fromisoformat(incident['reviews']['follow_from']):%H:%M} UTC"
    )


if __name__ == "__main__":  # the child process of run_dag_logged
    print(f"{DONE_MARKER} {sys.argv[1]} {run_dag(sys.argv[1])}", flush=True)
