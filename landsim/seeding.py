"""Seeds of replicates and of the random streams inside one run.

Every random draw of a claim comes from one :class:`numpy.random.SeedSequence`:

- replicate ``i`` of a run with root seed ``s`` uses ``SeedSequence(s, spawn_key=(i,))``,
  which is exactly ``SeedSequence(s).spawn(n)[i]`` (:func:`replicate_sequence`); a plain
  integer seed ``s`` given to a function means replicate 0 of root ``s``
  (:func:`as_sequence`);
- inside a run, each purpose (the landscape, the starting points, the projections, a
  network's initialisation, its minibatches ...) gets its own child of that sequence
  (:func:`children`, :func:`streams`), never ``seed + offset``;
- torch seeds are drawn from a child too (:func:`int_seed`).

Children are built from ``entropy`` and ``spawn_key`` directly rather than with
``SeedSequence.spawn``, which counts the children already spawned and so would give a
different stream the second time the same object is used: here the same sequence always
gives the same children.

Two root seeds give unrelated sequences (the root seed is the SeedSequence's entropy,
hashed, not an offset), and two replicates of one root differ in their spawn key, so no
two replicates of any runs share a stream.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["SeedLike", "as_sequence", "replicate_sequence", "replicate_sequences",
           "children", "child", "streams", "int_seed", "SEED_MAX"]

#: Largest root seed (stored as a signed 64-bit integer by the job service).
SEED_MAX = 2**63 - 1

SeedLike = int | np.random.SeedSequence


def _root(seed) -> int:
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) \
            and 0 <= int(seed) <= SEED_MAX:
        return int(seed)
    raise ValueError(f"seed must be an integer in [0, {SEED_MAX}], got {seed!r}")


def as_sequence(seed: SeedLike) -> np.random.SeedSequence:
    """``seed`` as a SeedSequence: an integer ``s`` in [0, 2^63 - 1] means replicate 0 of root
    seed ``s``, ``replicate_sequence(s, 0)``, so that ``run(seed=s)`` draws exactly what the
    unit (s, replicate 0) draws; a SeedSequence is returned as it is. Raises ValueError
    otherwise."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) \
            and 0 <= int(seed) <= SEED_MAX:
        return replicate_sequence(int(seed), 0)
    raise ValueError(f"seed must be an integer in [0, {SEED_MAX}] or a "
                     f"numpy.random.SeedSequence, got {seed!r}")


def replicate_sequence(seed: int, replicate: int) -> np.random.SeedSequence:
    """The sequence of replicate ``replicate`` (>= 0) of root seed ``seed``:
    ``SeedSequence(seed).spawn(replicate + 1)[replicate]``."""
    if isinstance(replicate, bool) or not isinstance(replicate, (int, np.integer)) \
            or replicate < 0:
        raise ValueError(f"replicate must be an integer >= 0, got {replicate!r}")
    return np.random.SeedSequence(_root(seed), spawn_key=(int(replicate),))


def replicate_sequences(seed: int, n: int) -> list[np.random.SeedSequence]:
    """The sequences of replicates 0 .. n - 1 of root seed ``seed``."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"the number of replicates must be an integer >= 1, got {n!r}")
    return [replicate_sequence(seed, i) for i in range(int(n))]


def children(seed: SeedLike, n: int) -> list[np.random.SeedSequence]:
    """``n`` independent child sequences of ``seed``, the same ones on every call."""
    parent = as_sequence(seed)
    return [np.random.SeedSequence(parent.entropy, spawn_key=(*parent.spawn_key, i),
                                   pool_size=parent.pool_size) for i in range(int(n))]


def child(seed: SeedLike, *key: int) -> np.random.SeedSequence:
    """The descendant of ``seed`` at path ``key`` (non-negative integers): ``child(s, 1, r)``
    is child r of child 1 of ``s``, the same one on every call, unrelated to every other
    path."""
    parent = as_sequence(seed)
    for k in key:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
            raise ValueError(f"a child key must be an integer >= 0, got {k!r}")
    return np.random.SeedSequence(parent.entropy, spawn_key=(*parent.spawn_key,
                                                             *(int(k) for k in key)),
                                  pool_size=parent.pool_size)


def streams(seed: SeedLike, names: Sequence[str]) -> dict[str, np.random.Generator]:
    """One Generator per purpose, ``{name: Generator}``, child ``i`` for ``names[i]``.

    Adding a name at the end leaves the streams of the earlier names unchanged.
    """
    if len(set(names)) != len(names):
        raise ValueError(f"stream names must be distinct, got {list(names)!r}")
    return {name: np.random.default_rng(ss) for name, ss in zip(names, children(seed,
                                                                                len(names)))}


def int_seed(seed: SeedLike) -> int:
    """A non-negative 63-bit integer drawn from ``seed`` (for torch.manual_seed and other
    APIs that take an integer)."""
    return int(as_sequence(seed).generate_state(1, np.uint64)[0] >> np.uint64(1))
