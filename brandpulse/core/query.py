"""Brand queries: a small boolean language, parsed with lark.

Syntax (one query per brand)::

    acme "acme widgets" #acme @acmehelp        terms, phrases, hashtags, mentions
    acme AND (widget OR gadget) NOT refund      AND / OR / NOT, parentheses
    acme widget                                 adjacent terms: implicit AND
    acme -refund -"acme bank"                   exclusions
    acme lang:en                                language filter (platform hint)

Operators are upper case (lower-case ``and``/``or``/``not`` are ordinary
words). Every alternative of a query needs at least one positive term: a query
of only exclusions or only ``lang:`` would match everything.

`match()` re-applies a query to a post's text: case- and accent-insensitive
(casefold + NFKD without combining marks), on token boundaries ("acme" does not
match "acmewidgets"), hashtag-aware (``#acme`` matches only the hashtag; the
term ``acme`` matches the word and the hashtag) and mention-aware (``@acme``
matches only the mention ``@acme``, also ``@acme.bsky.social`` or
``@acme@mastodon.social``). A post whose language is unknown satisfies
``lang:`` filters. Terms in scripts written without spaces (Chinese, Japanese,
Thai, ...) match as substrings.

The `compile_*` functions turn a query into each platform's search syntax.
Where a platform lacks an operator the compiled query is broader than the
brand query, never narrower; every fetched post is re-checked with `match()`.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Union

import regex
from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, VisitError

#: X API v2 recent search: longest query (characters), Pro/Enterprise have more.
X_MAX_QUERY = 512
#: Reddit search: longest `q`.
REDDIT_MAX_QUERY = 512
#: Most platform searches a DNF expansion may produce before we refuse.
MAX_SEARCHES = 32
#: Deepest nesting of NOT / groups a query may have (deeper ones are refused).
MAX_DEPTH = 64

_W = r"[\p{L}\p{M}\p{N}_]"

GRAMMAR = rf"""
?start: or_expr
?or_expr: and_expr (_OR and_expr)*
?and_expr: unary (_AND? unary)*
?unary: _NOT unary      -> negation
      | MINUS atom      -> exclusion
      | atom
?atom: PHRASE           -> phrase
     | HASHTAG          -> hashtag
     | MENTION          -> mention
     | LANG             -> lang
     | TERM             -> term
     | "(" or_expr ")"

_OR: "OR"
_AND: "AND"
_NOT: "NOT"
MINUS.3: /-(?=[^\s)])/
LANG.2: /lang:[A-Za-z]{{2,3}}(?:[-_][A-Za-z0-9]{{2,8}})?(?![^\s()])/
PHRASE: /"[^"]*"/
HASHTAG.2: /#{_W}+(?![^\s()])/
MENTION.2: /@{_W}+(?:[.@-]{_W}+)*(?![^\s()])/
TERM: /[^\s()"#@\-][^\s()"]*/
%ignore /\s+/
"""


class QuerySyntaxError(ValueError):
    """A query that cannot be parsed; names line and column and shows a caret."""

    def __init__(self, message: str, text: str, line: int = 1, column: int = 1) -> None:
        self.reason = message
        self.line = line
        self.column = column
        lines = text.splitlines() or [""]
        shown = lines[line - 1] if 0 < line <= len(lines) else ""
        caret = " " * (column - 1) + "^"
        super().__init__(f"query line {line}, column {column}: {message}\n  {shown}\n  {caret}")


class QueryCompileError(ValueError):
    """A query that a platform's search syntax cannot express (even broadened)."""


# --- the AST -----------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """A word (or a hyphenated/punctuated word, matched as a phrase of its tokens)."""

    text: str
    pos: tuple[int, int] = field(default=(1, 1), compare=False)


@dataclass(frozen=True)
class Phrase:
    text: str
    pos: tuple[int, int] = field(default=(1, 1), compare=False)


@dataclass(frozen=True)
class Hashtag:
    tag: str  # without '#', as written
    pos: tuple[int, int] = field(default=(1, 1), compare=False)


@dataclass(frozen=True)
class Mention:
    handle: str  # without '@', as written
    pos: tuple[int, int] = field(default=(1, 1), compare=False)


@dataclass(frozen=True)
class Lang:
    code: str  # lower case, e.g. "en" or "pt-br"
    pos: tuple[int, int] = field(default=(1, 1), compare=False)


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    child: Node


