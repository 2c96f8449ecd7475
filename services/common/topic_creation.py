"""Create the contract's topics with the settings `contracts.topics` gives them."""

from __future__ import annotations

import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from contracts.topics import ALL_TOPICS

log = logging.getLogger(__name__)


async def create_topics(
    bootstrap_servers: str,
    *,
    prefix: str = "",
    replication_factor: int = 1,
    partitions: int | None = None,
) -> dict[str, str]:
    """Create what is missing; return topic -> 'created' | 'exists'. Safe to run again."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="porgate-topics")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        result: dict[str, str] = {}
        for topic in ALL_TOPICS:
            name = prefix + topic.name
            if name in existing:
                result[name] = "exists"
                continue
            new = NewTopic(
                name,
                num_partitions=partitions or topic.partitions,
                replication_factor=replication_factor,
                topic_configs=topic.config(),
            )
            response = await admin.create_topics([new])
            errors = [
                e
                for e in getattr(response, "topic_errors", ())
                if e[1] not in (0, TopicAlreadyExistsError.errno)
            ]
            if errors:
                raise RuntimeError(f"creating {name}: {errors}")
            result[name] = "created"
        return result
    finally:
        await admin.close()
