"""Chinese full-text search that is indexed on SQLite (FTS5) and PostgreSQL (GIN over tsvector) alike.

Neither database segments Chinese, and a trigram index cannot answer a two-character query. So the text
is cut here into overlapping character bigrams, plus the last character of each Chinese run on its own,
and the database indexes those as words. A Chinese query of two or more characters becomes a phrase of
its bigrams, which matches exactly where the query is a substring of the text; a single character becomes
a prefix query (it starts a bigram, or it is a run's last character). Latin letters and digits are kept
as lower-cased words and matched by prefix. Each field is cut separately, so no phrase spans two fields.
"""

import re
import unicodedata

import sqlalchemy as sa

# Chinese characters (CJK unified ideographs and extension A, compatibility ideographs).
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUN = re.compile(f"[{_CJK}]+|[a-z0-9]+")


def _runs(text: str) -> list[str]:
    return _RUN.findall(unicodedata.normalize("NFKC", text or "").lower())


def _is_cjk(run: str) -> bool:
    return not run[0].isascii()


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


def _fts5_query(terms) -> str:
    parts = []
    for tokens, prefix in terms:
        phrase = '"' + " ".join(tokens) + '"'
        parts.append(phrase + "*" if prefix else phrase)
    return " AND ".join(parts)


def _tsquery(terms) -> str:
    parts = []
    for tokens, prefix in terms:
        parts.append(tokens[0] + ":*" if prefix else "(" + " <-> ".join(tokens) + ")")
    return " & ".join(parts)


def match_clause(id_column, tokens_column, query: str, dialect: str):
    """A WHERE clause selecting the rows whose text contains the query, using the full-text index.

    Returns None when the query holds nothing searchable (only punctuation, say).
    """
    terms = query_terms(query)
    if not terms:
        return None
    if dialect == "postgresql":
        return sa.func.to_tsvector(sa.literal_column("'simple'"), tokens_column).op("@@")(
            sa.func.to_tsquery(sa.literal_column("'simple'"), _tsquery(terms))
        )
    matching = sa.select(sa.literal_column("rowid")).select_from(sa.table("course_fts")).where(
        sa.literal_column("course_fts").op("MATCH")(_fts5_query(terms))
    )
    return id_column.in_(matching)
