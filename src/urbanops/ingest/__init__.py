"""Ingest: MQTT (SensorThings topics and SenML packs) into the one observation write path."""
