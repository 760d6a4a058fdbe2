"""Language identification of mentions (py3langid, model bundled in the package).

The detected language is stored as ``lang``; a platform's own hint is kept
separately by the caller. Links, user names and hashtag marks are removed
before detection (they are not language); texts with nothing left, or whose
best guess is below ``min_confidence``, fall back to the hint or ``"und"``.

A script layer runs before py3langid and decides where the script does:

- Sinhala script → ``si``, Armenian → ``hy``, Gurmukhi → ``pa`` (when that
  script has at least as many letters as the Latin script in the text);
- Devanagari → ``hi``, unless Marathi (``mr``) or Nepali (``ne``) function
  words outnumber Hindi ones (:data:`DEVANAGARI_CUES`);
- Arabic script: py3langid's guess, turned into ``pa`` (Shahmukhi Punjabi) when
  the letter ݨ or ڵ appears, or Punjabi function words (دا، نوں، وچ ...)
  outnumber Urdu ones (:data:`SHAHMUKHI_CUES`, :data:`URDU_CUES`).

Romanised Hindi (Hinglish) and romanised Sinhala (Singlish) are stored under
the plain codes ``hi`` and ``si`` (no ``-Latn`` suffix, so a brand's
``languages: [hi]`` and a Kibana filter on ``lang`` see both scripts). A Latin
text is taken as one of them when it has at least two distinct words of that
language's marker list (:data:`HINGLISH_MARKERS`, :data:`SINGLISH_MARKERS`:
function words and common verbs chosen from the training files of
``hinglish-sentimix``/UMSAB Hindi and ``singlish-youtube`` as frequent there
and rare in English and European tweets) and they make up at least 15% of its
words, or at least four of them.

py3langid splits its confidence between close standards of one language
(Bosnian, Croatian and Serbian; Portuguese and Galician; Malay and
Indonesian; Danish and Norwegian): a short Croatian post often gets 0.4, 0.35
and 0.25. Such a group counts as one for the confidence test
(:data:`CLOSE_LANGUAGES`), and the likeliest member is stored.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

UNDETERMINED = "und"
#: Changes whenever detection rules change (mentions may need re-detection).
RULES_VERSION = "scripts-2"
_NOISE = re.compile(r"(?:https?://|www\.)\S+|(?<![\w@])@\w+|\bhttp\b|#|&amp;|&lt;|&gt;", re.IGNORECASE)

_SINHALA = re.compile("[\u0d80-\u0dff]")
_ARMENIAN = re.compile("[\u0530-\u058f\ufb13-\ufb17]")
_GURMUKHI = re.compile("[\u0a00-\u0a7f]")
_DEVANAGARI = re.compile("[\u0900-\u0963\u0966-\u097f]")
_ARABIC = re.compile("[\u0620-\u064a\u0660-\u06d3\u06d5-\u06ff\u0750-\u077f]")
_LATIN = re.compile("[A-Za-z\u00c0-\u024f]")
_ANY_SCRIPT = re.compile(
    "[\u0530-\u058f\ufb13-\ufb17\u0600-\u06ff\u0750-\u077f\u0900-\u097f\u0a00-\u0a7f\u0d80-\u0dff]"
)
_LATIN_WORD = re.compile(r"[^\W\d_]+")
_DEVANAGARI_WORD = re.compile("[\u0900-\u0963\u0966-\u097f]+")
_ARABIC_WORD = re.compile("[\u0620-\u064a\u064b-\u065f\u0660-\u06d3\u06d5-\u06ff\u0750-\u077f]+")

#: Function words that tell Marathi and Nepali from Hindi in Devanagari.
DEVANAGARI_CUES: dict[str, frozenset[str]] = {
    "hi": frozenset("है हैं नहीं और का की के में से यह वह था थी भी क्या हूँ हूं मैं रहा रही लिए".split()),
    "mr": frozenset(
        "आहे आहेत नाही आणि मध्ये होते होता झाले झाला केले करून आम्ही तुम्ही माझा माझी माझे पण त्यांनी काय".split()
    ),
    "ne": frozenset("छ छन् छैन भएको गर्न गरेको हुन्छ थियो मलाई तपाईं तपाई हामी पनि लाई सँग गर्छ राम्रो धेरै भयो".split()),
}
#: Shahmukhi Punjabi function words, and the Urdu ones they are weighed against.
SHAHMUKHI_CUES = frozenset(
    "دا دی دے نوں تے وچ اے نال ساڈا ساڈی ساڈے تہاڈا تسی اسی ایہہ اوہ کیہ سی نئیں کردا کردی ہویا پیا".split()
)
URDU_CUES = frozenset("کا کی کے کو ہے ہیں اور سے نہیں یہ وہ تھا تھی بھی کیا".split())
_SHAHMUKHI_LETTERS = re.compile("[\u0768\u06b5]")

#: Romanised Hindi words frequent in Hinglish tweets and rare in English and European ones.
HINGLISH_MARKERS = frozenset(
    """hai hain nahi nhi nahin bhi aur kya kyu kyun kyon koi kuch tha thi liye kar karo karna karne
    karte karta raha rahe rahi rha rhe gaya gayi gya gye diya kiya hua hoga hota hoti hote hum tum aap
    aapko apne apni apna apko apke apki aapke aapki mera meri mere mujhe tera teri tere bahut bohot bhut
    sab sabhi toh jab agar lekin sirf kabhi khud wale wala wali jaise aise aisa sath saath baat kaam
    bhai yaar accha acha achha abhi aaj mein mei hu hoon ye yeh wo woh iss usne unka uska uske humare
    hamare hamara tumhara phir fir chahiye tarah sakta sakte itna itni kaise kaha kab kon kaun dekho
    dekh bilkul matlab samajh jyada zyada pehle baad sabse hona hone karke liya dena deta""".split()
)
#: Short romanised Hindi words that other languages also use: they count only
#: when py3langid is unsure (below ``min_confidence``).
HINGLISH_WEAK = frozenset("ki ke ka ko se me mai main ho h hi pe ne k ni ji ham bol bas sahi".split())
#: Romanised Sinhala words frequent in Singlish comments and rare elsewhere.
SINGLISH_MARKERS = frozenset(
    """eka ekak eke ekata ekai ekath oya oyage oyata oyala mage meka meke mekata wage wagema ape api apith
    godak godaak kiyala ane anee oba obata hoda hodai hodata hodama honda patta pattama karanna karana
    karanawa karala karanne karapu inna innawa kenek wada wadak weda wedak katha kathawa kathawak
    epa aiye aiya ayye ayya akka akke akki malli nangi ganna harima lassana lassanai lassanata lassani
    supiri kiyanne kiyanna kiyana kiyanawa kiyapu kiwwa thamai thama niyamai niyama adarei adare
    puluwan puluwanda wenna wena wenne wenawa wela nathi nathuwa nethi nisa yanna yana danne danna
    deyak okkoma hamuduruwane saranai budusaranai uba ubata neda machan ithin thawa thawath
    thiyenne thiyena thiyenawa thiyana hitiya hitiye mokada mokakda kohomada ehema mehema ohoma
    tikak tika naha nadda onna ahanna balanna balala balapu giya enna enne dala passe kalin
    sinduwak sinduwa sindu wahanse tharam manussayek aththatama aththa""".split()
)
#: Short romanised Sinhala words, counted only when py3langid is unsure.
SINGLISH_WEAK = frozenset("me mn man ma ai ae da dan ne neh ge ek wa mu eya ewa mewa oka".split())

#: Languages py3langid confuses with each other; their probabilities add up
#: for the confidence test, and the likeliest member is the answer.
CLOSE_LANGUAGES: tuple[frozenset[str], ...] = (
    frozenset({"bs", "hr", "sr"}),
    frozenset({"pt", "gl"}),
    frozenset({"id", "ms"}),
    frozenset({"da", "no", "nn"}),
)
_GROUP_OF = {lang: group for group in CLOSE_LANGUAGES for lang in group}


@dataclass(frozen=True)
class LanguageGuess:
    """ISO 639-1 code (or ``und``), the model's confidence and whether it came from the hint."""

    lang: str
    confidence: float
    from_hint: bool = False


