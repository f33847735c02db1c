"""MQTT helpers for the ingest tests: a publisher, a subscriber, a city to ingest into."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import Engine

from urbanops.core.sensing.write import Writer

OM = "http://www.opengis.net/def/observationType/OGC-OM/2.0/"


def make_city(engine: Engine) -> dict[str, int]:
    """A Thing with temperature (degC), humidity (%) and a category datastream."""
    with engine.begin() as conn:
        w = Writer(conn)
        sensor = {"name": "gw", "encodingType": "text/plain", "metadata": "gateway"}
        streams = [
            ("air_temperature", "degC", "OM_Measurement"),
            ("relative_humidity", "%", "OM_Measurement"),
            ("road_state", None, "OM_CategoryObservation"),
        ]
        thing = w.create(
            "Things",
            {
                "name": "S-DoT gateway",
                "Datastreams": [
                    {
                        "name": f"ds {op}",
                        "observationType": OM + otype,
                        "unitOfMeasurement": {"name": unit or "", "symbol": unit, "definition": ""},
                        "Sensor": sensor,
                        "ObservedProperty": {"name": op, "definition": f"urn:{op}"},
                    }
                    for op, unit, otype in streams
                ],
            },
        )
        other = w.create(
            "Things",
            {
                "name": "other gateway",
                "Datastreams": [
                    {
                        "name": "other temp",
                        "observationType": OM + "OM_Measurement",
                        "unitOfMeasurement": {"name": "degC", "symbol": "degC", "definition": ""},
                        "Sensor": sensor,
                        "ObservedProperty": {"name": "air_temperature2", "definition": "urn:x"},
                    }
                ],
            },
        )
        rows = conn.exec_driver_sql(
            "SELECT d.id, o.name FROM datastreams d JOIN observed_properties o "
            "ON o.id = d.observed_property_id ORDER BY d.id"
        ).all()
    ids = {name: ds for ds, name in rows}
    return {"thing": thing, "other": other, **ids}


class Publisher:
    """A QoS 1 publisher with a persistent session: resends what the broker did not ack."""

    def __init__(self, port: int, client_id: str = "test-publisher") -> None:
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        self.client.max_inflight_messages_set(200)
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(min_delay=1, max_delay=2)
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        self.client.connect("127.0.0.1", port, clean_start=False, properties=props)
        self.client.loop_start()
        self.infos: list[Any] = []

    def publish(self, topic: str, payload: Any) -> None:
        data = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        self.infos.append(self.client.publish(topic, data, qos=1))

    def wait_all(self, timeout_s: float = 120) -> None:
        """Wait until the broker acknowledged every publication.

        A message published while the client was disconnected (the broker restarting) gets
        rc MQTT_ERR_NO_CONN, yet paho keeps it and sends it after reconnecting; its public
        ``wait_for_publish``/``is_published`` raise on that rc, so such messages are followed
        through the ``_published`` flag that paho sets when the PUBACK arrives.
        """
        deadline = time.time() + timeout_s
        for info in self.infos:
            if info.rc == mqtt.MQTT_ERR_NO_CONN:
                while not info._published:
                    assert time.time() < deadline, "the broker did not acknowledge a publication"
                    time.sleep(0.01)
                continue
            info.wait_for_publish(timeout=max(0.1, deadline - time.time()))
            assert info.is_published(), "the broker did not acknowledge a publication"

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Subscriber:
    """Collects messages on a topic filter."""

    def __init__(self, port: int, topic: str) -> None:
        self.messages: list[tuple[str, Any]] = []
        self.ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)

        def on_connect(client: Any, *_: Any) -> None:
            client.subscribe(topic, qos=1)

        def on_subscribe(*_: Any) -> None:
            self.ready.set()

        def on_message(_c: Any, _u: Any, msg: Any) -> None:
            self.messages.append((msg.topic, orjson.loads(msg.payload)))

        self.client.on_connect = on_connect
        self.client.on_subscribe = on_subscribe
        self.client.on_message = on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self.ready.wait(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def wait_until(check: Callable[[], bool], timeout_s: float = 60, what: str = "") -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")
