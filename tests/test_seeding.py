"""landsim.seeding: replicate and stream sequences are reproducible, match numpy's spawn,
and never share a stream across root seeds, replicates or purposes."""

from __future__ import annotations

import numpy as np
import pytest

from landsim.seeding import (
    SEED_MAX,
    as_sequence,
    children,
    int_seed,
    replicate_sequence,
    replicate_sequences,
    streams,
)

NAMES = ("landscape", "starts", "descent", "projection")


def words(ss: np.random.SeedSequence) -> tuple:
    """The first 8 64-bit words of a sequence's state (what a BitGenerator is seeded from)."""
    return tuple(int(w) for w in ss.generate_state(8, np.uint64))


def draws(gen: np.random.Generator) -> tuple:
    """The first 8 raw 64-bit outputs of a Generator (does not disturb the caller's copy
    when the Generator is freshly built)."""
    return tuple(int(w) for w in gen.bit_generator.random_raw(8))


def same_state(a: np.random.SeedSequence, b: np.random.SeedSequence) -> bool:
    return (a.entropy == b.entropy and tuple(a.spawn_key) == tuple(b.spawn_key)
            and a.pool_size == b.pool_size and words(a) == words(b))


# ---- reproducibility and numpy equivalence --------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 7, 12345, 2**32 + 5, SEED_MAX])
def test_same_root_seed_same_replicate_sequences(seed):
    a, b = replicate_sequences(seed, 5), replicate_sequences(seed, 5)
    assert len(a) == 5
    for x, y in zip(a, b):
        assert same_state(x, y)
        np.testing.assert_array_equal(x.generate_state(16, np.uint32),
                                      y.generate_state(16, np.uint32))
    # replicate_sequences is replicate_sequence for each index
    for i, x in enumerate(a):
        assert same_state(x, replicate_sequence(seed, i))


@pytest.mark.parametrize("seed", [0, 3, 99, 2**40 + 1, SEED_MAX])
@pytest.mark.parametrize("n", [1, 2, 5, 9])
def test_replicate_sequence_is_numpy_spawn(seed, n):
    spawned = np.random.SeedSequence(seed).spawn(n)
    for i in range(n):
        ours = replicate_sequence(seed, i)
        assert same_state(ours, spawned[i]), i
        # the generators built from them agree draw for draw
        assert draws(np.random.default_rng(ours)) == draws(np.random.default_rng(spawned[i]))


def test_replicate_sequence_does_not_depend_on_how_many_are_asked_for():
    assert same_state(replicate_sequence(4, 2), replicate_sequences(4, 3)[2])
    assert same_state(replicate_sequence(4, 2), replicate_sequences(4, 10)[2])


def test_replicate_sequence_accepts_numpy_integers():
    assert same_state(replicate_sequence(np.int64(5), np.int32(2)), replicate_sequence(5, 2))


# ---- no shared streams -----------------------------------------------------------------------

def _all_words(seeds, replicates=range(5)) -> list[tuple]:
    """State words of every replicate sequence of ``seeds``, its children and grandchildren
    (experiments nest children: E2, real E6/E7), and the raw draws of its named streams."""
    out = []
    for s in seeds:
        out.append(words(np.random.SeedSequence(s)))  # the root itself
        for i in replicates:
            rs = replicate_sequence(s, i)
            out.append(words(rs))
            kids = children(rs, 4)
            out += [words(k) for k in kids]
            out += [words(g) for k in kids[:2] for g in children(k, 3)]
            out += [draws(g) for g in streams(rs, NAMES).values()]
    return out


def test_old_offset_collision_is_gone():
    # the old scheme used seed + offset: seed s replicate 1 == seed s + 1 replicate 0
    for s in range(20):
        assert words(replicate_sequence(s, 1)) != words(replicate_sequence(s + 1, 0))
        assert words(children(replicate_sequence(s, 0), 2)[1]) != \
            words(children(replicate_sequence(s + 1, 0), 2)[0])
        assert draws(streams(replicate_sequence(s, 1), NAMES)["landscape"]) != \
            draws(streams(replicate_sequence(s + 1, 0), NAMES)["landscape"])


@pytest.mark.parametrize("pair", [(0, 1)] + [(s, s + 1) for s in range(20)] + [(0, 2**32)])
def test_two_root_seeds_share_no_stream(pair):
    all_words = _all_words(pair)
    assert len(set(all_words)) == len(all_words)


def test_twenty_consecutive_root_seeds_share_no_stream():
    all_words = _all_words(range(21))
    # 21 roots x (1 + 5 x (1 + 4 + 6 + 4))
    assert len(all_words) == 21 * (1 + 5 * 15)
    assert len(set(all_words)) == len(all_words)


def test_words_do_not_overlap_as_shifted_windows():
    # a stream that were the shift of another by a few words would share words; look at
    # single words across replicates/roots, not only whole 8-word blocks
    single = [w for s in range(5) for i in range(5) for w in words(replicate_sequence(s, i))]
    assert len(set(single)) == len(single)


