import itertools

import pytest

from brandpulse.core.query import (
    And,
    Hashtag,
    Lang,
    Mention,
    Not,
    Or,
    Phrase,
    QueryCompileError,
    QuerySyntaxError,
    Term,
    compile_bluesky,
    compile_hn,
    compile_reddit,
    compile_x,
    mastodon_hashtags,
    match,
    match_brands,
    parse_query,
)

# --- parsing -----------------------------------------------------------------


def test_operators_precedence_and_implicit_and():
    q = parse_query('acme widget OR gadget AND NOT refund -"acme bank" #acme @acmehelp lang:EN')
    assert q.root == Or(
        (
            And((Term("acme"), Term("widget"))),
            And(
                (
                    Term("gadget"),
                    Not(Term("refund")),
                    Not(Phrase("acme bank")),
                    Hashtag("acme"),
                    Mention("acmehelp"),
                    Lang("en"),
                )
            ),
        )
    )


def test_parentheses_group_and_keywords_are_case_sensitive():
    q = parse_query("acme (widget or gadget) ANDROID")
    # lower-case "or" is a word; nested ANDs are flattened
    assert q.root == And((Term("acme"), Term("widget"), Term("or"), Term("gadget"), Term("ANDROID")))
    assert parse_query("(a OR b) c").root == And((Or((Term("a"), Term("b"))), Term("c")))


@pytest.mark.parametrize(
    ("text", "line", "column", "reason"),
    [
        ("acme AND", 1, 9, "unexpected end"),
        ("(acme OR widget", 1, 16, "unexpected end"),
        ("acme)", 1, 5, "unbalanced ')'"),
        ('acme "widget', 1, 6, "unterminated phrase"),
        ("acme - refund", 1, 6, "'-' must be attached"),
        ("acme # x", 1, 6, "'#' must be followed"),
        ("acme OR -refund", 1, 10, "positive term"),
        ("NOT acme", 1, 5, "positive term"),
        ("lang:en", 1, 1, "positive term"),
        ("acme lang:english", 1, 6, "invalid language filter"),
        ('acme ""', 1, 6, "empty phrase"),
        ("acme\n  OR (widget\n", 2, 13, "unexpected end"),
        ("OR acme", 1, 1, "needs a term on both sides"),
        ("acme AND AND x", 1, 10, "needs a term on both sides"),
        ("acme\nOR OR x", 2, 4, "needs a term on both sides"),
    ],
)
def test_syntax_errors_point_at_line_and_column(text, line, column, reason):
    with pytest.raises(QuerySyntaxError) as info:
        parse_query(text)
    err = info.value
    assert (err.line, err.column) == (line, column)
    assert reason in err.reason
    caret_line = str(err).splitlines()[-1]
    assert caret_line.index("^") - 2 == column - 1  # two spaces of indent before the caret
    assert isinstance(err, ValueError)


def test_double_negation_is_positive():
    assert match(parse_query("NOT NOT acme"), "acme").matched


def test_empty_query_is_an_error():
    with pytest.raises(QuerySyntaxError):
        parse_query("   ")


# --- matching ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        ("acme", "I love ACME!", True),
        ("acme", "acmewidgets are different", False),  # token boundary
        ("acme", "the notacme thing", False),
        ("acme", "Ácmé café", True),  # accents
        ("acme", "ＡＣＭＥ full width", True),  # NFKD compatibility forms
        ("acme", "#Acme rocks", True),  # term matches the hashtag
        ("acme", "@acme help me", False),  # ... but not a handle
        ("#acme", "acme rocks", False),  # hashtag matches only the hashtag
        ("#acme", "so #ACME 🎉", True),
        ("#acme", "#acmewidgets", False),
        ("@acmehelp", "hey @AcmeHelp!", True),
        ("@acmehelp", "acmehelp is a word", False),
        ("@acmehelp", "mail bob@acmehelp.com", False),  # an e-mail address is no mention
        ("@acmehelp", "cc @acmehelp.bsky.social", True),  # Bluesky domain handle
        ("@acmehelp", "cc @acmehelp@mastodon.social", True),  # fediverse handle
        ('"acme widget"', "Acme, widget!", True),  # punctuation between words
        ('"acme widget"', "acme blue widget", False),
        ('"acme widget"', "#acme widget", True),
        ("coca-cola", "Coca Cola 🥤", True),
        ("coca-cola", "coca-colas", False),
        ("straße", "STRASSE", True),  # casefold
        ("ソニー", "新しいソニーのテレビ", True),  # no-space script: substring
        ("हिन्दी", "मुझे हिन्दी पसंद है", True),  # combining vowel signs stay in words
        ("acme -refund", "acme refund please", False),
        ("acme -refund", "acme refunds", True),
        ("acme NOT (refund OR return)", "acme return", False),
        ("acme NOT (refund OR return)", "acme rocks 😀", True),
    ],
)
def test_match_semantics(query, text, expected):
    assert match(parse_query(query), text).matched is expected


def test_lang_filter_uses_the_hint_and_unknown_language_passes():
    q = parse_query("acme lang:pt")
    assert match(q, "acme", "pt").matched
    assert match(q, "acme", "pt-BR").matched
    assert not match(q, "acme", "es").matched
    assert match(q, "acme", None).matched


