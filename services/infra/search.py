"""Chinese full-text search that is indexed on SQLite (FTS5) and PostgreSQL (GIN over tsvector) alike.

Neither database segments Chinese, and a trigram index cannot answer a two-character query. So the text
is cut here into overlapping character bigrams, plus the last character of each Chinese run on its own,
and the database indexes those as words. A Chinese query of two or more characters becomes a phrase of
its bigrams, which matches exactly where the query is a substring of the text; a single character becomes
a prefix query (it starts a bigram, or it is a run's last character). Latin letters and digits are kept
as lower-cased words and matched by prefix. Each field is cut separately, so no phrase spans two fields.

"Chinese" is every letter or number that is written wide, not a list of blocks: the common ideographs, 〇,
extension A, extensions B to G in the supplementary planes, the compatibility ideographs (NFKC folds most
into unified ones), and kana and hangul alike. A fixed block list once left 〇 and the extensions out, so
a query made of them was dropped (the catalog then listed everything) and a run was cut at them (护𠮷理
matched 护理). Every other letter or number (accented Latin, Cyrillic …) stays in a word. Only
punctuation, symbols and spaces separate; nothing that is a character of the text is dropped.

People type abbreviations and English terms ("AI", "5G", "PPT", "nursing") for courses written in Chinese.
data/search-synonyms.csv lists groups of terms that find each other: a word of the query found there is
searched as any term of its group (an OR inside the one WHERE clause, so the query count does not change).
"""

import csv
import re
import unicodedata
from functools import cache
from itertools import groupby
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import QueryableAttribute

# Runs of letters and numbers (Python's word characters without the underscore), in any script and plane.
_WORD = re.compile(r"[^\W_]+")
_WIDE = frozenset("WF")


def _is_wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in _WIDE


def _runs(text: str) -> list[str]:
    """The text's runs: a word of narrow letters and digits, or a run of wide characters (cut into bigrams)."""
    runs = []
    for word in _WORD.findall(unicodedata.normalize("NFKC", text or "").lower()):
        if word.isascii():
            runs.append(word)  # the usual case, without a look at each character
        else:
            runs.extend("".join(part) for _, part in groupby(word, key=_is_wide))
    return runs


def _is_cjk(run: str) -> bool:
    return _is_wide(run[0])


def index_tokens(*fields: str) -> str:
    """The space-separated tokens stored in course.search_tokens for the given texts."""
    tokens: list[str] = []
    for text in fields:
        for run in _runs(text):
            if _is_cjk(run):
                tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
                tokens.append(run[-1])
            else:
                tokens.append(run)
    return " ".join(tokens)


def query_terms(query: str) -> list[tuple[list[str], bool]]:
    """The query as (tokens, is_prefix) groups; every group must match. Empty when nothing is searchable."""
    terms = []
    for run in _runs(query):
        if _is_cjk(run) and len(run) >= 2:
            terms.append(([run[i : i + 2] for i in range(len(run) - 1)], False))
        else:
            terms.append(([run], True))
    return terms


Terms = list[tuple[list[str], bool]]
SYNONYMS_FILE = Path(__file__).resolve().parents[2] / "data" / "search-synonyms.csv"


@cache
def synonyms() -> dict[str, tuple[str, ...]]:
    """Each one-word term of data/search-synonyms.csv (normalised as a query is) to the other terms of its
    groups. Read once per process: the table is data shipped with the code, not something edited live."""
    table: dict[str, list[str]] = {}
    with SYNONYMS_FILE.open(encoding="utf-8", newline="") as file:
        for row in csv.reader(line for line in file if line.strip() and not line.startswith("#")):
            group = [term.strip() for term in row if term.strip()]
            for term in group:
                runs = _runs(term)
                if len(runs) == 1:
                    others = table.setdefault(runs[0], [])
                    others.extend(other for other in group if other != term and other not in others)
    return {key: tuple(others) for key, others in table.items()}


def expanded_terms(query: str) -> list[list[Terms]]:
    """The query as groups that must all match, each a list of alternatives (of which one must match):
    the word itself, and the terms data/search-synonyms.csv gives for it. Empty when nothing is searchable."""
    table = synonyms()
    groups = []
    for run in _runs(query):
        alternatives = [query_terms(run)]
        for other in table.get(run, ()):
            terms = query_terms(other)
            if terms and terms not in alternatives:
                alternatives.append(terms)
        groups.append(alternatives)
    return groups


def _fts5_terms(terms: Terms) -> str:
    parts = []
    for tokens, prefix in terms:
        phrase = '"' + " ".join(tokens) + '"'
        parts.append(phrase + "*" if prefix else phrase)
    return " AND ".join(parts)


def _fts5_query(groups: list[list[Terms]]) -> str:
    return " AND ".join("(" + " OR ".join(f"({_fts5_terms(t)})" for t in group) + ")" for group in groups)


def _ts_terms(terms: Terms) -> str:
    parts = []
    for tokens, prefix in terms:
        parts.append(tokens[0] + ":*" if prefix else "(" + " <-> ".join(tokens) + ")")
    return " & ".join(parts)


def _tsquery(groups: list[list[Terms]]) -> str:
    return " & ".join("(" + " | ".join(f"({_ts_terms(t)})" for t in group) + ")" for group in groups)


def match_clause(id_column: QueryableAttribute[int], tokens_column: QueryableAttribute[str], query: str,
                 dialect: str) -> sa.ColumnElement[bool] | None:
    """A WHERE clause selecting the rows whose text contains the query, using the full-text index.

    Returns None when the query holds nothing searchable (only punctuation, say).
    """
    terms = expanded_terms(query)
    if not terms:
        return None
    if dialect == "postgresql":
        return sa.func.to_tsvector(sa.literal_column("'simple'"), tokens_column).op("@@")(
            sa.func.to_tsquery(sa.literal_column("'simple'"), _tsquery(terms))
        )
    matching: sa.Select[Any] = sa.select(sa.literal_column("rowid")).select_from(sa.table("course_fts")).where(
        sa.literal_column("course_fts").op("MATCH")(_fts5_query(terms))
    )
    return id_column.in_(matching)