@lru_cache(maxsize=1)
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def _classify(text: str, min_confidence: float) -> tuple[str, float]:
    """py3langid's likeliest language; below ``min_confidence``, the summed
    probability of its close group instead (the full ranking costs twice as much)."""
    lang, confidence = _identifier().classify(text)
    group = _GROUP_OF.get(lang)
    if group is not None and confidence < min_confidence:
        confidence = sum(p for other, p in _identifier().rank(text) if other in group)
    return lang, float(confidence)


def language_text(text: str) -> str:
    """The part of a post that carries language: no links, user names or '#'."""
    return " ".join(_NOISE.sub(" ", text).split())


def _cue_winner(words: list[str], cues: dict[str, frozenset[str]], default: str) -> str:
    counts = {lang: sum(w in cue for w in words) for lang, cue in cues.items()}
    best = max(counts, key=counts.__getitem__)
    return best if counts[best] > counts[default] else default


def _by_script(text: str) -> tuple[str | None, float]:
    """``(lang, share)`` where the script decides; ``(None, 0)`` otherwise."""
    latin = len(_LATIN.findall(text))
    counts = {
        "si": len(_SINHALA.findall(text)),
        "hy": len(_ARMENIAN.findall(text)),
        "pa": len(_GURMUKHI.findall(text)),
        "hi": len(_DEVANAGARI.findall(text)),
    }
    lang = max(counts, key=counts.__getitem__)
    n = counts[lang]
    if n == 0 or n < latin:
        return None, 0.0
    share = round(n / (n + latin), 4)
    if lang == "hi":
        lang = _cue_winner(_DEVANAGARI_WORD.findall(text), DEVANAGARI_CUES, "hi")
    return lang, share


