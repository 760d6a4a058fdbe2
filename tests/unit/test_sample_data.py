from collections import Counter
from datetime import datetime, timedelta

from brandpulse.core.mention import Mention
from brandpulse.dev.sample_data import DAYS, INCIDENT_ONSET, START, generate, write_sample


def test_sample_is_deterministic_and_valid(tmp_path):
    rows, incident = generate(seed=3, scale=0.3)
    assert generate(seed=3, scale=0.3) == (rows, incident)
    assert generate(seed=4, scale=0.3)[0] != rows
    for row in rows[:500]:
        Mention.model_validate(row)
    ids = [(r["platform"], r["native_id"]) for r in rows]
    assert len(ids) == len(set(ids))
    path, _ = write_sample(tmp_path, seed=3, scale=0.3)
    assert sum(1 for _ in path.open()) == len(rows)


def test_sample_covers_brands_platforms_languages_and_14_days():
    rows, _ = generate(scale=0.5)
    assert {r["brands"][0] for r in rows} == {"northwind-coffee", "acme-bikes"}
    assert len({r["platform"] for r in rows}) >= 4
    assert len({r["lang_hint"] for r in rows if "lang_hint" in r}) >= 5
    days = {r["created_at"][:10] for r in rows}
    assert len(days) == DAYS
    assert min(r["created_at"] for r in rows) >= START.isoformat()


def test_daily_and_weekly_seasonality():
    rows, _ = generate()
    hours = Counter(datetime.fromisoformat(r["created_at"]).hour for r in rows)
    assert hours[16] > 3 * hours[4]  # busy afternoons, quiet nights (UTC)
    acme = [datetime.fromisoformat(r["created_at"]) for r in rows if r["brands"] == ["acme-bikes"]]
    weekend = sum(1 for t in acme if t.weekday() >= 5) / 4  # 4 weekend days in 14
    weekday = sum(1 for t in acme if t.weekday() < 5) / 10
    assert weekend > 1.1 * weekday  # bikes are talked about at weekends


def test_incident_has_known_onset_and_own_vocabulary():
    rows, incident = generate()
    assert incident["onset"] == INCIDENT_ONSET.isoformat() and incident["mentions"] > 200
    words = ("never arrived", "Lieferung", "colis", "pedido", "rastreio", "spedizione", "tracking")

    def window(start, hours):
        end = start + timedelta(hours=hours)
        return [
            r
            for r in rows
            if start.isoformat() <= r["created_at"] < end.isoformat() and r["brands"] == [incident["brand"]]
        ]

    def hits(rs):
        return sum(any(w in r["text"] for w in words) for r in rs)

    before, after = window(INCIDENT_ONSET - timedelta(hours=6), 6), window(INCIDENT_ONSET, 6)
    assert hits(before) == 0 and hits(after) > 100
