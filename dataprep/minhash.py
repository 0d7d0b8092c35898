"""Near-duplicate detection with MinHash + LSH, vectorized over whole batches of texts.

The MinHash math is datasketch's ``affine32`` scheme, bit for bit: each shingle's 32-bit
hash is pre-mixed with the MurmurHash3 finalizer, then permuted with ``a*h + b mod 2**32``
using the permutations ``datasketch.MinHash(num_perm, seed)`` draws. A row of
``Sketches.signatures`` is therefore exactly the ``hashvalues`` of a datasketch
``MinHash``/``LeanMinHash`` fed the same shingle hashes, and the band/row split comes from
datasketch's own optimizer (``_optimal_param``).

What is ours is the speed: texts are tokenized and shingles hashed in numpy (polynomial
hashes over code points instead of SHA1 per shingle), permutations are applied to a whole
batch as one matrix, LSH buckets are found by sorting band keys instead of a Python dict
per band, candidate pairs are verified by exact Jaccard on the shingle sets all at once,
and shards of texts are sketched on every core.
"""

from __future__ import annotations

import os
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import cache
from typing import Iterable, Iterator, Sequence

import numpy as np
import xxhash

from .engine import Engine
from .pii import PLACEHOLDER  # scrubbed values of one kind count as equal: <EMAIL_1> ~ <EMAIL_2>

# datasketch and scipy.sparse.csgraph are imported where used: together they take ~2 s to
# import (scipy.integrate), which every dataprep command would pay at startup otherwise.

U64 = np.uint64
U32 = np.uint32
#: odd multiplier for polynomial hashes (the 64-bit FNV prime) and its inverse modulo 2**64
POLY = U64(0x100000001B3)
POLY_INVERSE = U64(pow(0x100000001B3, -1, 1 << 64))
#: texts sketched per numpy batch: the (num_perm x shingles) matrix of a batch stays in cache
BATCH = 128
#: texts per task handed to a thread; smaller inputs are sketched on the calling thread
SHARD = 4096
#: in each LSH bucket, a record is paired with the next WINDOW records of the bucket, which
#: is every pair for buckets of up to WINDOW + 1 records and a connected chain beyond that
#: (a bucket of thousands of templated near-copies would otherwise yield millions of pairs)
WINDOW = 32
#: pairs verified per vectorized step: its temporaries (~ 2 x 120 shingles x 8 bytes a pair)
#: stay in cache, which makes it ~3x faster than steps of 65,536 pairs
PAIR_CHUNK = 4096
#: LSH tuned for recall: every candidate is checked against the threshold afterwards, so a
#: false candidate costs a little time while a missed pair is a duplicate left in the data.
#: (datasketch's default (0.5, 0.5) finds only 40% of pairs at exactly J = 0.8 with 128
#: permutations; (0.02, 0.98) finds 98%.)
LSH_WEIGHTS = (0.02, 0.98)
#: a candidate whose MinHash estimate is this far below the threshold is not verified: the
#: estimate of a pair at the threshold falls there with probability ~1e-5 (128 permutations:
#: standard deviation 0.035 at J = 0.8), while most candidates of templated logs do
ESTIMATE_MARGIN = 0.15


@dataclass(frozen=True)
class Params:
    """How texts are compared: shingles, MinHash size and the Jaccard threshold."""

    threshold: float = 0.8
    num_perm: int = 128
    shingle: str = "word"  # "word" n-grams or "char" n-grams
    ngram: int = 3
    seed: int = 1
    verify: bool = True  # exact Jaccard of shingle sets (True) or the MinHash estimate (False)
    workers: int | None = None  # processes for sketching; None = every core

    def __post_init__(self) -> None:
        if not 0 < self.threshold <= 1:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold}")
        if self.shingle not in ("word", "char"):
            raise ValueError(f"shingle must be 'word' or 'char', got {self.shingle!r}")
        if self.ngram < 1 or self.num_perm < 2:
            raise ValueError("ngram must be >= 1 and num_perm >= 2")

    @property
    def bands_rows(self) -> tuple[int, int]:
        return lsh_params(self.threshold, self.num_perm)