def _is_shahmukhi(text: str) -> bool:
    if _SHAHMUKHI_LETTERS.search(text):
        return True
    words = _ARABIC_WORD.findall(text)
    punjabi = sum(w in SHAHMUKHI_CUES for w in words)
    return punjabi >= 2 and punjabi > sum(w in URDU_CUES for w in words)


def _romanised(text: str, weak: bool = False) -> tuple[str | None, float]:
    """``("hi" | "si", share)`` for romanised Hindi or Sinhala, else ``(None, 0)``.

    Strong rule: two distinct marker words making up 15% of the words, or
    four distinct ones. ``weak`` (py3langid unsure): the short ambiguous words
    count too, and two distinct words, one of them a marker, suffice.
    """
    words = _LATIN_WORD.findall(text.lower())
    if len(words) < 2:
        return None, 0.0
    unique = set(words)
    best, best_n, best_markers = None, 0, frozenset[str]()
    for lang, strong, extra in (
        ("hi", HINGLISH_MARKERS, HINGLISH_WEAK),
        ("si", SINGLISH_MARKERS, SINGLISH_WEAK),
    ):
        markers = strong | extra if weak else strong
        n = len(unique & markers) if unique & strong else 0
        if n > best_n:
            best, best_n, best_markers = lang, n, markers
    if best is None or best_n < 2:
        return None, 0.0
    share = sum(w in best_markers for w in words) / len(words)
    if weak or share >= 0.15 or best_n >= 4:
        return best, round(min(0.99, 0.5 + share / 2), 4)
    return None, 0.0


def detect_language(text: str, hint: str | None = None, min_confidence: float = 0.5) -> LanguageGuess:
    """Best language of one text; the hint (if any) wins when detection is unsure."""
    cleaned = language_text(text)
    if not any(ch.isalpha() for ch in cleaned):
        return LanguageGuess(hint or UNDETERMINED, 0.0, from_hint=bool(hint))
    has_script = _ANY_SCRIPT.search(cleaned) is not None
    if has_script:
        lang_by_script, share = _by_script(cleaned)
        if lang_by_script is not None:
            return LanguageGuess(lang_by_script, share)
    else:
        roman, share = _romanised(cleaned)
        if roman is not None:
            return LanguageGuess(roman, share)
    lang, confidence = _classify(cleaned, min_confidence)
    if has_script and _ARABIC.search(cleaned) and _is_shahmukhi(cleaned):
        return LanguageGuess("pa", round(max(confidence, min_confidence), 4))
    if confidence < min_confidence and not has_script:
        roman, share = _romanised(cleaned, weak=True)
        if roman is not None:
            return LanguageGuess(roman, share)
    if confidence < min_confidence:
        return LanguageGuess(hint or UNDETERMINED, round(confidence, 4), from_hint=bool(hint))
    return LanguageGuess(lang, round(confidence, 4))


def detect_languages(
    texts: Sequence[str], hints: Sequence[str | None] | None = None, min_confidence: float = 0.5
) -> list[LanguageGuess]:
    """:func:`detect_language` over many texts (``hints`` aligned with ``texts``)."""
    hints = hints if hints is not None else [None] * len(texts)
    if len(hints) != len(texts):
        raise ValueError("hints must align with texts")
    return [detect_language(t, h, min_confidence) for t, h in zip(texts, hints, strict=True)]