# ---- children and streams ------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 11, replicate_sequence(3, 2)])
def test_children_is_stateless(seed):
    first = children(seed, 5)
    second = children(seed, 5)
    for a, b in zip(first, second):
        assert same_state(a, b)
    # unlike SeedSequence.spawn, which moves on: a second spawn gives new children
    parent = as_sequence(seed)
    spawn1, spawn2 = parent.spawn(2), parent.spawn(2)
    assert words(spawn1[0]) != words(spawn2[0])
    # calling spawn in between does not move children either
    assert same_state(children(parent, 5)[0], first[0])
    assert words(children(parent, 5)[0]) == words(spawn1[0])


def test_children_prefix_is_stable_and_distinct():
    rs = replicate_sequence(6, 1)
    three, seven = children(rs, 3), children(rs, 7)
    for a, b in zip(three, seven):
        assert same_state(a, b)
    assert len({words(c) for c in seven}) == 7
    assert all(words(c) != words(rs) for c in seven)


def test_children_of_a_sequence_extend_its_spawn_key():
    rs = replicate_sequence(8, 3)
    for i, c in enumerate(children(rs, 4)):
        assert c.entropy == 8 and tuple(c.spawn_key) == (3, i)
        assert same_state(c, np.random.SeedSequence(8).spawn(4)[3].spawn(4)[i])


def test_streams_are_distinct_per_name_and_reproducible():
    rs = replicate_sequence(2, 0)
    a, b = streams(rs, NAMES), streams(rs, NAMES)
    assert list(a) == list(NAMES)
    outs = {name: draws(g) for name, g in a.items()}
    assert len(set(outs.values())) == len(NAMES)
    assert outs == {name: draws(g) for name, g in b.items()}
    # stream i is the generator of child i
    for name, child in zip(NAMES, children(rs, len(NAMES))):
        assert outs[name] == draws(np.random.default_rng(child))


def test_adding_a_stream_name_keeps_the_earlier_streams():
    rs = replicate_sequence(9, 4)
    short = {k: draws(g) for k, g in streams(rs, NAMES[:2]).items()}
    longer = {k: draws(g) for k, g in streams(rs, NAMES).items()}
    assert all(short[k] == longer[k] for k in short)


def test_streams_reject_duplicate_names():
    with pytest.raises(ValueError, match="distinct"):
        streams(0, ("a", "b", "a"))


def test_streams_of_different_replicates_differ():
    a = streams(replicate_sequence(0, 0), NAMES)
    b = streams(replicate_sequence(0, 1), NAMES)
    for name in NAMES:
        assert draws(a[name]) != draws(b[name])


# ---- int_seed ------------------------------------------------------------------------------

def test_int_seed_in_range_reproducible_and_distinct():
    values = [int_seed(c) for s in range(10) for i in range(5)
              for c in children(replicate_sequence(s, i), 4)]
    assert all(isinstance(v, int) and 0 <= v <= SEED_MAX for v in values)
    assert len(set(values)) == len(values)
    assert int_seed(replicate_sequence(3, 1)) == int_seed(replicate_sequence(3, 1))
    assert int_seed(7) == int_seed(replicate_sequence(7, 0))
    # the top word shifted right by one: a 63-bit value
    ss = replicate_sequence(3, 1)
    assert int_seed(ss) == int(ss.generate_state(1, np.uint64)[0]) >> 1
    # 200 draws: the top bit of a 63-bit integer is set about half the time
    top = [int_seed(c) >> 62 for c in children(5, 200)]
    assert 40 < sum(top) < 160


# ---- bad inputs ----------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [-1, -(2**70), SEED_MAX + 1, 2**64, True, False, 1.0, "3",
                                 None, np.int64(-3)])
def test_bad_root_seed_raises_with_value(bad):
    for call in (lambda: as_sequence(bad), lambda: replicate_sequence(bad, 0),
                 lambda: replicate_sequences(bad, 2), lambda: children(bad, 2),
                 lambda: streams(bad, ("a",)), lambda: int_seed(bad)):
        with pytest.raises(ValueError) as info:
            call()
        assert repr(bad) in str(info.value)


@pytest.mark.parametrize("bad", [-1, -5, True, 1.0, "0", None])
def test_bad_replicate_raises_with_value(bad):
    with pytest.raises(ValueError) as info:
        replicate_sequence(0, bad)
    assert repr(bad) in str(info.value)


@pytest.mark.parametrize("bad", [0, -1, True, 2.0])
def test_bad_replicate_count_raises_with_value(bad):
    with pytest.raises(ValueError) as info:
        replicate_sequences(0, bad)
    assert repr(bad) in str(info.value)


def test_a_plain_integer_seed_is_replicate_0_of_that_root():
    # run(seed=s) draws exactly what the unit (s, replicate 0) draws
    for s in (0, 7, SEED_MAX):
        assert same_state(as_sequence(s), replicate_sequence(s, 0))
        # and its children are not the root's replicates
        assert words(children(s, 2)[1]) != words(replicate_sequence(s, 1))


def test_seed_max_is_the_largest_accepted_seed():
    assert SEED_MAX == 2**63 - 1
    assert as_sequence(SEED_MAX).entropy == SEED_MAX
    as_sequence(0)