@cache
def lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) from datasketch's optimizer, weighted towards recall (see LSH_WEIGHTS)."""
    from datasketch.lsh import _optimal_param

    return _optimal_param(threshold, num_perm, *LSH_WEIGHTS)


@cache
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's affine32 permutation parameters (a, b) for this num_perm and seed."""
    from datasketch import MinHash

    a, b = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
    return a.astype(U32), b.astype(U32)


# -- normalization ---------------------------------------------------------------------------------
def normalize(text: str) -> str:
    """The form texts are compared in: PII placeholders numbered apart (``<EMAIL_1>``,
    ``<EMAIL_2>``) made equal, NFKC, casefolded, whitespace runs collapsed and trimmed."""
    if "<" in text:
        text = PLACEHOLDER.sub(r"<\1>", text)
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


# Word characters (letters, marks, digits, underscore) of the Basic Multilingual Plane; code
# points above it (emoji, rare scripts) count as word characters too.
WORD_CHAR = np.fromiter((unicodedata.category(chr(c))[0] in "LMN" or c == 0x5F for c in range(0x10000)),
                        bool, 0x10000)


def _is_word(cps: np.ndarray) -> np.ndarray:
    out = np.ones(cps.shape, bool)
    bmp = cps < 0x10000
    out[bmp] = WORD_CHAR[cps[bmp]]
    return out


class _Powers:
    """POLY**i and POLY_INVERSE**i for i < n, grown on demand (one tuple, so threads never see
    one array grown and the other not)."""

    def __init__(self) -> None:
        self.pair = (np.ones(0, U64), np.ones(0, U64))

    def get(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        up, down = self.pair
        if len(up) < n:
            size = 1 << max(16, (n - 1).bit_length())
            up, down = self.pair = tuple(np.concatenate(([U64(1)], np.cumprod(np.full(size - 1, base, U64))))
                                         for base in (POLY, POLY_INVERSE))
        return up[:n], down[:n]


_POWERS = _Powers()


def fmix64(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finalizer: spreads polynomial hashes over all bits."""
    h = h ^ (h >> U64(33))
    h *= U64(0xFF51AFD7ED558CCD)
    h ^= h >> U64(33)
    h *= U64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> U64(33))


def fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer, datasketch's affine32 pre-mix."""
    h = h ^ (h >> U32(16))
    h *= U32(0x85EBCA6B)
    h ^= h >> U32(13)
    h *= U32(0xC2B2AE35)
    return h ^ (h >> U32(16))


# -- shingles ----------------------------------------------------------------------------------------
def _units(normalized: list[str], shingle: str) -> tuple[np.ndarray, np.ndarray]:
    """The units shingles are made of (words, or characters) of a batch of normalized texts:
    a 64-bit hash per unit and the index of its text."""
    lengths = np.fromiter(map(len, normalized), np.int64, len(normalized))
    cps = np.frombuffer("".join(normalized).encode("utf-32-le", "surrogatepass"), U32)
    text_of = np.repeat(np.arange(len(normalized)), lengths)
    if shingle == "char":
        return fmix64(cps.astype(U64) + U64(1)), text_of
    first = np.ones(len(cps), bool)
    first[1:] = text_of[1:] != text_of[:-1]
    word = _is_word(cps)
    last = np.ones(len(cps), bool)
    last[:-1] = first[1:]
    starts = np.flatnonzero(word & (first | ~np.concatenate(([False], word[:-1]))))
    ends = np.flatnonzero(word & (last | ~np.concatenate((word[1:], [False]))))
    # Polynomial hash of each word from prefix sums: sum_k c_k P**(end-k) over the word's code points.
    up, down = _POWERS.get(len(cps))
    prefix = np.cumsum((cps.astype(U64) + U64(1)) * down)
    before = np.where(starts > 0, prefix[starts - 1], U64(0))
    return fmix64((prefix[ends] - before) * up[ends]), text_of[starts]


def _shingle_sets(units: np.ndarray, text_of: np.ndarray, n_texts: int, ngram: int) -> tuple[np.ndarray, np.ndarray]:
    """32-bit hashes of each text's n-grams of units, sorted and unique per text, and the count per text.

    A text with fewer than ``ngram`` units has one shingle: all of its units.
    """
    counts = np.bincount(text_of, minlength=n_texts)
    ends = np.cumsum(counts)
    end_of = ends[text_of]
    position = np.arange(len(units))
    combined = units.copy()
    for k in range(1, ngram):
        shifted = np.zeros(len(units), U64)
        shifted[:-k] = units[k:]
        shifted[position + k >= end_of] = 0
        combined = combined * POLY + shifted
    valid = (position + ngram <= end_of) | (position == (ends - counts)[text_of])
    keys = (text_of[valid].astype(U64) << U64(32)) | (fmix64(combined[valid]) >> U64(32))
    keys.sort()
    keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))] if len(keys) else keys
    per_text = np.bincount((keys >> U64(32)).astype(np.int64), minlength=n_texts)
    return (keys & U64(0xFFFFFFFF)).astype(U32), per_text


