"""A deterministic sample dataset for the demo and tests.

Two fictional brands over 14 days, five platforms, six languages, daily and
weekly seasonality with over-dispersed counts, and one injected negative
incident (a Northwind Coffee shipping failure) with its own vocabulary and a
known onset. Output: `mentions.jsonl` (file-listener format) and
`incident.json` (what was injected, for checking detection delay).
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

START = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday
DAYS = 14
INCIDENT_ONSET = datetime(2026, 11, 12, 9, 20, tzinfo=UTC)
INCIDENT_BRAND = "northwind-coffee"

LANG_SHARE = {"en": 0.5, "de": 0.13, "fr": 0.12, "es": 0.12, "pt": 0.07, "it": 0.06}
PLATFORM_SHARE = {"x": 0.42, "reddit": 0.2, "mastodon": 0.15, "bluesky": 0.14, "hackernews": 0.09}
SENTIMENT_SHARE = {"negative": 0.2, "neutral": 0.45, "positive": 0.35}


@dataclass(frozen=True)
class SampleBrand:
    name: str
    display: str
    tag: str
    hourly_rate: float  # mean mentions per hour over the week
    weekend_factor: float
    topics: dict[str, list[str]]  # language -> topic phrases


BRANDS = (
    SampleBrand(
        "northwind-coffee",
        "Northwind Coffee",
        "northwindcoffee",
        34.0,
        0.8,
        {
            "en": [
                "the dark roast",
                "the subscription price",
                "the new app",
                "the oat latte",
                "the espresso beans",
            ],
            "de": [
                "die dunkle Röstung",
                "der Abo-Preis",
                "die neue App",
                "der Hafer-Latte",
                "die Espressobohnen",
            ],
            "fr": [
                "la torréfaction foncée",
                "le prix de l'abonnement",
                "la nouvelle appli",
                "le latte à l'avoine",
                "les grains d'espresso",
            ],
            "es": [
                "el tostado oscuro",
                "el precio de la suscripción",
                "la nueva app",
                "el latte de avena",
                "los granos de espresso",
            ],
            "pt": [
                "a torra escura",
                "o preço da assinatura",
                "o novo app",
                "o latte de aveia",
                "os grãos de espresso",
            ],
            "it": [
                "la tostatura scura",
                "il prezzo dell'abbonamento",
                "la nuova app",
                "il latte d'avena",
                "i chicchi di espresso",
            ],
        },
    ),
    SampleBrand(
        "acme-bikes",
        "Acme Bikes",
        "acmebikes",
        26.0,
        1.25,
        {
            "en": ["the battery range", "the frame", "the repair service", "the price", "the companion app"],
            "de": [
                "die Akkureichweite",
                "der Rahmen",
                "der Reparaturservice",
                "der Preis",
                "die Begleit-App",
            ],
            "fr": [
                "l'autonomie de la batterie",
                "le cadre",
                "le service de réparation",
                "le prix",
                "l'appli compagnon",
            ],
            "es": [
                "la autonomía de la batería",
                "el cuadro",
                "el servicio de reparación",
                "el precio",
                "la app",
            ],
            "pt": ["a autonomia da bateria", "o quadro", "o serviço de reparo", "o preço", "o aplicativo"],
            "it": [
                "l'autonomia della batteria",
                "il telaio",
                "il servizio riparazioni",
                "il prezzo",
                "l'app",
            ],
        },
    ),
)

TEMPLATES = {
    "en": {
        "positive": [
            "Really loving {t} from {b} 😍",
            "{b} nailed it with {t}, great job",
            "Honestly {t} by {b} made my week!",
            "Big fan of {b}, {t} is excellent",
            "{b} {t} = pure joy ☀️",
        ],
        "neutral": [
            "Has anyone tried {t} from {b}?",
            "{b} announced changes to {t} today",
            "Thinking about {t} at {b}, any opinions?",
            "Picked up {t} from {b} this morning",
            "Comparing {b} and others on {t}",
        ],
        "negative": [
            "Pretty disappointed with {t} from {b}",
            "{b}, {t} got worse lately 😞",
            "Not happy with {b} and {t}, expected better",
            "{t} by {b} is overpriced and meh",
            "Why did {b} ruin {t}?",
        ],
        "incident": [
            "My {b} order never arrived and tracking has been stuck for days",
            "Still waiting for my {b} delivery, package lost? Nobody answers support",
            "{b} shipping is a disaster, order missing for a week 😡",
            "Where is my {b} package?? Tracking frozen, no refund",
            "Third customer support ticket to {b} about an order that never shipped",
        ],
    },
    "de": {
        "positive": [
            "Ich liebe {t} von {b} 😍",
            "{b} hat mit {t} alles richtig gemacht",
            "{t} von {b} ist wirklich super",
            "Großer Fan von {b}, {t} ist top",
        ],
        "neutral": [
            "Hat jemand {t} von {b} probiert?",
            "{b} ändert heute {t}",
            "Überlege {t} bei {b} zu testen",
            "Heute {t} von {b} abgeholt",
        ],
        "negative": [
            "Ziemlich enttäuscht von {t} bei {b}",
            "{b}, {t} ist schlechter geworden 😞",
            "{t} von {b} ist überteuert",
            "Warum hat {b} {t} ruiniert?",
        ],
        "incident": [
            "Meine {b} Bestellung ist nie angekommen, Sendungsverfolgung hängt seit Tagen",
            "Warte immer noch auf die Lieferung von {b}, Paket verloren?",
            "{b} Versand ist eine Katastrophe, Bestellung seit einer Woche weg 😡",
        ],
    },
    "fr": {
        "positive": [
            "J'adore {t} de {b} 😍",
            "{b} a réussi {t}, bravo",
            "{t} chez {b} est vraiment excellent",
            "Grand fan de {b}, {t} est top",
        ],
        "neutral": [
            "Quelqu'un a testé {t} de {b} ?",
            "{b} a annoncé des changements sur {t}",
            "J'hésite à essayer {t} chez {b}",
            "Acheté {t} chez {b} ce matin",
        ],
        "negative": [
            "Assez déçu par {t} de {b}",
            "{b}, {t} s'est dégradé 😞",
            "{t} chez {b} est trop cher",
            "Pourquoi {b} a gâché {t} ?",
        ],
        "incident": [
            "Ma commande {b} n'est jamais arrivée, le suivi du colis est bloqué depuis des jours",
            "Toujours pas reçu ma livraison {b}, colis perdu ?",
            "La livraison {b} est une catastrophe, commande disparue 😡",
        ],
    },
    "es": {
        "positive": [
            "Me encanta {t} de {b} 😍",
            "{b} acertó con {t}, genial",
            "{t} de {b} es excelente",
            "Fan total de {b}, {t} es lo mejor",
        ],
        "neutral": [
            "¿Alguien probó {t} de {b}?",
            "{b} anunció cambios en {t}",
            "Pensando en probar {t} de {b}",
            "Compré {t} de {b} esta mañana",
        ],
        "negative": [
            "Bastante decepcionado con {t} de {b}",
            "{b}, {t} empeoró 😞",
            "{t} de {b} es demasiado caro",
            "¿Por qué {b} arruinó {t}?",
        ],
        "incident": [
            "Mi pedido de {b} nunca llegó y el seguimiento no se mueve desde hace días",
            "Sigo esperando la entrega de {b}, ¿paquete perdido?",
            "El envío de {b} es un desastre, pedido perdido 😡",
        ],
    },
    "pt": {
        "positive": [
            "Adoro {t} da {b} 😍",
            "A {b} acertou com {t}",
            "{t} da {b} é excelente",
            "Sou fã da {b}, {t} é ótimo",
        ],
        "neutral": [
            "Alguém já testou {t} da {b}?",
            "A {b} anunciou mudanças em {t}",
            "Pensando em experimentar {t} da {b}",
        ],
        "negative": ["Bem decepcionado com {t} da {b}", "{b}, {t} piorou 😞", "{t} da {b} está caro demais"],
        "incident": [
            "Meu pedido da {b} nunca chegou, rastreio parado há dias",
            "Ainda esperando a entrega da {b}, pacote perdido?",
        ],
    },
    "it": {
        "positive": [
            "Adoro {t} di {b} 😍",
            "{b} ha fatto centro con {t}",
            "{t} di {b} è eccellente",
            "Grande fan di {b}, {t} è top",
        ],
        "neutral": [
            "Qualcuno ha provato {t} di {b}?",
            "{b} ha annunciato cambiamenti a {t}",
            "Sto pensando di provare {t} di {b}",
        ],
        "negative": [
            "Abbastanza deluso da {t} di {b}",
            "{b}, {t} è peggiorato 😞",
            "{t} di {b} costa troppo",
        ],
        "incident": [
            "Il mio ordine {b} non è mai arrivato, spedizione bloccata da giorni",
            "Sto ancora aspettando la consegna di {b}, pacco perso?",
        ],
    },
}


def _pick(rng: random.Random, shares: dict[str, float]) -> str:
    return rng.choices(list(shares), weights=list(shares.values()))[0]


def _hour_factor(brand: SampleBrand, at: datetime) -> float:
    """Daily cycle (quiet at night UTC, busy late afternoon) times a weekly cycle."""
    hour = at.hour + at.minute / 60
    daily = 0.25 + 1.5 * math.exp(-((hour - 16.5) ** 2) / (2 * 4.0**2))
    weekly = brand.weekend_factor if at.weekday() >= 5 else 1.0
    return daily * weekly


def _incident_rate(at: datetime) -> float:
    """Extra negative shipping posts per hour after the onset: ramp, plateau, decay."""
    hours = (at - INCIDENT_ONSET).total_seconds() / 3600
    if hours < 0:
        return 0.0
    if hours < 2:
        return 20 + 20 * hours
    if hours < 10:
        return 60.0
    return 60.0 * math.exp(-(hours - 10) / 6)


class _Ids:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.counter = 0

    def make(self, platform: str, brand: str) -> tuple[str, str, dict]:
        self.counter += 1
        n = self.counter
        if platform == "x":
            nid = str(1_850_000_000_000_000_000 + n * 7919)
            return nid, f"https://x.com/i/web/status/{nid}", {"conversation_id": nid}
        if platform == "reddit":
            nid = f"t3_{n:07x}"
            sub = "coffee" if brand.startswith("northwind") else "ebikes"
            return nid, f"https://www.reddit.com/r/{sub}/comments/{nid[3:]}/", {"subreddit": sub}
        if platform == "mastodon":
            nid = str(113_000_000_000_000_000 + n)
            return nid, f"https://mastodon.social/@user/{nid}", {"instance": "mastodon.social"}
        if platform == "bluesky":
            nid = f"3l{n:011x}"
            return nid, f"https://bsky.app/profile/user.bsky.social/post/{nid}", {}
        nid = str(42_000_000 + n)
        return nid, f"https://news.ycombinator.com/item?id={nid}", {}


def generate(seed: int = 7, scale: float = 1.0) -> tuple[list[dict], dict]:
    """Rows (sorted by time) and the incident description."""
    rng = random.Random(seed)
    ids = _Ids(rng)
    rows: list[dict] = []
    incident_count = 0
    incident_brand = next(b for b in BRANDS if b.name == INCIDENT_BRAND)
    for hour in range(DAYS * 24):
        at = START + timedelta(hours=hour)
        for brand in BRANDS:
            lam = brand.hourly_rate * scale * _hour_factor(brand, at) * rng.gammavariate(8, 1 / 8)
            for _ in range(_poisson(rng, lam)):
                rows.append(_row(rng, ids, brand, at, _pick(rng, SENTIMENT_SHARE)))
        for quarter in range(4):
            q_at = at + timedelta(minutes=15 * quarter)
            extra = _incident_rate(q_at) * scale / 4
            for _ in range(_poisson(rng, extra)):
                row = _row(rng, ids, incident_brand, q_at, "incident", minutes=15)
                if datetime.fromisoformat(row["created_at"]) >= INCIDENT_ONSET:
                    rows.append(row)
                    incident_count += 1
    rows.sort(key=lambda r: r["created_at"])
    incident = {
        "brand": INCIDENT_BRAND,
        "onset": INCIDENT_ONSET.isoformat(),
        "kind": "shipping failure",
        "vocabulary": [
            "never arrived",
            "tracking",
            "package",
            "delivery",
            "shipping",
            "Lieferung",
            "colis",
            "pedido",
            "rastreio",
            "spedizione",
        ],
        "mentions": incident_count,
        "start": START.isoformat(),
        "end": (START + timedelta(days=DAYS)).isoformat(),
        "seed": seed,
    }
    return rows, incident


def _poisson(rng: random.Random, lam: float) -> int:
    """Knuth's method for small rates, normal approximation for large ones."""
    if lam <= 0:
        return 0
    if lam > 50:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _row(
    rng: random.Random, ids: _Ids, brand: SampleBrand, hour_start: datetime, mood: str, minutes: int = 60
) -> dict:
    lang = _pick(rng, LANG_SHARE)
    platform = _pick(rng, PLATFORM_SHARE)
    created = hour_start + timedelta(seconds=rng.randrange(minutes * 60))
    topic = rng.choice(brand.topics[lang])
    name = brand.display
    if rng.random() < 0.15:
        name = f"#{brand.tag}" if platform in ("x", "mastodon", "bluesky") else brand.display
    elif rng.random() < 0.1 and platform == "x":
        name = f"@{brand.tag}"
    text = rng.choice(TEMPLATES[lang][mood]).format(b=name, t=topic)
    native_id, url, thread = ids.make(platform, brand.name)
    handle = f"{platform}_user{rng.randrange(1, 4000)}"
    followers = int(rng.lognormvariate(5.0, 1.6))
    boost = 3.0 if mood == "incident" else 1.0
    kind = "comment" if platform in ("reddit", "hackernews") and rng.random() < 0.6 else "post"
    if platform == "x" and rng.random() < 0.2:
        kind = "reply"
    row = {
        "platform": platform,
        "native_id": native_id,
        "url": url,
        "kind": kind,
        "created_at": created.isoformat(),
        "collected_at": (created + timedelta(minutes=rng.randrange(1, 30))).isoformat(),
        "brands": [brand.name],
        "text": text,
        "author": {"id": handle, "handle": handle, "followers": followers, "verified": rng.random() < 0.03},
        "engagement": {
            "likes": int(rng.expovariate(1 / (4 * boost))),
            "reposts": int(rng.expovariate(1 / (1 * boost))),
            "replies": int(rng.expovariate(1 / (1.5 * boost))),
        },
        "thread": thread,
    }
    if platform in ("x", "mastodon", "bluesky") and rng.random() < 0.9:
        row["lang_hint"] = lang
    return row


def write_sample(out_dir: Path, seed: int = 7, scale: float = 1.0) -> tuple[Path, dict]:
    """Write `mentions.jsonl` and `incident.json` into out_dir (idempotent)."""
    rows, incident = generate(seed=seed, scale=scale)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "mentions.jsonl"
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    (out_dir / "incident.json").write_text(json.dumps(incident, indent=2) + "\n", encoding="utf-8")
    return path, incident
