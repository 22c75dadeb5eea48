"""Conflict check for a new registration against other partners' active registrations.

A conflict is an exact match of the customer's web domain, or a normalised company name
(``bot.kernel.companies.normalize_company``: case, punctuation, legal suffixes) whose similarity reaches
``CONFLICT_THRESHOLD`` (``bot.kernel.companies.company_similarity``).

Finding the candidates. Scoring a new name against every active registration costs what the table
holds (about 0.4 s at a million names). Instead, a :class:`NameIndex` per database, kept in this
process, maps *blocking keys* of every customer's name to customer ids:

- each word of the name, and the words written together ("globex industries" -> "globexindustries");
  the new name's rarest words are looked up with every spelling one edit away (a letter deleted,
  inserted, replaced, or two swapped), which finds typos in any position, reordered words, and a
  name inside a longer one ("globex" ~ "globex industries");
- *pair signatures* of the words written together, and of each long word that is not common: the text
  cut into four parts, and every two parts with their position. Two edits leave at least two parts
  whole, so any text within two edits of the new one shares a signature with it (the pigeonhole
  filter of PassJoin, Li et al. 2011).

Keys that very many customers share (a sector word such as "systems") are skipped when rarer ones
exist, within :data:`CANDIDATE_BUDGET`; a name made only of such words is compared with the customers
sharing its rarest word. The index also keeps every customer's name key and partner (compactly: one
UTF-8 blob and arrays), so the candidates are scored in memory - narrowed by rapidfuzz's C scorers,
decided by ``company_similarity`` - and only the few that match go to the database.

The database stays the truth. Whether a registration is active and whose it is comes from the query
in the caller's transaction, so approvals, rejections and expiries need no hook. The index only has to
know every customer: each check reads the customers with an id above its watermark - so a
registration committed by another process (a second replica, the CLI) is seen - and, for
:data:`HOLE_TTL` seconds, ids it found missing below the watermark (a transaction still open when it
passed them). It reads them in the same statement as the registrations of the customers the index
found similar (one round trip), and scores them there and then. The customer of the registration in
progress is left out until it is committed, so a rolled-back insert never leaves a wrong name behind
an id that SQLite may hand out again.

Loading. The first check starts loading every customer in the background, in its own session (the
CPU part in a worker thread), and waits for it up to :data:`LOAD_WAIT` seconds; a check that finds
the index still loading after that uses the previous method - candidates whose name starts with the
same :data:`BLOCK_PREFIX` letters, or share the domain, straight from the database - rather than hold
its transaction (on SQLite, the write lock) for the seconds a million names take. :func:`warm` loads
the index ahead of time, e.g. at start-up.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from rapidfuzz import fuzz, process
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from bot.kernel.companies import CONFLICT_THRESHOLD, MIN_CONTAINMENT_LENGTH, company_similarity
from store import conflict_queries, deal_queries
from store.db import Database

log = logging.getLogger(__name__)

CANDIDATE_BUDGET = 200
"""At most this many candidates come from keys with more than :data:`SMALL_KEY` customers."""
SMALL_KEY = 8
"""A key shared by this few customers is always looked at."""
MAX_CANDIDATES = 20_000
"""Cap for a name made only of very common words (its rarest word's customers)."""
FUZZY_WORDS = 3
"""How many of the new name's words are looked up with their one-edit spellings (the rarest)."""
FREQUENT_SHARE = 0.001
"""A word in this share of the names (in the first page loaded) is common: it gets no signatures."""
PAIR_MIN = 8
"""Names this long (words written together) get pair signatures; a shorter single word with two
edits is not similar enough to be a conflict anyway."""
WORD_PAIR_MIN = 9
"""Words this long that are not frequent get pair signatures of their own, in names of several words."""
LOAD_WAIT = 2.0
"""Seconds a check waits for the first load before it falls back to the prefix query."""
BLOCK_PREFIX = 3
"""The fallback's blocking key: the first letters of the name key."""
HOLE_TTL = 900.0
"""Seconds an id missing below the watermark is looked for again (an open transaction's insert)."""
MAX_HOLES = 10_000
LOAD_PAGE = 50_000
COMPACT_MIN = 50_000
"""Recent additions live in a dict; past this many postings (or an eighth of the index) they are
merged into the sorted arrays in the background."""
NATIVE_FROM = 48
"""From this many candidates on, rapidfuzz's C scorers narrow them before ``company_similarity``."""

_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_HASH_BITS = 31
_ID_BITS = 32
_ID_MASK = (1 << _ID_BITS) - 1
_BUCKET_BITS = 18
_SHIFT = _HASH_BITS + _ID_BITS - _BUCKET_BITS
_CUTOFF = CONFLICT_THRESHOLD - 1e-9


# -- blocking keys ------------------------------------------------------------------------------------


_HASH_MASK = (1 << _HASH_BITS) - 1


def _hash(key: str) -> int:
    return hash(key) & _HASH_MASK


def _words(name_key: str) -> list[str]:
    return list(dict.fromkeys(name_key.split()))


def _bounds(n: int) -> tuple[int, int, int, int, int]:
    return 0, n // 4, n // 2, 3 * n // 4, n


def _pair_key(n: int, a: int, c: int, left: str, right: str) -> str:
    return f"p{n}:{a}{c}:{left}|{right}"


def pair_signatures(text: str) -> list[str]:
    """Every two of the four parts of ``text``, with their places (stored side)."""
    n = len(text)
    b = _bounds(n)
    parts = [text[b[k] : b[k + 1]] for k in range(4)]
    return [_pair_key(n, a, c, parts[a], parts[c]) for a in range(4) for c in range(a + 1, 4)]


def probe_signatures(text: str, *, edits: int = 2, shortest: int = PAIR_MIN) -> set[str]:
    """The signatures any text of ``shortest`` characters or more within ``edits`` edits of ``text``
    stores one of (query side)."""
    m = len(text)
    out: set[str] = set()
    for n in range(max(shortest, m - edits), m + edits + 1):
        b = _bounds(n)
        last = m - n  # the last part ends the text, wherever the edits were
        for a in range(4):
            for c in range(a + 1, 4):
                shifts_a = (0,) if a == 0 else (last,) if a == 3 else range(-edits, edits + 1)
                shifts_c = (last,) if c == 3 else range(-edits, edits + 1)
                for da in shifts_a:
                    for dc in shifts_c:
                        if abs(da - dc) > edits:
                            continue
                        sa, ea, sc, ec = b[a] + da, b[a + 1] + da, b[c] + dc, b[c + 1] + dc
                        if sa < 0 or sc < 0 or ea > m or ec > m:
                            continue
                        out.add(_pair_key(n, a, c, text[sa:ea], text[sc:ec]))
    return out


def blocking_keys(name_key: str, frequent: frozenset[str] = frozenset()) -> list[str]:
    """What a customer named ``name_key`` is filed under: its words, its words written together, the
    pair signatures of that, and those of each long word that is not ``frequent`` (in a name with
    more words, so that two typos in its distinctive word are found next to a common one)."""
    words = _words(name_key)
    if not words:
        return []
    joined = "".join(words) if len(words) > 1 else words[0]
    keys = ["w" + w for w in words]
    if len(words) > 1:
        keys.append("w" + joined)
        for word in words:
            if len(word) >= WORD_PAIR_MIN and word not in frequent:
                keys += pair_signatures(word)
    if len(joined) >= PAIR_MIN:
        keys += pair_signatures(joined)
    return keys


def frequent_words(name_keys: Sequence[str]) -> frozenset[str]:
    """Words in at least :data:`FREQUENT_SHARE` of the names (and five): "systems", "and", ..."""
    counts = Counter(word for key in name_keys for word in set(key.split()))
    floor = max(5, int(len(name_keys) * FREQUENT_SHARE))
    return frozenset(word for word, count in counts.items() if count >= floor)


def one_edit_spellings(word: str) -> set[str]:
    """Every string one deletion, insertion, substitution or swap of neighbours away from ``word``."""
    alphabet = _ALPHABET + "".join(sorted(set(word) - set(_ALPHABET)))
    out: set[str] = set()
    n = len(word)
    for i in range(n):
        out.add(word[:i] + word[i + 1 :])
        if i + 1 < n:
            out.add(word[:i] + word[i + 1] + word[i] + word[i + 2 :])
        head, tail = word[:i], word[i + 1 :]
        for ch in alphabet:
            out.add(head + ch + tail)
    for i in range(n + 1):
        head, tail = word[:i], word[i:]
        for ch in alphabet:
            out.add(head + ch + tail)
    out.discard(word)
    return out


@dataclass(frozen=True, slots=True)
class _Segment:
    """An immutable, sorted part of the index, built in a worker thread.

    ``postings``: ``hash(key) << 32 | customer id``, sorted, with ``offsets`` of each bucket of hashes
    (their top bits) to start each binary search near, and ``seen``, a bitmap of the hashes (their
    low bits; 8 to 16 bits a posting): most probes are spellings no customer has, and the bitmap
    turns nearly all of them away without a search. ``ids`` (sorted), ``partners`` and the UTF-8 name
    keys in ``blob`` (name ``i`` ends at ``ends[i]``): the names the candidates are scored on."""

    postings: array[int] = field(default_factory=lambda: array("q"))
    offsets: array[int] = field(default_factory=lambda: array("q", bytes(8 * ((1 << _BUCKET_BITS) + 1))))
    ids: array[int] = field(default_factory=lambda: array("I"))
    partners: array[int] = field(default_factory=lambda: array("i"))
    ends: array[int] = field(default_factory=lambda: array("q"))
    blob: bytes = b""
    seen: bytes = bytes(1)

    def may_have(self, h: int) -> bool:
        """False if no posting has hash ``h``."""
        bit = h & (len(self.seen) * 8 - 1)
        return bool(self.seen[bit >> 3] >> (bit & 7) & 1)

    def find(self, customer_id: int) -> int | None:
        i = bisect_left(self.ids, customer_id)
        return i if i < len(self.ids) and self.ids[i] == customer_id else None

    def name(self, i: int) -> str:
        return self.blob[self.ends[i - 1] if i else 0 : self.ends[i]].decode()

    @property
    def nbytes(self) -> int:
        arrays = (self.postings, self.offsets, self.ids, self.partners, self.ends)
        return sum(a.itemsize * len(a) for a in arrays) + len(self.blob) + len(self.seen)


Rows = Sequence[tuple[int, int, str]]
"""(customer id, partner id, name key), by customer id."""


def _piece(rows: Rows, frequent: frozenset[str] | None) -> _Segment:
    """Rows as a segment with unsorted postings (worker thread); without postings when ``frequent``
    is None (the names only)."""
    postings: array[int] = array("q")
    if frequent is not None:
        for customer_id, _, name_key in rows:
            for key in blocking_keys(name_key, frequent):
                postings.append((_hash(key) << _ID_BITS) | customer_id)
    encoded = [row[2].encode() for row in rows]
    return _Segment(
        postings=postings,
        ids=array("I", (row[0] for row in rows)),
        partners=array("i", (row[1] for row in rows)),
        ends=array("q", accumulate(len(e) for e in encoded)),
        blob=b"".join(encoded),
    )


def _join(pieces: Sequence[_Segment]) -> _Segment:
    """One sorted segment of ``pieces`` (worker thread)."""
    # numpy sorts the postings and builds the bitmap at C speed (in Python: 8 s of a 1M load). It is
    # imported here, by the first index load, not by every process that imports the deal service.
    import numpy as np

    no_postings = np.zeros(0, dtype=np.int64)
    everything = np.concatenate([np.frombuffer(p.postings, dtype=np.int64) for p in pieces] or [no_postings])
    everything.sort()
    postings: array[int] = array("q")
    postings.frombytes(everything.data.cast("B"))
    starts = np.arange(1 << _BUCKET_BITS, dtype=np.int64) << _SHIFT
    offsets: array[int] = array("q")
    offsets.frombytes(
        np.append(np.searchsorted(everything, starts), len(everything)).astype(np.int64).data.cast("B")
    )
    hashes = everything >> _ID_BITS
    del everything
    seen = np.zeros(1 << len(hashes).bit_length(), dtype=np.uint8)  # 2**k bytes: 8 to 16 bits a posting
    bits = hashes & (len(seen) * 8 - 1)
    np.bitwise_or.at(seen, bits >> 3, np.left_shift(1, bits & 7).astype(np.uint8))
    del hashes, bits
    pieces = [p for p in pieces if p.ids]
    if any(a.ids[-1] >= b.ids[0] for a, b in zip(pieces, pieces[1:], strict=False)):
        rows = sorted((p.ids[i], p.partners[i], p.name(i)) for p in pieces for i in range(len(p.ids)))
        pieces = [_piece(rows, None)]
    ids: array[int] = array("I")
    partners: array[int] = array("i")
    ends: array[int] = array("q")
    blobs: list[bytes] = []
    shift = 0
    for piece in pieces:
        ids.extend(piece.ids)
        partners.extend(piece.partners)
        ends.extend(end + shift for end in piece.ends)
        blobs.append(piece.blob)
        shift += len(piece.blob)
    return _Segment(postings, offsets, ids, partners, ends, b"".join(blobs), seen.tobytes())


@dataclass(slots=True)
class _Recent:
    """Customers taken in since the segment was built: blocking key hash -> ids, and id -> names."""

    keys: dict[int, list[int]] = field(default_factory=dict)
    names: dict[int, tuple[int, str]] = field(default_factory=dict)
    postings: int = 0

    def add(self, customer_id: int, partner_id: int, name_key: str, frequent: frozenset[str]) -> None:
        self.names[customer_id] = (partner_id, name_key)
        for key in blocking_keys(name_key, frequent):
            self.keys.setdefault(_hash(key), []).append(customer_id)
            self.postings += 1

    def rows(self) -> Rows:
        return sorted((c, p, n) for c, (p, n) in self.names.items())


# -- the index ----------------------------------------------------------------------------------------


class NameIndex:
    """Blocking keys of every customer's name key -> customer ids, and the name keys, for one database,
    in this process.

    A filter that may propose too much, never too little of what it has seen; see the module doc.
    About 120 bytes per customer: ten or so 8-byte postings, the name key, id and partner."""

    def __init__(self) -> None:
        self._segment = _Segment()
        self._recent = _Recent()
        self._merging: list[_Recent] = []
        self._compaction: asyncio.Task[None] | None = None
        self.watermark = 0
        self._holes: dict[int, float] = {}
        self._above: set[int] = set()
        self._loaded = False
        self._loading: asyncio.Task[None] | None = None
        self._frequent: frozenset[str] = frozenset()

    # -- keeping up with the database ---------------------------------------------------------------

    @property
    def loaded(self) -> bool:
        return self._loaded

    @property
    def customers(self) -> int:
        return len(self._segment.ids) + sum(len(r.names) for r in (self._recent, *self._merging))

    @property
    def nbytes(self) -> int:
        """The segment's size (arrays and names); recent additions are not counted."""
        return self._segment.nbytes

    def _start_loading(self, engine: AsyncEngine) -> asyncio.Task[None]:
        if self._loading is None or (self._loading.done() and not self._loaded):
            self._loading = asyncio.get_running_loop().create_task(self._load(engine))
        return self._loading

    async def ready(self, engine: AsyncEngine, *, wait: float) -> bool:
        """Whether the index is loaded, starting the load (once) and waiting up to ``wait`` seconds."""
        if self._loaded:
            return True
        loading = self._start_loading(engine)
        await asyncio.wait({loading}, timeout=wait)
        if loading.done() and not loading.cancelled() and loading.exception() is not None:
            log.error("conflict index: loading failed", exc_info=loading.exception())
        return self._loaded

    async def load(self, engine: AsyncEngine) -> None:
        """Load the index if it isn't (raises what loading raised)."""
        if not self._loaded:
            await asyncio.shield(self._start_loading(engine))

    async def refresh(self, session: AsyncSession, *, pending: tuple[int, str] | None = None) -> None:
        """Take in customers added since the last look (the index must be loaded). ``pending`` is
        (partner id, name key) of the customer the caller's own, uncommitted transaction may have
        inserted: it waits until it is committed."""
        rows = await conflict_queries.customers_after(session, after=self.watermark, also=self.holes)
        self.take_in(rows, pending)

    @property
    def holes(self) -> list[int]:
        """Ids below the watermark still looked for (see :meth:`take_in`)."""
        return sorted(self._holes)

    def take_in(
        self, rows: Iterable[Sequence[Any]], pending: tuple[int, str] | None = None
    ) -> list[tuple[int, int, str]]:
        """Take in the customers among ``rows`` (``(id, partner id, name key, ...)`` by id, an id may
        repeat) that the index has not seen: those above the watermark or in :attr:`holes`. Returns
        them. ``pending`` is as for :meth:`refresh`."""
        customers: dict[int, tuple[int, int, str]] = {}
        for row in rows:
            customers.setdefault(row[0], (row[0], row[1], row[2]))
        added = self._absorb(list(customers.values()), pending)
        for row in added:
            self._recent.add(*row, self._frequent)
        self._maybe_compact()
        return added

    async def _load(self, engine: AsyncEngine) -> None:
        """Every committed customer, in pages, in a session of its own."""
        started = time.perf_counter()
        pieces: list[_Segment] = []
        cursor = 0
        async with AsyncSession(engine) as session:
            while True:
                rows = await conflict_queries.customers_after(session, after=cursor, limit=LOAD_PAGE)
                if not rows:
                    break
                cursor = rows[-1][0]
                if not pieces:
                    self._frequent = frequent_words([row[2] for row in rows])
                pieces.append(await asyncio.to_thread(_piece, self._absorb(rows, None), self._frequent))
                if len(rows) < LOAD_PAGE:
                    break
        self._segment = await asyncio.to_thread(_join, pieces)
        self._loaded = True
        log.info(
            "conflict index: %d customers, %d keys, %.0f MB, loaded in %.1f s",
            self.customers,
            len(self._segment.postings),
            self.nbytes / 2**20,
            time.perf_counter() - started,
        )

    def _absorb(self, rows: Sequence[Any], pending: tuple[int, str] | None) -> list[tuple[int, int, str]]:
        """The rows (by id) the index has not taken in yet; moves the watermark past what is settled."""
        now = time.monotonic()
        added: list[tuple[int, int, str]] = []
        old = last = self.watermark
        waiting: int | None = None
        for customer_id, partner_id, name_key in rows:
            mine = pending is not None and (partner_id, name_key) == pending
            if customer_id <= old:
                if customer_id in self._holes:
                    if mine:
                        self._holes[customer_id] = now
                    else:
                        del self._holes[customer_id]
                        added.append((customer_id, partner_id, name_key))
                continue
            if customer_id > last + 1 and customer_id - last <= MAX_HOLES:
                for missing in range(last + 1, customer_id):
                    if missing not in self._above:
                        self._holes.setdefault(missing, now)
            last = max(last, customer_id)
            if customer_id in self._above:
                continue
            if mine:
                waiting = customer_id if waiting is None else min(waiting, customer_id)
                continue
            self._above.add(customer_id)
            added.append((customer_id, partner_id, name_key))
        self.watermark = last if waiting is None else max(old, waiting - 1)
        self._above = {c for c in self._above if c > self.watermark}
        self._holes = {
            c: seen
            for c, seen in self._holes.items()
            if c <= self.watermark and now - seen < HOLE_TTL and c not in self._above
        }
        if len(self._holes) > MAX_HOLES:
            self._holes = dict(sorted(self._holes.items())[-MAX_HOLES:])
        return added

    def _maybe_compact(self) -> None:
        if self._recent.postings < max(COMPACT_MIN, len(self._segment.postings) // 8):
            return
        if self._compaction is not None and not self._compaction.done():
            return
        frozen, self._recent = self._recent, _Recent()
        self._merging.append(frozen)
        self._compaction = asyncio.get_running_loop().create_task(self._compact(frozen))

    async def _compact(self, frozen: _Recent) -> None:
        try:
            piece = await asyncio.to_thread(_piece, frozen.rows(), self._frequent)
            self._segment = await asyncio.to_thread(_join, [self._segment, piece])
        finally:
            self._merging.remove(frozen)

    # -- asking ---------------------------------------------------------------------------------------

    def _range(self, h: int) -> tuple[int, int]:
        """Where hash ``h``'s customer ids are in the segment's postings (an empty range: none)."""
        postings, offsets = self._segment.postings, self._segment.offsets
        if not self._segment.may_have(h):
            return 0, 0
        value = h << _ID_BITS
        bucket = value >> _SHIFT
        lo, hi = offsets[bucket], offsets[bucket + 1]
        if lo == hi:
            return lo, lo
        start = bisect_left(postings, value, lo, hi)
        if start == hi or postings[start] >> _ID_BITS != h:
            return start, start  # most probes (one-edit spellings) find nothing: one search
        return start, bisect_left(postings, value + (1 << _ID_BITS), start, hi)

    def _size(self, h: int) -> int:
        lo, hi = self._range(h)
        return hi - lo + sum(len(r.keys.get(h, ())) for r in (self._recent, *self._merging))

    def _ids(self, h: int, into: set[int]) -> None:
        lo, hi = self._range(h)
        into.update(v & _ID_MASK for v in self._segment.postings[lo:hi])
        for recent in (self._recent, *self._merging):
            into.update(recent.keys.get(h, ()))

    def names(self, customer_ids: Iterable[int], *, other_than_partner: int) -> list[tuple[int, str]]:
        """``(id, name key)`` of those customers that belong to another partner."""
        segment = self._segment
        out: list[tuple[int, str]] = []
        for customer_id in customer_ids:
            i = segment.find(customer_id)
            if i is not None:
                if segment.partners[i] != other_than_partner:
                    out.append((customer_id, segment.name(i)))
                continue
            for recent in (self._recent, *self._merging):
                found = recent.names.get(customer_id)
                if found is not None:
                    if found[0] != other_than_partner:
                        out.append((customer_id, found[1]))
                    break
        return out

    def candidates(self, name_key: str) -> set[int]:
        """Ids of customers whose names may be similar to ``name_key`` (a superset of those within
        one edit of a word, two edits of the whole, or sharing a word - within the budget)."""
        words = _words(name_key)
        if not words:
            return set()
        sizes: dict[int, int] = {}
        size_of = self._size
        postings, offsets = self._segment.postings, self._segment.offsets
        seen, seen_mask = self._segment.seen, len(self._segment.seen) * 8 - 1
        settled = not (self._recent.keys or self._merging)

        def probe(keys: Iterable[str]) -> None:
            # _size, inlined for the common case: this runs about a thousand times per check.
            for h in {hash(key) & _HASH_MASK for key in keys}:
                if h in sizes:
                    continue
                if not settled:
                    sizes[h] = size_of(h)
                    continue
                bit = h & seen_mask
                if not seen[bit >> 3] >> (bit & 7) & 1:
                    continue  # no customer has this key (unknown hashes count as 0 below)
                value = h << _ID_BITS
                lo, hi = offsets[value >> _SHIFT], offsets[(value >> _SHIFT) + 1]
                start = bisect_left(postings, value, lo, hi) if lo < hi else hi
                if start == hi or postings[start] >> _ID_BITS != h:
                    sizes[h] = 0
                else:
                    sizes[h] = bisect_left(postings, value + (1 << _ID_BITS), start, hi) - start

        probe("w" + w for w in words)
        rarity = sorted((sizes.get(_hash("w" + w), 0), w) for w in words)
        joined = "".join(words)
        if len(words) > 1:
            probe(("w" + joined,))
        fuzzy = [w for size, w in rarity if len(w) >= 4 and size <= SMALL_KEY]
        for word in fuzzy[:FUZZY_WORDS]:
            probe("w" + spelling for spelling in one_edit_spellings(word))
            if len(words) > 1 and len(word) >= WORD_PAIR_MIN - 2:
                probe(probe_signatures(word, shortest=WORD_PAIR_MIN))
        if len(joined) >= PAIR_MIN - 2:
            probe(probe_signatures(joined))
        found = sorted((size, h) for h, size in sizes.items() if size)
        ids: set[int] = set()
        total = 0
        for size, h in found:
            if size > SMALL_KEY and total + size > CANDIDATE_BUDGET:
                break
            total += size
            self._ids(h, ids)
        if not ids and found and found[0][0] <= MAX_CANDIDATES:
            self._ids(found[0][1], ids)
        return ids


_INDEXES: weakref.WeakKeyDictionary[AsyncEngine, NameIndex] = weakref.WeakKeyDictionary()


def _engine_of(session: AsyncSession) -> AsyncEngine:
    bind = session.bind
    if isinstance(bind, AsyncConnection):
        return bind.engine
    assert isinstance(bind, AsyncEngine), "the conflict check needs a session bound to an async engine"
    return bind


def index_for(engine: AsyncEngine) -> NameIndex:
    """The index of the database behind ``engine`` (one per engine in this process)."""
    index = _INDEXES.get(engine)
    if index is None:
        index = _INDEXES[engine] = NameIndex()
    return index


async def warm(db: Database) -> NameIndex:
    """Load the index now (e.g. at start-up) instead of on the first registration, and bring it up to
    date."""
    index = index_for(db.engine)
    await index.load(db.engine)
    async with db.transaction() as session:
        await index.refresh(session)
    return index


# -- the check ----------------------------------------------------------------------------------------


def similar_names(name_key: str, rows: Sequence[Any]) -> dict[int, float]:
    """``{id: score}`` of the ``(id, name_key)`` rows at or above :data:`CONFLICT_THRESHOLD`."""
    if not name_key or not rows:
        return {}
    names = [row[1] for row in rows]
    chosen: Iterable[int] = range(len(rows))
    if len(rows) >= NATIVE_FROM:
        # Each part of company_similarity has a C scorer that is at least as high: a candidate that
        # none of them puts at the threshold cannot reach it.
        hits: set[int] = set()
        for scorer in (fuzz.ratio, fuzz.token_sort_ratio):
            hits.update(
                i
                for _, _, i in process.extract(
                    name_key, names, scorer=scorer, score_cutoff=_CUTOFF, limit=None
                )
            )
        rest = [
            i
            for i in range(len(names))
            if i not in hits and min(len(names[i]), len(name_key)) >= MIN_CONTAINMENT_LENGTH
        ]
        if rest:
            found = process.extract(
                name_key,
                [names[i] for i in rest],
                scorer=fuzz.partial_ratio,
                score_cutoff=_CUTOFF,
                limit=None,
            )
            hits.update(rest[j] for _, _, j in found)
        chosen = sorted(hits)
    out: dict[int, float] = {}
    for i in chosen:
        score = company_similarity(name_key, names[i])
        if score >= CONFLICT_THRESHOLD:
            out[rows[i][0]] = score
    return out


@dataclass(frozen=True, slots=True)
class Conflict:
    """Another partner's active registration that looks like the same customer."""

    deal_id: int
    customer_id: int
    score: float
    reason: str


async def find_conflicts(
    session: AsyncSession, *, partner_id: int, name_key: str, domain: str | None
) -> list[Conflict]:
    """Other partners' active registrations that look like the same customer, best match first.

    With the index loaded this is one query: the index proposes the similar customers it knows, and
    the same statement brings the customers it has not taken in yet (scored here, after) and every
    one's active registrations by other partners."""
    engine = _engine_of(session)
    index = index_for(engine)
    found: list[Conflict] = []
    if not await index.ready(engine, wait=LOAD_WAIT):
        registrations = await deal_queries.active_registrations_of_others(
            session,
            partner_id=partner_id,
            name_keys=[name_key[:BLOCK_PREFIX]] if name_key else [],
            domain=domain,
        )
        rows: Sequence[tuple[int, int, str, str | None, int | None]] = [
            (c.id, c.partner_id, c.name_key, c.domain, d.id) for d, c in registrations
        ]
        similar: Collection[int] = {c.id for _, c in registrations}
    else:
        similar = set()
        if name_key:
            known = index.names(sorted(index.candidates(name_key)), other_than_partner=partner_id)
            similar = set(similar_names(name_key, known))
        rows = await conflict_queries.news_and_registrations(
            session,
            after=index.watermark,
            also=index.holes,
            customer_ids=sorted(similar),
            domain=domain,
            other_than_partner=partner_id,
        )
        news = index.take_in(rows, pending=(partner_id, name_key))
        if name_key:
            others = [(c, n) for c, p, n in news if p != partner_id]
            similar.update(similar_names(name_key, others))
    for customer_id, _, customer_name_key, customer_domain, deal_id in rows:
        if deal_id is None:
            continue
        if domain and customer_domain == domain:
            found.append(Conflict(deal_id, customer_id, 100.0, f"same web domain {domain}"))
        elif customer_id in similar:
            score = company_similarity(name_key, customer_name_key)
            if score >= CONFLICT_THRESHOLD:
                found.append(Conflict(deal_id, customer_id, score, f"company name {score:.0f}% similar"))
    found.sort(key=lambda conflict: -conflict.score)
    return found
