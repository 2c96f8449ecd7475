"""A batch split into transactions that run side by side: each partition's records stay
together and in order (a key's events are decided in the order they came), nothing is lost
or doubled, and the groups are neither too many nor too small to pay for themselves."""

from aiokafka import ConsumerRecord
from hypothesis import given
from hypothesis import strategies as st

from services.common.kafka import partition_groups


def records(partitions: list[tuple[str, int]]) -> list[tuple[ConsumerRecord, int]]:
    offsets: dict[tuple[str, int], int] = {}
    out = []
    for i, (topic, partition) in enumerate(partitions):
        offset = offsets[topic, partition] = offsets.get((topic, partition), -1) + 1
        record = ConsumerRecord(topic, partition, offset, 0, 0, None, b"", 0, 0, 0, [])
        out.append((record, i))
    return out


batches = st.lists(st.tuples(st.sampled_from(["a", "b"]), st.integers(0, 11)), max_size=300)


@given(batch=batches, most=st.integers(1, 8), least=st.integers(1, 40))
def test_every_partition_stays_whole_and_in_order(batch, most, least):
    items = records(batch)
    groups = partition_groups(items, most, least)
    assert sorted(i for group in groups for _, i in group) == list(range(len(items)))
    owner = {}
    for n, group in enumerate(groups):
        for record, _ in group:
            assert owner.setdefault((record.topic, record.partition), n) == n
        for tp in {(r.topic, r.partition) for r, _ in group}:
            offsets = [r.offset for r, _ in group if (r.topic, r.partition) == tp]
            assert offsets == sorted(offsets)


@given(batch=batches, most=st.integers(1, 8), least=st.integers(1, 40))
def test_never_more_groups_than_asked_nor_than_the_records_pay_for(batch, most, least):
    groups = partition_groups(records(batch), most, least)
    assert 1 <= len(groups) <= max(1, min(most, len(batch) // least))
    assert all(groups) or groups == [[]]


def test_a_batch_over_many_partitions_is_split_evenly():
    batch = [("a", p % 6) for p in range(60)]
    groups = partition_groups(records(batch), 2, 16)
    assert [len(g) for g in groups] == [30, 30]


def test_one_partition_is_one_transaction_however_big():
    assert len(partition_groups(records([("a", 3)] * 200), 4, 16)) == 1
