"""Search the index: a small query language over names, path words, extensions, sizes, dates and audio tags.

Contract: `parse(text)` turns a query into a Query or raises QueryError naming the bad term. Terms (ANDed):
plain words or "quoted phrases" (in a file's name, its folder's path, its artist, album or title; the last
unquoted word matches as a prefix, for search as you type), `ext:jpg` (several: any of them),
`size>10M` `size>=` `size<1G` `size<=` (bytes, or K M G T: powers of 1024), `after:2024-01-01` (modified
at or after that day's start, UTC; a time may follow, "2024-01-01T12:00"), `before:...` (modified before it),
`artist:` `album:` `title:` (a word or "a phrase" in that tag).
`search(config, db, principal, query, within=None, limit=100)` answers (results, truncated) from the volumes
where the principal has the list right, and only those (the database filters by volume, so a limit never
hides results), below the folder `within` (a volume path) if given; access.require decides `within` and
refuses as everywhere else, and an anonymous principal that may list no volume at all is asked to log in.
Each result is {"path", "name", "size", "mtime", "tags"?} (tags as tags.as_json, for files that have some).
"""
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

from . import access, tags
from .access import Action
from .refusal import Kind, Refused

MAX_LIMIT = 1000
TAG_FIELDS = ("artist", "album", "title")
TEXT_COLUMNS = "{name folder artist album title}"
UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_TERM = re.compile(r'(?:[^\s"]*"[^"]*"|[^\s"]+)+|"')   # a lone quote left over is unbalanced
_FIELD = re.compile(r"([A-Za-z]+)(:|>=|<=|>|<)(.*)\Z", re.S)
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\Z", re.I)
_WORD = re.compile(r"\w")


class QueryError(ValueError):
    """A query that cannot be understood; the message names the bad term."""


@dataclass
class Query:
    """A parsed query: FTS phrases and the bounds the database filters by."""
    words: list = field(default_factory=list)       # (text, prefix) in any text column
    exts: list = field(default_factory=list)
    tags: list = field(default_factory=list)        # (field, text)
    size_min: int | None = None
    size_max: int | None = None
    after_ns: int | None = None
    before_ns: int | None = None

    def match(self):
        """The FTS5 query string (SQLite's syntax), or None when only bounds were given."""
        parts = [f"{TEXT_COLUMNS} : {_phrase(text)}{'*' if prefix else ''}" for text, prefix in self.words]
        parts += [f"{name} : {_phrase(text)}" for name, text in self.tags]
        if self.exts:
            parts.append(f"ext : ({' OR '.join(_phrase(e) for e in self.exts)})")
        return " AND ".join(parts) or None


def _phrase(text):
    """An FTS5 string literal (its tokenizer splits it into words: a phrase)."""
    return '"' + text.replace('"', '""') + '"'


def _unquote(text):
    return text.replace('"', "")


def _size(term, value):
    match = _SIZE.match(value)
    if not match:
        raise QueryError(f"bad size in {term!r}: give bytes or a number with K, M, G or T (size>10M)")
    return int(float(match.group(1)) * UNITS[match.group(2).lower()])


def _time_ns(term, value):
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise QueryError(f"bad date in {term!r}: give YYYY-MM-DD (after:2024-01-31)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp()) * 10 ** 9


def _bound(query, term, name, op, value):
    """Apply one size, date, extension or tag term to the query."""
    if name == "size" and op != ":":
        size = _size(term, value)
        if op[0] == ">":
            query.size_min = size + (op == ">")
        else:
            query.size_max = size - (op == "<")
    elif op != ":":
        raise QueryError(f"unknown term {term!r}: only size compares with > or <")
    elif name in ("after", "before"):
        setattr(query, f"{name}_ns", _time_ns(term, value))
    elif name == "ext":
        if not value.lstrip(".").isalnum():
            raise QueryError(f"bad extension in {term!r}: letters and digits only (ext:jpg)")
        query.exts.append(value.lstrip(".").lower())
    elif name in TAG_FIELDS:
        if not _WORD.search(value):
            raise QueryError(f"empty value in {term!r}: give a word or a \"phrase\" ({name}:beatles)")
        query.tags.append((name, value))
    else:
        raise QueryError(f"unknown term {term!r}: use words, ext:, size>, size<, after:, before:, artist:, "
                         "album: or title:")


def parse(text):
    """The Query of a search text; QueryError naming the first bad term."""
    query = Query()
    terms = _TERM.findall(text)
    if '"' in terms:
        raise QueryError("unbalanced quote: close every \"phrase\"")
    last_plain = None
    for term in terms:
        named = _FIELD.match(term)
        if named:
            _bound(query, term, named.group(1).lower(), named.group(2), _unquote(named.group(3)))
        elif _WORD.search(term):
            query.words.append((_unquote(term), False))
            last_plain = len(query.words) - 1 if '"' not in term else None
    if last_plain is not None:
        query.words[last_plain] = (query.words[last_plain][0], True)
    if query == Query():
        raise QueryError("empty query: give words, ext:, size>, size<, after:, before:, artist:, album: or title:")
    return query


def scopes(config, principal, within=None):
    """The (volume URL, relpath) pairs a principal may search: each listable volume whole, or below `within`
    only the part of it (its own volume from the folder down, and the listable volumes mounted below it)."""
    if within is not None:
        decision = access.require(config, principal, Action.LIST, within)
        inside = access.split_vpath(within)
    found = []
    for volume in config.volumes:
        if not access.decide(config, principal, Action.LIST, volume.url):
            continue
        if within is None:
            found.append((volume.url, ""))
        elif volume is decision.volume:
            found.append((volume.url, decision.relpath))
        elif access.split_vpath(volume.url)[:len(inside)] == inside:
            found.append((volume.url, ""))
    if not found and principal.anonymous:
        raise Refused(Kind.LOGIN_NEEDED, "log in to search")
    return found


def result(config, row):
    """One search result of a database row."""
    relpath = row["relpath"]
    entry = {"path": access.vpath_of(config.volume(row["volume"]), relpath), "name": relpath.rpartition("/")[2],
             "size": row["size"], "mtime": row["mtime_ns"] // 10 ** 9}
    found = tags.as_json(row)
    if found is not None:
        entry["tags"] = found
    return entry


def search(config, db, principal, query, within=None, limit=100):
    """(results, truncated) of a parsed Query for a principal (see the contract)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise QueryError(f"limit must be a number from 1 to {MAX_LIMIT}")
    rows = db.search(scopes(config, principal, within), query.match(), query.size_min, query.size_max,
                     query.after_ns, query.before_ns, limit + 1)
    return [result(config, row) for row in rows[:limit]], len(rows) > limit
