"""porgate's partitioner must put every key where Kafka's default partitioner does: other
producers (Java clients, aiokafka's default) and porgate must agree on a key's partition."""

from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

from services.common.kafka import partition_for


@given(key=st.binary(max_size=200), count=st.integers(1, 64))
def test_a_key_goes_to_the_partition_kafkas_default_partitioner_picks(key, count):
    partitions = list(range(count))
    assert partition_for(key, partitions, partitions) == DefaultPartitioner()(
        key, partitions, partitions
    )


@given(count=st.integers(1, 64), available=st.data())
def test_a_message_without_a_key_goes_to_an_available_partition(count, available):
    partitions = list(range(count))
    up = available.draw(st.lists(st.sampled_from(partitions), unique=True))
    assert partition_for(None, partitions, up) in (up or partitions)
