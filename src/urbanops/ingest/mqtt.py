"""MQTT consumer: QoS 1, persistent session, acknowledged only after the readings are committed.

The broker keeps a persistent session for the stable client id (MQTT 5, clean start off, session
expiry set), so readings published while UrbanOps is down or restarting wait in the broker. Each
message is acknowledged (PUBACK) only after the transaction holding its readings, or its
dead-letter record, has committed. A crash between commit and acknowledgement makes the broker
deliver the message again; the idempotent write path stores nothing twice. So every reading is
stored exactly once, whatever restarts happen.

Messages are handled in batches (all messages waiting, up to ``mqtt_batch_max``): one
transaction per batch, then the acknowledgements in arrival order. Stored observations are
published on ``urbanops/v1/stored/Datastreams(<id>)/Observations`` for live subscribers, as a JSON
array per datastream and batch.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy import Engine

from urbanops.core import stored_feed
from urbanops.errors import ValidationError
from urbanops.ingest.messages import Catalog, Rejected, to_rows
from urbanops.ingest.store import BatchResult, Message, store_batch
from urbanops.settings import Settings

log = logging.getLogger("urbanops.ingest.mqtt")

SUBSCRIPTIONS = ("v1.1/+/Observations", "urbanops/v1/things/+/senml")
STORED_TOPIC = stored_feed.STORED_TOPIC


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool
    username: str | None
    password: str | None


def parse_broker_url(url: str) -> BrokerAddress:
    """``mqtt://[user:password@]host[:port]`` or ``mqtts://...`` (TLS, default port 8883)."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
        raise ValidationError(
            f"URBANOPS_MQTT_URL: scheme must be mqtt:// or mqtts://, got {parts.scheme!r}",
            field="mqtt_url",
        )
    if not parts.hostname:
        raise ValidationError("URBANOPS_MQTT_URL: no host", field="mqtt_url")
    tls = parts.scheme in ("mqtts", "ssl")
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError:
        raise ValidationError("URBANOPS_MQTT_URL: invalid port", field="mqtt_url") from None
    return BrokerAddress(
        parts.hostname,
        port,
        tls,
        unquote(parts.username) if parts.username else None,
        unquote(parts.password) if parts.password else None,
    )