Atom = Union[Term, Phrase, Hashtag, Mention, Lang]  # noqa: UP007 (runtime isinstance)
Node = Union[Atom, And, Or, Not]  # noqa: UP007
ATOMS = (Term, Phrase, Hashtag, Mention, Lang)


def label(atom: Atom) -> str:
    """How an atom is reported in `matched_terms` (as written in the query)."""
    if isinstance(atom, Phrase):
        return f'"{atom.text}"'
    if isinstance(atom, Hashtag):
        return f"#{atom.tag}"
    if isinstance(atom, Mention):
        return f"@{atom.handle}"
    if isinstance(atom, Lang):
        return f"lang:{atom.code}"
    return atom.text


# --- text normalisation and tokens -------------------------------------------

_TOKEN = regex.compile(
    rf"(?P<mention>(?<![\p{{L}}\p{{M}}\p{{N}}_@.])@{_W}+(?:[.@-]{_W}+)*)"
    rf"|(?P<hashtag>(?<![\p{{L}}\p{{M}}\p{{N}}_&#])#{_W}+)"
    rf"|(?P<word>{_W}+)"
)
_NO_SPACE_SCRIPTS = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}]")


def fold(text: str) -> str:
    """Case- and accent-insensitive form: NFKD, casefold, combining marks removed."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def words(text: str) -> tuple[str, ...]:
    """Folded word tokens of a term or phrase (punctuation separates words)."""
    return tuple(m.group() for m in regex.finditer(f"{_W}+", fold(text)))


@dataclass
class _Tokens:
    """A post's text, folded and tokenised once for all atoms of all queries."""

    folded: str
    seq: list[tuple[str, str]]  # (token, kind): kind is word | hashtag | mention
    starts: dict[str, list[int]]

    @classmethod
    def of(cls, text: str) -> _Tokens:
        folded = fold(text)
        seq: list[tuple[str, str]] = []
        starts: dict[str, list[int]] = {}
        for m in _TOKEN.finditer(folded):
            kind = m.lastgroup or "word"
            token = m.group()[1:] if kind != "word" else m.group()
            starts.setdefault(token, []).append(len(seq))
            seq.append((token, kind))
        return cls(folded, seq, starts)

    def has_sequence(self, tokens: tuple[str, ...]) -> bool:
        if not tokens:
            return False
        for i in self.starts.get(tokens[0], ()):
            window = self.seq[i : i + len(tokens)]
            if len(window) == len(tokens) and all(
                kind != "mention" and tok == want for (tok, kind), want in zip(window, tokens, strict=True)
            ):
                return True
        return False

    def has_hashtag(self, tag: str) -> bool:
        return any(kind == "hashtag" for _, kind in self._at(tag))

    def has_mention(self, handle: str) -> bool:
        return any(
            kind == "mention" and (tok == handle or tok.startswith((handle + "@", handle + ".")))
            for tok, kind in self.seq
        )

    def _at(self, token: str) -> list[tuple[str, str]]:
        return [self.seq[i] for i in self.starts.get(token, ())]


def _atom_true(atom: Atom, tokens: _Tokens, lang: str | None) -> bool:
    if isinstance(atom, Lang):
        if not lang:
            return True
        have = lang.lower().replace("_", "-")
        return have == atom.code or have.startswith(atom.code + "-")
    if isinstance(atom, Hashtag):
        return tokens.has_hashtag(fold(atom.tag))
    if isinstance(atom, Mention):
        return tokens.has_mention(fold(atom.handle))
    if _NO_SPACE_SCRIPTS.search(atom.text):
        needle = " ".join(words(atom.text))
        return bool(needle) and needle in tokens.folded
    return tokens.has_sequence(words(atom.text))


# --- parsing -----------------------------------------------------------------


@lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(GRAMMAR, parser="lalr", lexer="basic", regex=True, propagate_positions=True)


def _pos(token: Token) -> tuple[int, int]:
    return (token.line or 1, token.column or 1)


