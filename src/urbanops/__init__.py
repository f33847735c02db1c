"""UrbanOps: open smart-city operations (a SensorThings core plus city-service domains)."""

__version__ = "0.1.0"