def tune_gc() -> None:
    """Keep the cyclic garbage collector off the hot path of a long-running consumer.

    paho allocates several container objects per message (properties, message, condition), so
    with the default thresholds a young-generation collection ran every few hundred messages
    and older ones often enough to take a third of the consumer's time (measured with
    ``benchmarks/bench_mqtt.py``). Objects alive after start-up (imported modules, the
    catalogue) are frozen out of collection, and the young generation is collected ten times
    less often. Reference counting still frees all acyclic garbage at once.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 50, 100)


class MqttIngest:
    """Consume readings from the broker of ``settings.mqtt_url`` into ``engine``'s database."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        if not settings.mqtt_url:
            raise ValidationError("URBANOPS_MQTT_URL is not set", field="mqtt_url")
        self.settings = settings
        self.engine = engine
        self.address = parse_broker_url(settings.mqtt_url)
        self.catalog = Catalog()
        self.inbox: list[Any] = []
        self.totals = BatchResult()
        self.connected = threading.Event()
        self._stopping = False
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=settings.mqtt_client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        user = settings.mqtt_username or self.address.username
        password = (
            settings.mqtt_password.get_secret_value()
            if settings.mqtt_password
            else self.address.password
        )
        if user:
            client.username_pw_set(user, password)
        if self.address.tls:
            client.tls_set()
        client.max_inflight_messages_set(1000)
        client.max_queued_messages_set(0)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self.client = client
        self._connect_props = Properties(PacketTypes.CONNECT)
        self._connect_props.SessionExpiryInterval = settings.mqtt_session_expiry_s
        self._connect_props.ReceiveMaximum = 65535

    # -- paho callbacks (network thread) -----------------------------------------------------
    def _on_connect(
        self, client: Any, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        if reason.is_failure:
            log.error("broker refused the connection: %s", reason)
            return
        client.subscribe([(topic, 1) for topic in SUBSCRIPTIONS])
        self.connected.set()
        log.info(
            "connected to %s:%s as %s",
            self.address.host,
            self.address.port,
            self.settings.mqtt_client_id,
        )

    def _on_disconnect(
        self, _client: Any, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        self.connected.clear()
        if self._stopping:
            log.info("disconnected from the broker")
        else:
            log.warning("disconnected from the broker (%s); reconnecting", reason)

    def _on_message(self, _client: Any, _userdata: Any, msg: Any) -> None:
        self.inbox.append(msg)

    # -- main loop ---------------------------------------------------------------------------
    def start(self) -> None:
        """Connect, retrying while the broker is unreachable."""
        while True:
            try:
                self.client.connect(
                    self.address.host,
                    self.address.port,
                    keepalive=30,
                    clean_start=False,
                    properties=self._connect_props,
                )
                return
            except OSError as exc:
                log.warning(
                    "broker %s:%s unreachable (%s); retrying",
                    self.address.host,
                    self.address.port,
                    exc,
                )
                time.sleep(2)

    def run(self, stop: threading.Event) -> None:
        """Receive and store until ``stop`` is set.

        One thread does everything: network reads, parsing, the database write and the
        acknowledgements. With paho's network thread beside it, every row of ``executemany``
        waited for the GIL while the other thread read messages (130 us per row instead of 3).
        While a batch is written, new messages wait in the socket buffer.
        """
        tune_gc()
        self.start()
        try:
            while not stop.is_set():
                self.step(timeout_s=0.2)
        finally:
            self._stopping = True
            self.client.disconnect()
            with contextlib.suppress(Exception):
                self.client.loop(timeout=0.1)

    def step(self, timeout_s: float = 0.2) -> int:
        """Read what the network has, then store one batch; returns the messages handled."""
        import paho.mqtt.client as mqtt

        while True:
            before = len(self.inbox)
            rc = self.client.loop(timeout=0.0 if self.inbox else timeout_s)
            if rc != mqtt.MQTT_ERR_SUCCESS:
                self._reconnect()
                break
            if len(self.inbox) == before or len(self.inbox) >= self.settings.mqtt_batch_max:
                break
        if not self.inbox:
            return 0
        batch = self.inbox[: self.settings.mqtt_batch_max]
        del self.inbox[: len(batch)]
        messages = [Message(m.topic, m.payload) for m in batch]
        with self.engine.connect() as conn:
            for m in messages:
                try:
                    m.rows = to_rows(
                        conn,
                        self.catalog,
                        m.topic,
                        m.payload,
                        max_future_s=self.settings.max_future_skew_s,
                    )
                except Rejected as exc:
                    m.reason = exc.reason
        result = store_batch(self.engine, messages)
        # Committed: now, and only now, acknowledge (in arrival order).
        for m in batch:
            self.client.ack(m.mid, m.qos)
        self.totals.stored += result.stored
        self.totals.duplicates += result.duplicates
        self.totals.dead += result.dead
        if result.dead:
            log.info("%d message(s) dead-lettered", result.dead)
        if self.settings.mqtt_republish:
            self._republish(messages)
        return len(batch)

    def _reconnect(self) -> None:
        """After a lost connection: the broker redelivers everything not yet acknowledged."""
        self.connected.clear()
        self.inbox.clear()  # unacknowledged: the broker sends them again
        delay = 1.0
        while not self._stopping:
            try:
                self.client.reconnect()
                return
            except OSError as exc:
                log.warning(
                    "reconnecting to %s:%s failed (%s)", self.address.host, self.address.port, exc
                )
                time.sleep(delay)
                delay = min(delay * 2, 10.0)

    def _republish(self, messages: list[Message]) -> None:
        """Publish what was stored (see :mod:`urbanops.core.stored_feed`)."""
        pairs = [(row, oid) for m in messages for row, oid in zip(m.rows, m.ids, strict=False)]
        for topic, payload in stored_feed.messages(pairs):
            self.client.publish(topic, payload, qos=1)
