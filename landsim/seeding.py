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
from typing import Any

import numpy as np

__all__ = ["SeedLike", "check_seed", "as_sequence", "replicate_sequence",
           "replicate_sequences", "children", "child", "streams", "int_seed", "SEED_MAX"]

#: Largest root seed (stored as a signed 64-bit integer by the job service).
SEED_MAX = 2**63 - 1

SeedLike = int | np.random.SeedSequence


def check_seed(value: Any, name: str = "seed", *, sequence: bool = False,
               generator: bool = False, none: bool = False) -> Any:
    """THE seed rule of landsim: every place that validates a seed calls this.

    A seed is an integer (not a bool) in [0, 2^63 - 1] (:data:`SEED_MAX`: the job service
    stores it as a signed 64-bit integer). Where the caller accepts them, a
    :class:`numpy.random.SeedSequence` (``sequence=True``), a
    :class:`numpy.random.Generator` (``generator=True``) or ``None`` (``none=True``) pass
    too.

    Parameters
    ----------
    value : object
        The candidate seed.
    name : str
        The argument's name, shown in the error.
    sequence, generator, none : bool
        Also accept a SeedSequence, a Generator, ``None``.

    Returns
    -------
    int, numpy.random.SeedSequence, numpy.random.Generator or None
        An integer seed as a Python ``int``; any other accepted value as it is.

    Raises
    ------
    ValueError
        Naming ``name``, the bad value and what is accepted.
    """
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) \
            and 0 <= int(value) <= SEED_MAX:
        return int(value)
    if (sequence and isinstance(value, np.random.SeedSequence)) \
            or (generator and isinstance(value, np.random.Generator)) \
            or (none and value is None):
        return value
    kinds = (["None"] if none else []) + [f"an integer in [0, {SEED_MAX}]"] \
        + (["a numpy.random.SeedSequence"] if sequence else []) \
        + (["a numpy.random.Generator"] if generator else [])
    accepted = kinds[0] if len(kinds) == 1 else ", ".join(kinds[:-1]) + " or " + kinds[-1]
    raise ValueError(f"{name} must be {accepted}, got {value!r}")


def as_sequence(seed: SeedLike) -> np.random.SeedSequence:
    """``seed`` as a SeedSequence: an integer ``s`` in [0, 2^63 - 1] means replicate 0 of root
    seed ``s``, ``replicate_sequence(s, 0)``, so that ``run(seed=s)`` draws exactly what the
    unit (s, replicate 0) draws; a SeedSequence is returned as it is. Raises ValueError
    otherwise."""
    seed = check_seed(seed, sequence=True)
    if isinstance(seed, np.random.SeedSequence):
        return seed
    return replicate_sequence(seed, 0)


def replicate_sequence(seed: int, replicate: int) -> np.random.SeedSequence:
    """The sequence of replicate ``replicate`` (>= 0) of root seed ``seed``:
    ``SeedSequence(seed).spawn(replicate + 1)[replicate]``."""
    if isinstance(replicate, bool) or not isinstance(replicate, (int, np.integer)) \
            or replicate < 0:
        raise ValueError(f"replicate must be an integer >= 0, got {replicate!r}")
    return np.random.SeedSequence(check_seed(seed), spawn_key=(int(replicate),))


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