def shingle_hashes(text: str, shingle: str = "word", ngram: int = 3) -> np.ndarray:
    """The sorted, unique 32-bit shingle hashes of one text (what its MinHash is computed from)."""
    units, text_of = _units([normalize(text)], shingle)
    return _shingle_sets(units, text_of, 1, ngram)[0]


def _signatures(hashes: np.ndarray, counts: np.ndarray, num_perm: int, seed: int) -> np.ndarray:
    """MinHash signatures (texts x num_perm, uint32) of texts with these shingle hashes."""
    a, b = permutations(num_perm, seed)
    out = np.full((len(counts), num_perm), U32(0xFFFFFFFF))
    nonempty = counts > 0
    if nonempty.any():
        # Permutations down the rows, shingles along them, so the per-text minimum runs over
        # contiguous memory (reduceat along the last axis is ~5x faster than along the first).
        permuted = a[:, None] * fmix32(hashes)[None, :]
        permuted += b[:, None]
        starts = (np.cumsum(counts) - counts)[nonempty]
        out[nonempty] = np.minimum.reduceat(permuted, starts, axis=1).T
    return out


@dataclass
class _Shard:
    keys: np.ndarray  # (n, 2) uint64: a 128-bit hash of each normalized text
    blank: np.ndarray  # normalized text is empty
    signatures: np.ndarray
    hashes: np.ndarray
    counts: np.ndarray


def _sketch_shard(texts: Sequence[str], params: Params) -> _Shard:
    parts = []
    for start in range(0, len(texts), BATCH):
        normalized = [normalize(text) for text in texts[start:start + BATCH]]
        units, text_of = _units(normalized, params.shingle)
        hashes, counts = _shingle_sets(units, text_of, len(normalized), params.ngram)
        keys = b"".join(xxhash.xxh3_128_digest(text.encode("utf-8", "surrogatepass")) for text in normalized)
        parts.append(_Shard(np.frombuffer(keys, U64).reshape(-1, 2), np.array([not t for t in normalized], bool),
                            _signatures(hashes, counts, params.num_perm, params.seed), hashes, counts))
    if not parts:
        return _Shard(np.zeros((0, 2), U64), np.zeros(0, bool), np.zeros((0, params.num_perm), U32),
                      np.zeros(0, U32), np.zeros(0, np.int64))
    return _Shard(*(np.concatenate([getattr(p, name) for p in parts])
                    for name in ("keys", "blank", "signatures", "hashes", "counts")))


