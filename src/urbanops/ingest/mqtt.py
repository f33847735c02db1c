"""MQTT consumer: QoS 1, persistent session, acknowledged only after the readings are committed.

The broker keeps a persistent session for the stable client id (MQTT 5, clean start off, session
expiry set), so readings published while UrbanOps is down or restarting wait in the broker. Each
message is acknowledged (PUBACK) only after the transaction holding its readings, or its
dead-letter record, has committed. A crash between commit and acknowledgement makes the broker
deliver the message again; the idempotent write path stores nothing twice. So every reading is
stored exactly once, whatever restarts happen.

Messages are handled in batches (all messages waiting, up to ``mqtt_batch_max``): one
transaction per batch, then the acknowledgements in arrival order. Stored observations are
published on ``urbanops/v1/stored/Datastreams(<id>)/Observations`` for live subscribers.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy import Engine

from urbanops.core.sensing.observations import value_json
from urbanops.errors import ValidationError
from urbanops.ingest.messages import Catalog, Rejected, to_rows
from urbanops.ingest.store import BatchResult, Message, store_batch
from urbanops.settings import Settings

log = logging.getLogger("urbanops.ingest.mqtt")

SUBSCRIPTIONS = ("v1.1/+/Observations", "urbanops/v1/things/+/senml")
STORED_TOPIC = "urbanops/v1/stored/Datastreams({})/Observations"


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
        self.inbox: queue.Queue[Any] = queue.Queue()
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
        client.reconnect_delay_set(min_delay=1, max_delay=10)
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
        self.inbox.put(msg)

    # -- main loop ---------------------------------------------------------------------------
    def start(self) -> None:
        """Connect (retrying while the broker is unreachable) and start the network thread."""
        while True:
            try:
                self.client.connect(
                    self.address.host,
                    self.address.port,
                    keepalive=30,
                    clean_start=False,
                    properties=self._connect_props,
                )
                break
            except OSError as exc:
                log.warning(
                    "broker %s:%s unreachable (%s); retrying",
                    self.address.host,
                    self.address.port,
                    exc,
                )
                time.sleep(2)
        self.client.loop_start()

    def run(self, stop: threading.Event) -> None:
        """Handle batches until ``stop`` is set."""
        self.start()
        try:
            while not stop.is_set():
                self.step(timeout_s=0.5)
        finally:
            self._stopping = True
            self.client.disconnect()
            self.client.loop_stop()

    def step(self, timeout_s: float = 0.5) -> int:
        """Handle one batch of waiting messages; returns how many."""
        try:
            first = self.inbox.get(timeout=timeout_s)
        except queue.Empty:
            return 0
        batch = [first]
        while len(batch) < self.settings.mqtt_batch_max:
            try:
                batch.append(self.inbox.get_nowait())
            except queue.Empty:
                break
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

    def _republish(self, messages: list[Message]) -> None:
        for m in messages:
            for row, oid in zip(m.rows, m.ids, strict=False):
                body = (
                    f'{{"@iot.id":{oid},{value_json(row)},'
                    f'"Datastream":{{"@iot.id":{row.datastream_id}}}}}'
                )
                self.client.publish(STORED_TOPIC.format(row.datastream_id), body, qos=1)
