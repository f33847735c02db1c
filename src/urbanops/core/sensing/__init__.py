"""The OGC SensorThings sensing model: entities, OData query options, reads and writes."""
