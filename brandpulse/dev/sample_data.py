"""A deterministic sample dataset for the demo and tests.

Two fictional brands over 14 days, five platforms, six languages, daily and
weekly seasonality with over-dispersed counts, and one injected negative
incident (a Northwind Coffee shipping failure) with its own vocabulary and a
known onset. Output: `mentions.jsonl` (file-listener format) and
`incident.json` (what was injected, for checking detection delay).

Northwind Coffee's app also gets App Store and Google Play reviews (`kind`
review, with a star rating): a low steady stream, mostly 4-5 stars, and a
wave of 1-2 star reviews that follows the incident `REVIEW_LAG` later (people
review the app once the order has failed to arrive). Reviews come from their
own random stream and id sequence, so the social rows are the same with or
without them (`reviews=False`); their text names the brand, so the file
source's brand-query re-check keeps them.
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
#: reviews follow the social incident this much later
REVIEW_LAG = timedelta(hours=4)
REVIEW_APP = {"appstore": "1234567890", "googleplay": "com.northwind.coffee"}
REVIEW_PLATFORM_SHARE = {"appstore": 0.55, "googleplay": 0.45}
REVIEW_LANG_COUNTRY = {"en": "us", "de": "de", "fr": "fr", "es": "es"}
REVIEW_LANG_SHARE = {"en": 0.6, "de": 0.15, "fr": 0.13, "es": 0.12}
#: stars of an ordinary review (1-2 stars: 15 %)
RATING_SHARE = {5: 0.5, 4: 0.25, 3: 0.1, 2: 0.07, 1: 0.08}
REVIEWS_PER_HOUR = 0.9  # mean, before the daily cycle
APP_VERSIONS = ("5.11.2", "5.12.0")

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


REVIEW_TEXTS: dict[str, dict[str, list[tuple[str, str]]]] = {
    # language -> mood -> (title, body); {b} is the brand
    "en": {
        "good": [
            ("Fast and easy", "Order ahead in the {b} app works great, my latte is ready when I walk in."),
            ("Love the rewards", "The {b} app rewards are generous and the app is quick."),
        ],
        "meh": [("It's ok", "The {b} app is fine but the menu loads slowly.")],
        "bad": [
            ("Crashes", "The {b} app crashes at checkout every other time."),
            ("Login again?", "The {b} app keeps logging me out."),
        ],
        "incident": [
            (
                "Order never arrived",
                "Ordered beans in the {b} app, tracking stuck for days, the package never arrived.",
            ),
            (
                "Where is my delivery",
                "{b}: paid for shipping, no delivery, support chat in the app just loops.",
            ),
            (
                "Refund please",
                "The {b} app says shipped, the tracking link is dead. One star until I get my package.",
            ),
        ],
    },
    "de": {
        "good": [("Super", "Die {b} App ist schnell und einfach.")],
        "meh": [("Geht so", "Die {b} App ist okay, aber langsam.")],
        "bad": [("Stürzt ab", "Die {b} App stürzt beim Bezahlen ab.")],
        "incident": [("Lieferung fehlt", "Über die {b} App bestellt, die Lieferung ist nie angekommen.")],
    },
    "fr": {
        "good": [("Top", "L'appli {b} est rapide et pratique.")],
        "meh": [("Moyen", "L'appli {b} est correcte, sans plus.")],
        "bad": [("Bug", "L'appli {b} plante au paiement.")],
        "incident": [("Colis perdu", "Commande passée dans l'appli {b}, le colis n'est jamais arrivé.")],
    },
    "es": {
        "good": [("Genial", "La app de {b} es rápida y cómoda.")],
        "meh": [("Normal", "La app de {b} está bien, nada más.")],
        "bad": [("Falla", "La app de {b} se cierra al pagar.")],
        "incident": [("Pedido perdido", "Pedí por la app de {b} y el pedido nunca llegó.")],
    },
}


def _review_incident_rate(at: datetime) -> float:
    """Extra 1-2 star reviews per hour: the social incident, `REVIEW_LAG` later and smaller."""
    hours = (at - INCIDENT_ONSET - REVIEW_LAG).total_seconds() / 3600
    if hours < 0:
        return 0.0
    if hours < 2:
        return 2 + 2 * hours
    if hours < 10:
        return 6.0
    return 6.0 * math.exp(-(hours - 10) / 8)


def generate_reviews(seed: int = 7, scale: float = 1.0) -> tuple[list[dict], int]:
    """Northwind Coffee's app reviews (own random stream and ids) and how many
    of them follow the incident."""
    rng = random.Random(seed * 7919 + 14)
    brand = next(b for b in BRANDS if b.name == INCIDENT_BRAND)
    rows: list[dict] = []
    following = 0
    for hour in range(DAYS * 24):
        at = START + timedelta(hours=hour)
        lam = REVIEWS_PER_HOUR * scale * _hour_factor(brand, at)
        for _ in range(_poisson(rng, lam)):
            rows.append(_review_row(rng, len(rows) + 1, brand, at, None))
        for _ in range(_poisson(rng, _review_incident_rate(at + timedelta(minutes=30)) * scale)):
            row = _review_row(rng, len(rows) + 1, brand, at, "incident")
            rows.append(row)
            following += 1
    return rows, following


def _review_row(
    rng: random.Random, n: int, brand: SampleBrand, hour_start: datetime, mood: str | None
) -> dict:
    platform = _pick(rng, REVIEW_PLATFORM_SHARE)
    lang = _pick(rng, REVIEW_LANG_SHARE)
    country = REVIEW_LANG_COUNTRY[lang]
    rating = int(rng.choices([1, 2], weights=[0.8, 0.2])[0]) if mood else int(_pick(rng, RATING_SHARE))  # type: ignore[arg-type]
    mood = mood or ("good" if rating >= 4 else "meh" if rating == 3 else "bad")
    title, body = rng.choice(REVIEW_TEXTS[lang][mood])
    created = hour_start + timedelta(seconds=rng.randrange(3600))
    app_id = REVIEW_APP[platform]
    if platform == "appstore":
        native_id = str(11_600_000_000 + n)
        url = f"https://apps.apple.com/{country}/app/id{app_id}?see-all=reviews"
    else:
        native_id = f"5e1d0c2a-0000-4000-8000-{n:012d}"
        url = f"https://play.google.com/store/apps/details?id={app_id}&hl={lang}&gl={country}&reviewId={native_id}"
    handle = f"{platform}_reviewer{rng.randrange(1, 4000)}"
    row = {
        "platform": platform,
        "native_id": native_id,
        "url": url,
        "kind": "review",
        "created_at": created.isoformat(),
        "collected_at": (created + timedelta(minutes=rng.randrange(5, 60))).isoformat(),
        "brands": [brand.name],
        "text": f"{title}\n\n{body.format(b=brand.display)}",
        "author": {"handle": handle},
        "engagement": {"likes": int(rng.expovariate(1 / 2))},
        "review": {
            "rating": rating,
            "title": title,
            "app_id": app_id,
            "app_version": APP_VERSIONS[1] if created >= START + timedelta(days=5) else APP_VERSIONS[0],
            "country": country,
        },
    }
    if platform == "googleplay":
        row["lang_hint"] = lang
    return row


def generate(seed: int = 7, scale: float = 1.0, reviews: bool = True) -> tuple[list[dict], dict]:
    """Rows (sorted by time) and the incident description (`reviews=False`:
    the social mentions only)."""
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
    review_rows, following = generate_reviews(seed, scale) if reviews else ([], 0)
    rows.extend(review_rows)
    rows.sort(key=lambda r: r["created_at"])  # stable: the social rows keep their order
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
        "reviews": {
            "follow_from": (INCIDENT_ONSET + REVIEW_LAG).isoformat(),
            "lag_hours": REVIEW_LAG.total_seconds() / 3600,
            "low_star_reviews": following,
            "all_reviews": len(review_rows),
        },
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