# -- sketches -----------------------------------------------------------------------------------------
@dataclass
class Sketches:
    """Everything compared about a list of texts: exact keys, shingle sets and MinHash signatures."""

    params: Params
    keys: np.ndarray
    blank: np.ndarray
    signatures: np.ndarray  # (texts, num_perm); (texts, 0) once compacted
    hashes: np.ndarray  # every text's sorted unique shingle hashes, concatenated
    offsets: np.ndarray  # text i's shingles are hashes[offsets[i]:offsets[i + 1]]
    bands: np.ndarray | None = None  # LSH band keys (texts, bands), kept in place of the signatures
    low_bytes: np.ndarray | None = None  # each signature value's lowest byte, once compacted (b-bit MinHash)

    def __len__(self) -> int:
        return len(self.blank)

    def band_keys(self, rows: np.ndarray) -> np.ndarray:
        """The LSH band keys of these rows."""
        return self.bands[rows] if self.bands is not None else band_keys(self.signatures[rows], *self.params.bands_rows)

    def compact(self) -> "Sketches":
        """The same sketches in less memory: with exact Jaccard (``verify``) the signatures serve
        LSH and the screening of its candidates only, and its band keys (bands x 8 bytes a text)
        and the signature's lowest bytes (num_perm bytes) replace them (num_perm x 4 bytes)."""
        if not self.params.verify or self.bands is not None:
            return self
        return replace(self, signatures=self.signatures[:, :0], bands=band_keys(self.signatures, *self.params.bands_rows),
                       low_bytes=self.signatures.astype(np.uint8))

    def take(self, rows: np.ndarray) -> "Sketches":
        """The sketches of these rows, in this order."""
        rows = np.asarray(rows, np.int64)
        sizes = self.offsets[rows + 1] - self.offsets[rows]
        return Sketches(self.params, self.keys[rows], self.blank[rows], self.signatures[rows],
                        self.hashes[_ranges(self.offsets[rows], sizes)], np.concatenate(([0], np.cumsum(sizes))),
                        *(None if column is None else column[rows] for column in (self.bands, self.low_bytes)))

    def same_text(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Whether texts i and j are equal once normalized (never for empty texts)."""
        return (self.keys[i] == self.keys[j]).all(axis=1) & ~self.blank[i]

    def similarity(self, i: np.ndarray, j: np.ndarray, floor: float = 0.0) -> np.ndarray:
        """Jaccard similarity of texts i and j: exact on the shingle sets when params.verify,
        else the MinHash estimate; 1.0 for equal normalized texts. With a ``floor``, pairs whose
        MinHash estimate is ESTIMATE_MARGIN below it are not measured (0.0)."""
        i, j = np.asarray(i, np.int64), np.asarray(j, np.int64)
        out = np.zeros(len(i))
        for start in range(0, len(i), PAIR_CHUNK):
            part_i, part_j = i[start:start + PAIR_CHUNK], j[start:start + PAIR_CHUNK]
            if not self.params.verify:
                out[start:start + len(part_i)] = self._estimate(part_i, part_j)
                continue
            near = slice(None)
            if floor > ESTIMATE_MARGIN:
                near = np.flatnonzero(self._estimate(part_i, part_j) >= floor - ESTIMATE_MARGIN)
            out[start:start + len(part_i)][near] = self._jaccard(part_i[near], part_j[near])
        out[self.same_text(i, j)] = 1.0
        return out

    def _estimate(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        if self.low_bytes is not None:  # b-bit MinHash: unrelated values agree 1 time in 256, a slight overestimate
            return (self.low_bytes[i] == self.low_bytes[j]).mean(axis=1)
        return (self.signatures[i] == self.signatures[j]).mean(axis=1)

    def _jaccard(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        # Tag every shingle with its pair number, sort, and count the tags seen twice:
        # shingles are unique within a text, so a repeat is a shingle both texts share.
        sizes_i, sizes_j = self.offsets[i + 1] - self.offsets[i], self.offsets[j + 1] - self.offsets[j]
        pair = np.arange(len(i), dtype=U64)
        tagged = np.concatenate([(np.repeat(pair, sizes) << U64(32)) | self.hashes[_ranges(self.offsets[side], sizes)]
                                 for side, sizes in ((i, sizes_i), (j, sizes_j))])
        tagged.sort(kind="stable")
        shared = tagged[1:][tagged[1:] == tagged[:-1]] >> U64(32)
        inter = np.bincount(shared.astype(np.int64), minlength=len(i))
        union = sizes_i + sizes_j - inter
        return np.divide(inter, union, out=np.zeros(len(i)), where=union > 0)


def concat(parts: Sequence[Sketches], params: Params) -> Sketches:
    """The sketches of several lists of texts, one after the other."""
    if not parts:
        return sketch([], params)
    ends = np.cumsum([p.offsets[-1] for p in parts])
    offsets = np.concatenate([[0], *(p.offsets[1:] + end - p.offsets[-1] for p, end in zip(parts, ends))])
    optional = (None if getattr(parts[0], name) is None else np.concatenate([getattr(p, name) for p in parts])
                for name in ("bands", "low_bytes"))
    return Sketches(params, *(np.concatenate([getattr(p, name) for p in parts])
                              for name in ("keys", "blank", "signatures", "hashes")), offsets, *optional)


def _ranges(starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Concatenation of arange(s, s + n) for each (s, n)."""
    if not len(sizes):
        return np.zeros(0, np.int64)
    run_start = np.cumsum(sizes) - sizes
    return np.arange(int(sizes.sum())) + np.repeat(starts - run_start, sizes)


def sketch(texts: Sequence[str], params: Params = Params()) -> Sketches:
    """Sketch every text. Shards of texts go to threads when there are several and cores to
    spare; each shard's results are copied into place as it finishes, so memory holds the
    result once, plus a shard or two in flight."""
    n = len(texts)
    result = Sketches(params, np.empty((n, 2), U64), np.empty(n, bool), np.empty((n, params.num_perm), U32),
                      np.zeros(0, U32), np.zeros(n + 1, np.int64))
    hashes = []
    for start, shard in zip(range(0, n, SHARD), _shards(texts, params)):
        end = start + len(shard.blank)
        result.keys[start:end], result.blank[start:end] = shard.keys, shard.blank
        result.signatures[start:end], result.offsets[start + 1:end + 1] = shard.signatures, shard.counts
        hashes.append(shard.hashes)
    np.cumsum(result.offsets, out=result.offsets)
    result.hashes = np.concatenate(hashes) if hashes else result.hashes
    return result


def _shards(texts: Sequence[str], params: Params) -> Iterator[_Shard]:
    chunks = [texts[start:start + SHARD] for start in range(0, len(texts), SHARD)]
    workers = min(params.workers or os.cpu_count() or 1, len(chunks))
    if workers <= 1:
        yield from (_sketch_shard(chunk, params) for chunk in chunks)
        return
    # Threads, not processes: the heavy steps are numpy loops that release the GIL, and
    # threads share the texts instead of pickling them to workers and the results back.
    with ThreadPoolExecutor(workers) as pool:
        yield from pool.map(_sketch_shard, chunks, [params] * len(chunks))


# -- LSH and clusters ----------------------------------------------------------------------------------
def band_keys(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """Each band's values folded into a 64-bit key: (rows of signatures, bands) uint64."""
    keys = np.zeros((len(signatures), bands), U64)
    for band in range(bands):
        for column in range(band * rows, (band + 1) * rows):
            keys[:, band] = keys[:, band] * POLY + signatures[:, column]
    return keys


def candidate_pairs(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """Pairs (i < j) of rows that agree on every value of at least one band: the LSH candidates."""
    return _unpacked(bucket_pairs(band_keys(signatures, bands, rows)))


def _unpacked(pairs: np.ndarray) -> np.ndarray:
    """Pairs packed as ``i << 32 | j`` (8 bytes a pair), as an (n, 2) array of indices."""
    return np.stack([(pairs >> U64(32)).astype(np.int64), (pairs & U64(0xFFFFFFFF)).astype(np.int64)], axis=1)


def _sorted_band(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One band's rows sorted by their key (stably), and the keys in that order: a bucket is a run."""
    order = np.argsort(key, kind="stable")
    return order, key[order]


def _bucket_neighbours(order: np.ndarray, ordered: np.ndarray,
                       steps: Iterable[int]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """For each step, the rows (i, j) of one bucket that stand ``step`` apart in the sorted band;
    once a step finds none, no bucket is that long and the larger steps are skipped."""
    for step in steps:
        same = ordered[step:] == ordered[:-step]
        if not same.any():
            return
        yield order[:-step][same], order[step:][same]


def bucket_pairs(keys: np.ndarray) -> np.ndarray:
    """Pairs (i < j) of rows with an equal key in some band (a column of ``keys``), sorted and
    packed as ``i << 32 | j``: candidates can outnumber rows a hundred to one.

    Rows are sorted by each band's key, so a bucket is a run of equal keys; each row is
    paired with the next ``WINDOW`` rows of its run.
    """
    pairs = np.zeros(0, U64)
    for band in range(keys.shape[1]):
        order, ordered = _sorted_band(keys[:, band])
        found = [(i.astype(U64) << U64(32)) | j.astype(U64)
                 for i, j in _bucket_neighbours(order, ordered, range(1, WINDOW + 1))]
        if found:  # merged band by band: memory holds the distinct pairs, not every band's copy of them
            pairs = np.union1d(pairs, np.concatenate(found))
    return pairs  # order is stable within a bucket, so the first of each pair is the smaller index


def components(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Connected components of the graph with edges (i, j) (union-find's answer), numbered
    in order of each component's first member."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(i), np.int8), (i, j)), shape=(n, n))
    labels = connected_components(graph, directed=False)[1]
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    return np.argsort(np.argsort(first))[inverse]


@dataclass
class _Forms:
    """Texts reduced to one per normalized form, so that copies neither crowd LSH buckets
    nor get compared again."""

    members: np.ndarray  # indices of the non-empty texts
    form: np.ndarray  # form number of each of those texts
    first: np.ndarray  # first text of each form


def _forms(sketches: Sketches) -> _Forms:
    members = np.flatnonzero(~sketches.blank)
    _, first, inverse = np.unique(sketches.keys[members], axis=0, return_index=True, return_inverse=True)
    return _Forms(members, inverse.ravel(), members[first])


def _similar_across(sketches: Sketches, forms: _Forms, sides: np.ndarray,
                    floor: float) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of forms found by LSH, one with a text of side A and the other of side B (``sides``:
    per form, 1 for A, 2 for B, 3 for both), whose similarity is >= floor, and that similarity.
    Band by band, so only one band's candidates are held; pairs within one side are never
    verified. A pair found in several bands is listed once per band."""
    searched = np.flatnonzero(np.diff(sketches.offsets)[forms.first] > 0)
    keys = sketches.band_keys(forms.first[searched])
    found, similarities = [np.zeros((0, 2), np.int64)], [np.zeros(0)]
    for band in range(keys.shape[1]):
        pairs = searched[_unpacked(bucket_pairs(keys[:, band:band + 1]))]
        first, second = sides[pairs[:, 0]], sides[pairs[:, 1]]
        pairs = pairs[((first & 1) & (second >> 1)) | ((first >> 1) & (second & 1)) > 0]
        similarity = sketches.similarity(forms.first[pairs[:, 0]], forms.first[pairs[:, 1]], floor)
        keep = similarity >= floor
        found.append(pairs[keep])
        similarities.append(similarity[keep])
    return np.concatenate(found), np.concatenate(similarities)


def _linked_forms(sketches: Sketches, forms: _Forms, engine: Engine | None = None) -> tuple[np.ndarray, int]:
    """The root form of each form's component under "similar" (>= threshold), and how many
    similar pairs joined two components.

    Band by band, and in each band its buckets' neighbours before the rest of the window: a
    candidate pair already joined through others is not verified. Templated logs put
    thousands of near-copies in one bucket; their neighbours join them all at once and the
    window's other pairs fall away unverified, so work and memory stay near linear in the
    forms instead of growing with the pairs the buckets hold.

    On a distributed engine (Ray) the first band runs here, where most near-copies meet, and
    each other band is a task that starts from its components and prunes within its own band;
    their similar pairs are joined here. A pair left unverified because it was already joined
    adds nothing to the components, so they are the same either way. A local pool would copy
    every sketch to each worker: there all the bands run in this process.
    """
    searched = np.flatnonzero(np.diff(sketches.offsets)[forms.first] > 0)
    keys, rows = sketches.band_keys(forms.first[searched]), forms.first[searched]
    root = np.arange(len(searched))
    if engine is not None and engine.distributed and keys.shape[1] > 1:
        _link_band(keys[:, 0], sketches, rows, root)
        _join(root, *_joined_pairs(engine.map_batches(band_links, [[band] for band in range(1, keys.shape[1])],
                                                      keys, sketches, rows, root)))
    else:
        for band in range(keys.shape[1]):
            _link_band(keys[:, band], sketches, rows, root)
    out = np.arange(len(forms.first))
    out[searched] = searched[root]
    return out, len(searched) - len(np.unique(root))


def band_links(bands: list[int], keys: np.ndarray, sketches: Sketches, rows: np.ndarray,
               root: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Engine work: the similar pairs (i, j) of these bands' buckets, each band from the
    components ``root`` holds (pairs already in one are not verified)."""
    return _joined_pairs(_link_band(keys[:, band], sketches, rows, root.copy()) for band in bands)


def _link_band(column: np.ndarray, sketches: Sketches, rows: np.ndarray,
               root: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Join in ``root`` the similar pairs of one band's buckets (of ``rows`` of the sketches),
    neighbours first; returns the pairs found similar."""
    order, ordered = _sorted_band(column)
    threshold, found = sketches.params.threshold, []
    for steps in ((1,), range(2, WINDOW + 1)):
        i, j = _open_pairs(order, ordered, steps, root)
        similar = sketches.similarity(rows[i], rows[j], threshold) >= threshold
        _join(root, i[similar], j[similar])
        found.append((i[similar], j[similar]))
    return _joined_pairs(found)


def _joined_pairs(parts: Iterable[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Lists of pairs (i, j), one after the other."""
    parts = list(parts)
    return (np.concatenate([np.zeros(0, np.int64), *(i for i, _ in parts)]),
            np.concatenate([np.zeros(0, np.int64), *(j for _, j in parts)]))


def _open_pairs(order: np.ndarray, ordered: np.ndarray, steps: Sequence[int],
                root: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pairs of one band's buckets at these steps (see _bucket_neighbours) not yet in one component."""
    found_i, found_j = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for i, j in _bucket_neighbours(order, ordered, steps):
        apart = root[i] != root[j]
        found_i.append(i[apart])
        found_j.append(j[apart])
    return np.concatenate(found_i), np.concatenate(found_j)


def _join(root: np.ndarray, i: np.ndarray, j: np.ndarray) -> None:
    """Merge the components of each pair (i, j) in ``root`` (each row's component's smallest
    row, kept flat)."""
    if not len(i):
        return
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    nodes, inverse = np.unique(np.concatenate([root[i], root[j]]), return_inverse=True)
    edges = (inverse[:len(i)], inverse[len(i):])
    label = connected_components(coo_matrix((np.ones(len(i), np.int8), edges), shape=(len(nodes),) * 2),
                                 directed=False)[1]
    _, smallest = np.unique(label, return_index=True)  # nodes are sorted: a component's first is its smallest
    parent = np.arange(len(root))
    parent[nodes] = nodes[smallest][label]
    root[:] = parent[root]


@dataclass
class Groups:
    """Near-duplicate groups of a list of texts."""

    sketches: Sketches
    labels: np.ndarray  # group id per text, numbered by first appearance
    linked_pairs: int  # similar pairs of distinct texts that joined two groups (a spanning forest's edges)


def find_groups(texts: Sequence[str], params: Params = Params()) -> Groups:
    """Group texts whose normalized form is equal or whose Jaccard similarity reaches the
    threshold, transitively (A~B and B~C put A, B and C in one group). Empty texts stay alone."""
    return groups_of(sketch(texts, params))


def groups_of(sketches: Sketches, engine: Engine | None = None) -> Groups:
    """``find_groups`` on texts already sketched (LSH bands as tasks on a distributed ``engine``)."""
    forms = _forms(sketches)
    root, linked = _linked_forms(sketches, forms, engine)
    # Edges: every text to the first text of its form, and that to the first of its form's root.
    first_i = np.concatenate([forms.first[forms.form], forms.first])
    first_j = np.concatenate([forms.members, forms.first[root]])
    return Groups(sketches, components(len(sketches), first_i, first_j), linked)


def group_near_duplicates(texts: Sequence[str], *, threshold: float = 0.8, num_perm: int = 128, shingle: str = "word",
                          ngram: int = 3, seed: int = 1, verify: bool = True, workers: int | None = None) -> np.ndarray:
    """An int group id per text (same id = near-duplicates, transitively; singletons get their own id).

    Texts are compared after normalization (case, unicode form, whitespace, numbered PII
    placeholders) as sets of word or character n-grams; pairs found by MinHash LSH count when
    their exact Jaccard similarity (``verify``) or MinHash estimate is >= ``threshold``.
    """
    params = Params(threshold, num_perm, shingle, ngram, seed, verify, workers)
    return find_groups(texts, params).labels


def best_matches(texts_a: Sequence[str], texts_b: Sequence[str], params: Params = Params(),
                 minimum: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """For each text of ``texts_a``, its most similar text of ``texts_b`` among LSH candidates:
    (similarity, index into texts_b), or (0.0, -1) when none reaches ``minimum`` (default:
    the threshold; 0.0 takes any candidate). An equal normalized text scores 1.0."""
    return best_sketched_matches(sketch(texts_a, params), sketch(texts_b, params), minimum)


def best_sketched_matches(a: Sketches, b: Sketches, minimum: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``best_matches`` on texts already sketched."""
    n_a, params = len(a), a.params
    sketches = concat([a, b], params)
    forms = _forms(sketches)
    n_forms = len(forms.first)
    a_member, b_member = np.zeros(n_forms, bool), np.full(n_forms, -1)
    in_a = forms.members < n_a
    a_member[forms.form[in_a]] = True
    b_member[forms.form[~in_a]] = forms.members[~in_a] - n_a
    sides = a_member.astype(np.int8) | (b_member >= 0).astype(np.int8) << 1
    pairs, similarity = _similar_across(sketches, forms, sides, params.threshold if minimum is None else minimum)
    # Each similar pair in both directions, plus every form to itself (a copy on both sides).
    own = np.arange(n_forms)
    a_form = np.concatenate([pairs[:, 0], pairs[:, 1], own])
    b_form = np.concatenate([pairs[:, 1], pairs[:, 0], own])
    sims = np.concatenate([similarity, similarity, np.ones(n_forms)])
    usable = a_member[a_form] & (b_member[b_form] >= 0)
    best_sim, best_b = np.zeros(n_forms), np.full(n_forms, -1)
    # Ascending similarity, so the last write for a form is its best match.
    order = np.argsort(sims[usable], kind="stable")
    best_sim[a_form[usable][order]] = sims[usable][order]
    best_b[a_form[usable][order]] = b_member[b_form[usable][order]]
    out_sim, out_b = np.zeros(n_a), np.full(n_a, -1)
    out_sim[forms.members[in_a]] = best_sim[forms.form[in_a]]
    out_b[forms.members[in_a]] = best_b[forms.form[in_a]]
    return out_sim, out_b


def max_cross_similarity(texts_a: Sequence[str], texts_b: Sequence[str], *, threshold: float = 0.8,
                         num_perm: int = 128, shingle: str = "word", ngram: int = 3, seed: int = 1,
                         verify: bool = True, workers: int | None = None) -> tuple[float, int, int]:
    """The highest similarity between any text of ``texts_a`` and any of ``texts_b`` among the
    LSH candidates (exact Jaccard when ``verify``), with both indices; (0.0, -1, -1) if none.

    LSH is tuned to ``threshold``: pairs far below it are rarely candidates, so a low result
    means "nothing close", not an exact maximum over all pairs."""
    params = Params(threshold, num_perm, shingle, ngram, seed, verify, workers)
    sims, index = best_matches(texts_a, texts_b, params, minimum=0.0)
    if not len(index) or index.max() < 0:
        return 0.0, -1, -1
    a = int(np.argmax(np.where(index >= 0, sims, -1.0)))
    return float(sims[a]), a, int(index[a])
