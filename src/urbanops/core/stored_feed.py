"""Stored observations, published on MQTT for live subscribers, whichever way they arrived.

Every observation stored (through MQTT or HTTP) is published on
``urbanops/v1/stored/Datastreams(<id>)/Observations`` as a JSON array of the new observations,
each with its ``@iot.id``: one message per datastream and write (at most
:data:`CHUNK` observations each). Not on the SensorThings create topic, which the consumer
subscribes to: that would loop back into ingest.

The MQTT consumer publishes what it has just committed on its own connection. The API
collects what a request wrote (:func:`collecting` marks the transaction, ``write_observations``
notes its rows and ids in it) and, once the transaction has committed, hands it to a
:class:`StoredPublisher`: nothing rolled back is ever published.

The feed is live and best-effort (QoS 1 to the broker while it is reachable, at most
``max_queued`` messages held while it is not); the durable, resumable feed is
``GET /api/v1/events`` with ``Last-Event-ID``.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, Engine

from urbanops.core.sensing.observations import STORED_FEED_KEY, ObservationRow, value_json

log = logging.getLogger("urbanops.stored_feed")

STORED_TOPIC = "urbanops/v1/stored/Datastreams({})/Observations"
CHUNK = 1000


def messages(pairs: Sequence[tuple[ObservationRow, int]]) -> list[tuple[str, str]]:
    """(topic, JSON array) per datastream for stored ``(row, id)`` pairs, in order."""
    by_stream: dict[int, list[str]] = {}
    for row, oid in pairs:
        by_stream.setdefault(row.datastream_id, []).append(f'{{"@iot.id":{oid},{value_json(row)}}}')
    out = []
    for ds, items in by_stream.items():
        topic = STORED_TOPIC.format(ds)
        for i in range(0, len(items), CHUNK):
            out.append((topic, "[" + ",".join(items[i : i + CHUNK]) + "]"))
    return out


@contextlib.contextmanager
def collecting(engine: Engine, publisher: StoredPublisher | None) -> Iterator[Connection]:
    """``engine.begin()`` that publishes the observations it stored after it has committed."""
    if publisher is None:
        with engine.begin() as conn:
            yield conn
        return
    pending: list[tuple[ObservationRow, int]] = []
    with engine.begin() as conn:
        conn.info[STORED_FEED_KEY] = pending
        try:
            yield conn
        finally:
            conn.info.pop(STORED_FEED_KEY, None)
    if pending:  # committed
        publisher.publish(messages(pending))


class StoredPublisher:
    """A publish-only MQTT connection of an API process (reconnects by itself)."""

    def __init__(
        self,
        url: str,
        *,
        client_id: str,
        username: str | None,
        password: str | None,
        max_queued: int = 10_000,
    ) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        from urbanops.ingest.mqtt import parse_broker_url

        address = parse_broker_url(url)
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"{client_id}-api-{os.getpid()}",
            protocol=mqtt.MQTTv5,
        )
        user = username or address.username
        if user:
            self.client.username_pw_set(user, password or address.password)
        if address.tls:
            self.client.tls_set()
        self.client.max_queued_messages_set(max_queued)
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.address = address

    def start(self) -> None:
        self.client.connect_async(self.address.host, self.address.port, keepalive=30)
        self.client.loop_start()

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.client.disconnect()
        self.client.loop_stop()

    def publish(self, items: list[tuple[str, str]]) -> None:
        import paho.mqtt.client as mqtt

        for topic, payload in items:
            info: Any = self.client.publish(topic, payload, qos=1)
            if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
                log.warning("stored observations not published on %s (rc %s)", topic, info.rc)