class _Build(Transformer):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def _err(self, message: str, token: Token) -> QuerySyntaxError:
        return QuerySyntaxError(message, self.text, *_pos(token))

    def term(self, items: list[Token]) -> Term:
        (tok,) = items
        if tok.value.lower().startswith("lang:"):
            raise self._err("invalid language filter (use lang:xx, e.g. lang:en or lang:pt-br)", tok)
        if not words(tok.value):
            raise self._err(f"term {tok.value!r} has no letters or digits", tok)
        return Term(tok.value, _pos(tok))

    def phrase(self, items: list[Token]) -> Phrase:
        (tok,) = items
        inner = " ".join(tok.value[1:-1].split())
        if not words(inner):
            raise self._err("empty phrase", tok)
        return Phrase(inner, _pos(tok))

    def hashtag(self, items: list[Token]) -> Hashtag:
        (tok,) = items
        return Hashtag(tok.value[1:], _pos(tok))

    def mention(self, items: list[Token]) -> Mention:
        (tok,) = items
        return Mention(tok.value[1:], _pos(tok))

    def lang(self, items: list[Token]) -> Lang:
        (tok,) = items
        return Lang(tok.value[5:].lower().replace("_", "-"), _pos(tok))

    def negation(self, items: list) -> Not:
        return Not(items[-1])

    def exclusion(self, items: list) -> Not:
        return Not(items[-1])

    def and_expr(self, items: list) -> And:
        return And(_flatten(And, items))

    def or_expr(self, items: list) -> Or:
        return Or(_flatten(Or, items))


def _flatten(kind: type[And] | type[Or], items: Iterable[Node]) -> tuple[Node, ...]:
    out: list[Node] = []
    for item in items:
        out.extend(item.children if isinstance(item, kind) else [item])
    return tuple(out)


def _anchored(node: Node) -> bool:
    """True when every way the node can match needs a positive term."""
    if isinstance(node, (Term, Phrase, Hashtag, Mention)):
        return True
    if isinstance(node, Not) and isinstance(node.child, Not):
        return _anchored(node.child.child)
    if isinstance(node, (Lang, Not)):
        return False
    if isinstance(node, And):
        return any(_anchored(c) for c in node.children)
    return all(_anchored(c) for c in node.children)


def _first_pos(node: Node) -> tuple[int, int]:
    if isinstance(node, ATOMS):
        return node.pos
    if isinstance(node, Not):
        return _first_pos(node.child)
    return _first_pos(node.children[0])


def _explain(exc: UnexpectedInput, text: str) -> str:
    if isinstance(exc, UnexpectedEOF) or getattr(getattr(exc, "token", None), "type", "") == "$END":
        return "unexpected end of query (missing term or closing parenthesis?)"
    if isinstance(exc, UnexpectedCharacters):
        char = exc.char
        hints = {
            '"': "unterminated phrase (missing closing quote)",
            "#": "'#' must be followed by letters or digits (a hashtag)",
            "@": "'@' must be followed by a handle",
            "-": "'-' must be attached to the term it excludes, e.g. -refund",
            ")": "unbalanced ')'",
        }
        return hints.get(char, f"unexpected character {char!r}")
    token = exc.token  # type: ignore[attr-defined]
    if token.type == "RPAR":
        return "unbalanced ')' (or an empty group)"
    if token.type in ("_AND", "_OR", "AND", "OR"):
        return f"{token.value} needs a term on both sides"
    return f"unexpected {token.value!r}"


@dataclass(frozen=True)
class MatchResult:
    matched: bool
    terms: list[str]


@dataclass(frozen=True)
class Query:
    """A parsed brand query."""

    text: str
    root: Node

    def match(self, text: str, lang: str | None = None) -> MatchResult:
        return match(self, text, lang)

    @property
    def fingerprint(self) -> str:
        """Short stable id of the query text (cursor keys change when it changes)."""
        return hashlib.sha1(self.text.encode("utf-8"), usedforsecurity=False).hexdigest()[:12]

    def positive_atoms(self) -> list[Atom]:
        return _positive_atoms(self.root)


def parse_query(text: str, require_positive: bool = True) -> Query:
    """Parse a brand query; raise QuerySyntaxError (a ValueError) with line/column.

    `require_positive=False` accepts alternatives of only exclusions (`-refund`):
    right for searching indexed mentions, never for a brand query."""
    if not text or not text.strip():
        raise QuerySyntaxError("empty query", text or "", 1, 1)
    try:
        tree = _parser().parse(text)
        root = _Build(text).transform(tree)
    except UnexpectedInput as exc:
        line, column = exc.line if exc.line > 0 else 1, exc.column if exc.column > 0 else 1
        if isinstance(exc, UnexpectedEOF) or getattr(getattr(exc, "token", None), "type", "") == "$END":
            lines = text.splitlines() or [""]
            line, column = len(lines), len(lines[-1]) + 1
        raise QuerySyntaxError(_explain(exc, text), text, line, column) from None
    except VisitError as exc:  # lark wraps errors raised in the transformer
        if isinstance(exc.orig_exc, QuerySyntaxError):
            raise exc.orig_exc from None
        if isinstance(exc.orig_exc, RecursionError):
            raise QuerySyntaxError(f"nested too deeply (at most {MAX_DEPTH} levels)", text) from None
        raise
    except RecursionError:
        raise QuerySyntaxError(f"nested too deeply (at most {MAX_DEPTH} levels)", text) from None
    if _depth(root) > MAX_DEPTH:
        raise QuerySyntaxError(f"nested too deeply (at most {MAX_DEPTH} levels)", text)
    bad = _unanchored_branch(root) if require_positive else None
    if bad is not None:
        line, column = _first_pos(bad)
        raise QuerySyntaxError(
            "every alternative needs a positive term (only exclusions or lang: match everything)",
            text,
            line,
            column,
        )
    return Query(text, root)


