"""Small labelled emotion check (40 English brand posts, 4 emotions) for offline options.

Measures whether an offline emotion model is useful enough to fill the
mention's ``emotion`` field. Candidate: ``nade`` (PyPI, English only, 8
Plutchik emotions). It is not a project dependency; install it into a
scratch environment to run this: ``pip install nade==0.3.1``.

Usage: python benchmarks/sentiment_emotion_check.py
Prints top-1 accuracy overall and per emotion, and posts/s.
"""

from __future__ import annotations

import json
import time
from collections import Counter

import numpy as np

CHECK = {
    "anger": [
        "This is outrageous, @acme charged me twice and nobody answers!!",
        "Third time my order is late. I'm furious with this company.",
        "Stop ignoring my emails, @acme. Unacceptable service.",
        "They cancelled my account without warning. Absolutely livid.",
        "Who thought this update was a good idea? It broke everything. Fix it now!",
        "I'm so angry, the support agent hung up on me",
        "Worst customer service ever, I want my money back right now",
        "How dare they raise prices again for a worse product",
        "Sick of waiting on hold for 2 hours, this is ridiculous",
        "@acme you lied about the delivery date, again",
    ],
    "joy": [
        "Just got my new headphones from @acme and I love them!",
        "Best coffee I've had all year, thank you!",
        "So happy with the quick refund, great support team",
        "The new app update is fantastic, finally dark mode!",
        "Delighted with my order, arrived a day early 😍",
        "This made my day, the staff were wonderful",
        "Loving the new flavour, absolutely delicious",
        "What a great experience at the store today!",
        "Our team had so much fun with the new product launch",
        "Yay! My package arrived and it's perfect",
    ],
    "sadness": [
        "Really disappointed, my favourite product was discontinued 😢",
        "Feeling let down, I expected so much more from this brand",
        "Sad to see the local store close down",
        "My parcel got lost and it was a gift for my late grandma's birthday",
        "I miss the old version, the new one just isn't the same",
        "Heartbroken that the concert was cancelled",
        "It's depressing how bad the quality has become",
        "I used to love this brand, now it just makes me sad",
        "Lonely evening, even the delivery didn't come",
        "So disappointed, the gift broke on the first day",
    ],
    "fear": [
        "Worried my data was leaked in the @acme breach",
        "Is it safe to use this charger? Mine got really hot and scared me",
        "I'm afraid my bank details were stolen after ordering there",
        "Terrified the battery will explode, it keeps swelling",
        "Nervous about flying with them after that incident",
        "Scary: the brakes on my e-bike failed going downhill",
        "Anyone else anxious about the recall? My kid uses this every day",
        "Frightening how much personal data this app collects",
        "I panic every time the heater makes that noise",
        "Concerned my account was hacked, strange logins all night",
    ],
}


def main() -> None:
    from nade import Nade

    model = Nade("socialmedia_en")
    texts = [t for v in CHECK.values() for t in v]
    gold = [k for k, v in CHECK.items() for _ in v]
    started = time.perf_counter()
    out = model.predict(texts)
    seconds = time.perf_counter() - started
    labels = list(out)
    scores = np.stack([np.asarray(out[label].to_pylist(), dtype=float) for label in labels], 1)
    pred = [labels[i] for i in scores.argmax(1)]
    hits = [p == g for p, g in zip(pred, gold, strict=True)]
    print(
        json.dumps(
            {
                "model": "nade socialmedia_en",
                "n": len(texts),
                "top1_accuracy": round(float(np.mean(hits)), 3),
                "per_emotion": {
                    k: round(float(np.mean([h for h, g in zip(hits, gold, strict=True) if g == k])), 2)
                    for k in CHECK
                },
                "confusions": [
                    f"{g}->{p}: {n}"
                    for (g, p), n in Counter(zip(gold, pred, strict=True)).most_common()
                    if g != p
                ],
                "posts_per_s": round(len(texts) / seconds, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