def test_matched_terms_are_the_positive_terms_present():
    q = parse_query('(acme OR "acme widget" OR #acme OR globex) -refund')
    result = match(q, "My #Acme widget 😀")
    assert result.matched
    assert result.terms == ["acme", '"acme widget"', "#acme"]
    assert match(q, "globex").terms == ["globex"]
    assert match(q, "nothing here").terms == []


def test_a_post_can_match_two_brands():
    queries = [
        ("acme", parse_query("acme")),
        ("globex", parse_query("globex OR #gx")),
        ("initech", parse_query("initech")),
    ]
    hits = match_brands(queries, "Acme vs Globex #gx, who wins? 🥊")
    assert hits.brands == ["acme", "globex"]
    assert hits.by_brand == {"acme": ["acme"], "globex": ["globex", "#gx"]}
    assert hits.terms == ["acme", "globex", "#gx"]


# --- compiling ---------------------------------------------------------------

SAMPLES = [
    "acme widget",
    "acme gadget",
    "acme refund",
    "acme widget refund",
    "#acme",
    "acme bank widget",
    "@acmehelp widget",
    "widget",
    "gadget acme",
    "acme 😀 gadget",
    "ACME Gadget lang",
    "acme widgets",
]


def _covers(compiled_queries: list[str], query_text: str, texts: list[str]) -> None:
    """The union of the compiled queries (read back with our parser) covers the query."""
    original = parse_query(query_text)
    parts = [parse_query(q) for q in compiled_queries]
    for text in texts:
        if match(original, text).matched:
            assert any(match(p, text).matched for p in parts), (text, compiled_queries)


def test_compile_x_keeps_operators():
    q = parse_query('acme (widget OR gadget) -refund -"acme bank" #acme @acmehelp lang:en')
    assert compile_x(q) == ['acme (widget OR gadget) -refund -"acme bank" #acme @acmehelp lang:en']


def test_compile_x_broadens_what_x_cannot_express():
    # a Bluesky-style handle is not an X handle: dropped in a positive place (broader) ...
    assert compile_x(parse_query("acme @acme.bsky.social")) == ["acme"]
    # ... and an exclusion of it is dropped too (never narrower)
    assert compile_x(parse_query("acme -@acme.bsky.social")) == ["acme"]
    with pytest.raises(QueryCompileError):
        compile_x(parse_query("@acme.bsky.social"))


def test_compile_x_splits_long_queries_into_or_able_parts():
    products = [f'"acme product {i:02d}"' for i in range(60)]
    text = f"acme ({' OR '.join(products)}) -refund"
    parts = compile_x(parse_query(text))
    assert len(parts) > 1
    assert all(len(p) <= 512 for p in parts)
    joined = " ".join(parts)
    assert all(p in joined for p in products)  # every alternative kept
    assert all(p.startswith("acme -refund (") for p in parts)
    texts = [f"acme product {i:02d} {extra}" for i in range(60) for extra in ("", "refund")]
    _covers(parts, text, texts)


def test_compile_x_split_respects_a_custom_limit():
    q = parse_query(" OR ".join(f"term{i}" for i in range(40)))
    parts = compile_x(q, limit=60)
    assert all(len(p) <= 60 for p in parts)
    assert sorted(itertools.chain.from_iterable(p.split(" OR ") for p in parts)) == sorted(
        f"term{i}" for i in range(40)
    )


@pytest.mark.parametrize(
    "query",
    [
        "acme (widget OR gadget) -refund",
        "(acme OR #acme) widget",
        "acme OR @acmehelp",
        "acme -(refund OR bank)",
    ],
)
def test_compiled_queries_cover_the_brand_query(query):
    _covers(compile_x(parse_query(query)), query, SAMPLES)
    if "@" not in query:  # Reddit/Algolia find "acmehelp" in "@acmehelp"; our parser does not
        _covers(compile_reddit(parse_query(query)), query, SAMPLES)
        _covers(compile_hn(parse_query(query)), query, SAMPLES)


def test_compile_reddit_uses_lucene_operators_and_drops_lang():
    q = parse_query("acme (widget OR gadget) -refund #acme lang:de")
    assert compile_reddit(q) == ["acme AND (widget OR gadget) AND acme AND NOT refund"]
    assert compile_reddit(parse_query("acme -refund -bank")) == ["acme AND NOT refund AND NOT bank"]


def test_compile_bluesky_one_search_per_alternative_with_lang_param():
    q = parse_query('(acme OR "acme widget") gadget -refund lang:pt')
    assert compile_bluesky(q) == [
        {"q": "acme gadget", "lang": "pt"},
        {"q": '"acme widget" gadget', "lang": "pt"},
    ]
    assert compile_bluesky(parse_query("#acme OR @acme.bsky.social")) == [
        {"q": "#acme"},
        {"q": "mentions:acme.bsky.social"},
    ]


def test_compile_hn_drops_redundant_alternatives():
    # "acme widget" is covered by the broader "acme"
    assert compile_hn(parse_query("acme OR (acme widget) OR globex")) == ["acme", "globex"]


def test_dnf_explosion_is_refused_with_a_hint():
    parts = " ".join(f"(a{i} OR b{i})" for i in range(7))  # 2**7 alternatives
    with pytest.raises(QueryCompileError, match=r"sources\.hackernews\.query"):
        compile_hn(parse_query(parts))


def test_mastodon_hashtags_come_from_hashtags_and_single_words():
    q = parse_query('#Acme OR "acme widget" OR globex OR coca-cola -refund')
    assert mastodon_hashtags(q) == ["acme", "globex"]
