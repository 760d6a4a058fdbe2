"""Issue 12, item 2: default windows say what they cover and, when empty, where
the data is (the demo's sample lies in the past)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from brandpulse.analyst.search import newest_mention
from brandpulse.cli.analyst import app
from tests.integration.test_analyst import enriched_mentions, index_mentions

pytestmark = pytest.mark.integration
runner = CliRunner()
AT = "2026-12-31T00:00Z"  # well after the generated mentions (10-13 Nov 2026)


@pytest.fixture
def indexed(ready, settings):
    mentions = enriched_mentions()
    index_mentions(ready, settings.indices, mentions)
    return mentions


def test_newest_mention_per_brand(ready, settings, indexed) -> None:
    newest = max(m.created_at for m in indexed if m.brands == ["acme"])
    assert newest_mention(ready, settings.indices, "acme") == newest
    assert newest_mention(ready, settings.indices, "nobody") is None


def test_stats_default_window_says_what_it_covers_and_where_the_data_is(ready, settings, indexed) -> None:
    newest = max(m.created_at for m in indexed if m.brands == ["acme"])
    run = runner.invoke(app, ["stats", "--brand", "acme", "--at", AT])
    assert run.exit_code == 0, run.output
    assert "2026-12-24 00:00 → 2026-12-31 00:00 UTC (the 7d before --at, the default)" in run.output
    assert "mentions  0" in run.output
    assert f"newest mention of 'acme': {newest:%Y-%m-%d %H:%M} UTC" in run.output
    days = (datetime(2026, 12, 31, tzinfo=UTC) - newest).days + 1 + 7
    assert f"--since {days}d" in run.output
    assert f"--at {newest + timedelta(days=1):%Y-%m-%d}" in run.output
    explicit = runner.invoke(app, ["stats", "--brand", "acme", "--since", "7d", "--at", AT])
    assert "the default" not in explicit.output
    none = runner.invoke(app, ["stats", "--brand", "nobody", "--at", AT])
    assert "no mentions of 'nobody' are indexed at all" in none.output


def test_an_empty_report_names_the_newest_mention_and_claims_nothing_else(
    ready, settings, indexed, tmp_path
) -> None:
    out = tmp_path / "r.html"
    run = runner.invoke(app, ["report", "--brand", "acme", "--out", str(out), "--at", AT])
    assert run.exit_code == 0, run.output
    assert "0 mentions in 2026-12-24 00:00 → 2026-12-31 00:00 UTC, the 7d before --at, the default" in (
        run.output
    )
    assert "newest mention of 'acme'" in run.output
    html = out.read_text(encoding="utf-8")
    newest = max(m.created_at for m in indexed if m.brands == ["acme"])
    assert f"The newest mention of this brand is from {newest:%Y-%m-%d %H:%M} UTC" in html
    assert "enrichment has not run" not in html and "topics step has not run" not in html
    assert "data:image/png" not in html  # no chart with a made-up axis
    full = runner.invoke(
        app, ["report", "-b", "acme", "-o", str(out), "--from", "2026-11-10", "--to", "2026-11-14"]
    )
    assert full.exit_code == 0 and "the default" not in full.output
    html = out.read_text(encoding="utf-8")
    assert "data:image/png" in html and "where-the-data-is" not in html