def _depth(root: Node) -> int:
    """Nesting depth of the AST, walked without recursion."""
    deepest, stack = 0, [(root, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(node, Not):
            stack.append((node.child, depth + 1))
        elif isinstance(node, (And, Or)):
            stack.extend((c, depth + 1) for c in node.children)
    return deepest


def _unanchored_branch(node: Node) -> Node | None:
    if isinstance(node, Or):
        return next((c for c in node.children if not _anchored(c)), None)
    return None if _anchored(node) else node


# --- local matching ----------------------------------------------------------


def match(query: Query | Node, text: str, lang: str | None = None) -> MatchResult:
    """Re-apply a query to a post: matched or not, and which positive terms occur."""
    return _match(query, _Tokens.of(text or ""), lang)


def _match(query: Query | Node, tokens: _Tokens, lang: str | None) -> MatchResult:
    root = query.root if isinstance(query, Query) else query
    truth: dict[Atom, bool] = {}

    def atom(a: Atom) -> bool:
        if a not in truth:
            truth[a] = _atom_true(a, tokens, lang)
        return truth[a]

    def ev(node: Node) -> bool:
        if isinstance(node, ATOMS):
            return atom(node)
        if isinstance(node, Not):
            return not ev(node.child)
        if isinstance(node, And):
            return all(ev(c) for c in node.children)
        return any(ev(c) for c in node.children)

    if not ev(root):
        return MatchResult(False, [])
    found = [label(a) for a in _positive_atoms(root) if not isinstance(a, Lang) and atom(a)]
    return MatchResult(True, list(dict.fromkeys(found)))


def _positive_atoms(node: Node, positive: bool = True) -> list[Atom]:
    if isinstance(node, ATOMS):
        return [node] if positive else []
    if isinstance(node, Not):
        return _positive_atoms(node.child, not positive)
    return [a for c in node.children for a in _positive_atoms(c, positive)]


@dataclass(frozen=True)
class BrandMatches:
    """Which brands a post matches, and the terms that matched (per brand and all)."""

    by_brand: dict[str, list[str]]

    @property
    def brands(self) -> list[str]:
        return list(self.by_brand)

    @property
    def terms(self) -> list[str]:
        return list(dict.fromkeys(t for terms in self.by_brand.values() for t in terms))


def match_brands(queries: Iterable[tuple[str, Query]], text: str, lang: str | None = None) -> BrandMatches:
    """Match one post against several brands' queries (one post can match two)."""
    tokens = _Tokens.of(text or "")
    hits: dict[str, list[str]] = {}
    for brand, query in queries:
        result = _match(query, tokens, lang)
        if result.matched:
            hits[brand] = result.terms
    return BrandMatches(hits)


# --- compiling to platform syntax --------------------------------------------


def _broaden(node: Node, supported: Callable[[Atom], bool], positive: bool = True) -> Node | bool:
    """Replace unsupported atoms so that the result matches a superset of `node`."""
    if isinstance(node, ATOMS):
        return node if supported(node) else positive
    if isinstance(node, Not):
        inner = _broaden(node.child, supported, not positive)
        return (not inner) if isinstance(inner, bool) else Not(inner)
    parts = [_broaden(c, supported, positive) for c in node.children]
    if isinstance(node, And):
        if any(p is False for p in parts):
            return False
        kept = [p for p in parts if not isinstance(p, bool)]
        return True if not kept else kept[0] if len(kept) == 1 else And(_flatten(And, kept))
    if any(p is True for p in parts):
        return True
    kept = [p for p in parts if not isinstance(p, bool)]
    return False if not kept else kept[0] if len(kept) == 1 else Or(_flatten(Or, kept))


def _broadened(query: Query | Node, supported: Callable[[Atom], bool], platform: str) -> Node:
    root = query.root if isinstance(query, Query) else query
    result = _broaden(root, supported)
    if isinstance(result, bool):
        raise QueryCompileError(
            f"{platform} search cannot express this query selectively; set "
            f"sources.{platform}.query to a native query"
        )
    return result


def _quote_if_needed(text: str) -> str:
    return text if regex.fullmatch(f"{_W}+", text) else f'"{text}"'


# X API v2 -----------------------------------------------------------------

_X_HANDLE = regex.compile(r"[A-Za-z0-9_]{1,15}")


def _x_supported(atom: Atom) -> bool:
    return not isinstance(atom, Mention) or bool(_X_HANDLE.fullmatch(atom.handle))


def render_x(node: Node, top: bool = True) -> str:
    """One X search query (no length check)."""
    if isinstance(node, Term):
        return _quote_if_needed(node.text)
    if isinstance(node, Phrase):
        return f'"{node.text}"'
    if isinstance(node, (Hashtag, Mention, Lang)):
        return label(node)
    if isinstance(node, Not):
        inner = render_x(node.child, top=False)
        return f"-({inner})" if isinstance(node.child, And) else f"-{inner}"
    if isinstance(node, And):
        return " ".join(render_x(c, top=False) for c in node.children)
    body = " OR ".join(render_x(c, top=False) for c in node.children)
    return body if top else f"({body})"


def _split(node: Node, limit: int, render: Callable[[Node], str]) -> list[Node]:
    """Split `node` into queries whose union is `node` (or broader), each ≤ limit."""
    if len(render(node)) <= limit:
        return [node]
    if isinstance(node, Or):
        groups: list[list[Node]] = []
        current: list[Node] = []
        for child in node.children:
            for part in _split(child, limit, render):
                if current and len(render(Or(tuple([*current, part])))) > limit:
                    groups.append(current)
                    current = []
                current.append(part)
        groups.append(current)
        return [g[0] if len(g) == 1 else Or(tuple(g)) for g in groups]
    if isinstance(node, And):
        ors = [c for c in node.children if isinstance(c, Or)]
        if ors:
            target = max(ors, key=lambda c: len(render(c)))
            rest = [c for c in node.children if c is not target]
            overhead = len(render(And(tuple(rest)))) + 3 if rest else 0
            if limit - overhead > 0:
                out: list[Node] = []
                for part in _split(target, limit - overhead, render):
                    combined = And(_flatten(And, [*rest, part])) if rest else part
                    out.extend(_split(combined, limit, render))
                return out
        negated = [c for c in node.children if isinstance(c, Not)]
        if negated:  # dropping an exclusion only broadens; the local re-check applies it
            longest = max(negated, key=lambda c: len(render(c)))
            rest = [c for c in node.children if c is not longest]
            return _split(rest[0] if len(rest) == 1 else And(tuple(rest)), limit, render)
    raise QueryCompileError(f"cannot fit query part into {limit} characters: {render(node)[:80]}...")


def compile_x(query: Query | Node, limit: int = X_MAX_QUERY) -> list[str]:
    """X API v2 search queries (each ≤ `limit` chars); their union covers the query.

    Retweets are kept (the connector maps them to kind "repost").
    """
    root = _broadened(query, _x_supported, "x")
    return [render_x(part) for part in _split(root, limit, render_x)]


# Reddit ---------------------------------------------------------------------


def _reddit_supported(atom: Atom) -> bool:
    return not isinstance(atom, Lang)


def render_reddit(node: Node, top: bool = True) -> str:
    """Reddit (lucene) search syntax; hashtags and mentions become plain words."""
    if isinstance(node, Term):
        return _quote_if_needed(node.text)
    if isinstance(node, Phrase):
        return f'"{node.text}"'
    if isinstance(node, Hashtag):
        return _quote_if_needed(node.tag)
    if isinstance(node, Mention):
        return _quote_if_needed(node.handle)
    if isinstance(node, Not):
        return f"NOT {render_reddit(node.child, top=False)}"
    if isinstance(node, And):
        ordered = sorted(node.children, key=lambda c: isinstance(c, Not))  # NOT never first
        body = " AND ".join(render_reddit(c, top=False) for c in ordered)
        return body if top else f"({body})"
    body = " OR ".join(render_reddit(c, top=False) for c in node.children)  # type: ignore[union-attr]
    return body if top else f"({body})"


def compile_reddit(query: Query | Node, limit: int = REDDIT_MAX_QUERY) -> list[str]:
    """Reddit search queries (lucene syntax, each ≤ `limit` chars)."""
    root = _broadened(query, _reddit_supported, "reddit")
    return [render_reddit(part) for part in _split(root, limit, render_reddit)]


# DNF-based platforms (no OR operator): Bluesky, Hacker News, Mastodon -------------


def _dnf(node: Node) -> list[list[Atom]]:
    """Positive conjunctions whose union covers `node` (exclusions dropped: broader)."""
    if isinstance(node, ATOMS):
        return [[node]]
    if isinstance(node, Not):
        return [[]]  # "anything": the local re-check applies the exclusion
    if isinstance(node, Or):
        return [conj for c in node.children for conj in _dnf(c)]
    result: list[list[Atom]] = [[]]
    for child in node.children:
        result = [a + b for a in result for b in _dnf(child)]
        if len(result) > MAX_SEARCHES * 4:
            break
    return result


def _conjunctions(query: Query | Node, platform: str) -> list[list[Atom]]:
    root = query.root if isinstance(query, Query) else query
    seen: list[list[Atom]] = []
    for conj in _dnf(root):
        unique = list(dict.fromkeys(conj))
        if not any(not isinstance(a, Lang) for a in unique):
            raise QueryCompileError(f"{platform} search cannot express this query selectively")
        if unique not in seen:
            seen.append(unique)
    # a conjunction containing another one is redundant (the smaller is broader)
    minimal = [c for c in seen if not any(o != c and set(o) <= set(c) for o in seen)]
    if len(minimal) > MAX_SEARCHES:
        raise QueryCompileError(
            f"query expands to {len(minimal)} {platform} searches (limit {MAX_SEARCHES}); "
            f"simplify it or set sources.{platform}.query"
        )
    return minimal


def compile_bluesky(query: Query | Node) -> list[dict[str, str]]:
    """`app.bsky.feed.searchPosts` parameter sets (q and optional lang), one per search.

    searchPosts has no OR: each alternative becomes its own search; exclusions
    are left to the local re-check.
    """
    out: list[dict[str, str]] = []
    for conj in _conjunctions(query, "bluesky"):
        parts: list[str] = []
        langs = [a.code for a in conj if isinstance(a, Lang)]
        for a in conj:
            if isinstance(a, (Term, Phrase)):
                parts.append(f'"{a.text}"' if isinstance(a, Phrase) else _quote_if_needed(a.text))
            elif isinstance(a, Hashtag):
                parts.append(f"#{a.tag}")
            elif isinstance(a, Mention):
                parts.append(f"mentions:{a.handle}" if "." in a.handle else a.handle)
        params = {"q": " ".join(parts)}
        if len(set(langs)) == 1:
            params["lang"] = langs[0]
        out.append(params)
    return out


def compile_hn(query: Query | Node) -> list[str]:
    """Hacker News (Algolia) queries: all words required, "phrases" quoted.

    Algolia has no OR or NOT in the query string: one query per alternative,
    exclusions, lang: and the #/@ prefixes are left to the local re-check.
    """
    out: list[str] = []
    for conj in _conjunctions(query, "hackernews"):
        parts = []
        for a in conj:
            if isinstance(a, Phrase):
                parts.append(f'"{a.text}"')
            elif isinstance(a, (Term, Hashtag, Mention)):
                text = a.text if isinstance(a, Term) else a.tag if isinstance(a, Hashtag) else a.handle
                tokens = words(text)
                parts.append(tokens[0] if len(tokens) == 1 else f'"{" ".join(tokens)}"')
        out.append(" ".join(dict.fromkeys(parts)))
    return list(dict.fromkeys(out))


def compile_mastodon(query: Query | Node) -> list[str]:
    """Mastodon full-text search strings (same shape as Hacker News: no OR)."""
    return compile_hn(query)


def mastodon_hashtags(query: Query | Node) -> list[str]:
    """Hashtag timelines worth following: positive hashtags and one-word terms."""
    atoms = query.positive_atoms() if isinstance(query, Query) else _positive_atoms(query)
    tags: list[str] = []
    for a in atoms:
        if isinstance(a, Hashtag):
            tags.append(a.tag)
        elif isinstance(a, Term) and regex.fullmatch(f"{_W}+", a.text):
            tags.append(a.text)
    return list(dict.fromkeys(fold(t) for t in tags))
