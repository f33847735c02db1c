"""Settings, read once from ``URBANOPS_*`` environment variables and passed explicitly."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """All runtime settings of UrbanOps.

    Every field can be set with an environment variable named ``URBANOPS_<FIELD>``, e.g.
    ``URBANOPS_DATABASE_URL=postgresql+psycopg://user@host/db``.
    """

    model_config = SettingsConfigDict(env_prefix="URBANOPS_", extra="ignore")

    data_dir: Path = Field(
        default=Path("var"), description="Folder for the embedded database and files"
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default is SQLite at <data_dir>/urbanops.db"
    )
    city_timezone: str = "Asia/Seoul"
    metric_crs: str = "EPSG:5186"
    public_base_url: str | None = Field(
        default=None, description="Base URL used in @iot.selfLink; default is the request's own"
    )
    max_body_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    max_top: int = Field(default=10_000, ge=1, description="Largest $top a client may ask for")
    default_top: int = Field(default=100, ge=1)
    max_latest_datastreams: int = Field(default=10_000, ge=1)
    max_bulk_observations: int = Field(default=100_000, ge=1)
    max_expand_depth: int = Field(default=3, ge=1)
    anonymous_read: bool = Field(
        default=False, description="Let anyone read every Thing (otherwise only public Things)"
    )
    # -- live data plane ---------------------------------------------------------------------
    mqtt_url: str | None = Field(
        default=None, description="Broker to ingest from, mqtt://host:port (mqtts:// for TLS)"
    )
    mqtt_username: str | None = None
    mqtt_password: SecretStr | None = None
    mqtt_client_id: str = Field(
        default="urbanops-ingest",
        min_length=1,
        max_length=64,
        description="Stable client id: the broker keeps its session (and queued readings)",
    )
    mqtt_session_expiry_s: int = Field(default=7 * 86400, ge=60, le=2**32 - 1)
    mqtt_batch_max: int = Field(default=1000, ge=1, le=100_000)
    mqtt_republish: bool = Field(
        default=True, description="Publish each stored observation on urbanops/v1/stored/..."
    )
    alert_check_interval_s: float = Field(
        default=30.0, ge=0, description="How often staleness rules are checked (0: never)"
    )
    webhook_interval_s: float = Field(
        default=1.0, ge=0, description="How often due webhook deliveries are sent (0: never)"
    )
    ingest_sqlite_cache_mib: int = Field(
        default=32,
        ge=2,
        le=4096,
        description="SQLite page cache of the MQTT consumer (it only appends; a small cache "
        "keeps its resident memory flat)",
    )
    max_upload_bytes: int = Field(
        default=8 * 1024**3,
        ge=1024,
        description="Largest upload (e.g. a survey's mosaic) the API accepts, in bytes",
    )
    dask_address: str | None = Field(
        default=None,
        description="Dask scheduler (tcp://host:8786) for heavy batch work such as mosaic "
        "inspections; unset: a local thread pool",
    )
    taxi_network: Path | None = Field(
        default=None,
        description="Road network of taxi dispatch (.osm.pbf, .osm, .graphml); unset: "
        "<data_dir>/taxi/network.graphml if the demo wrote one",
    )
    taxi_batch_s: float = Field(
        default=5.0, ge=0, le=120, description="Seconds between dispatch batches (0: never)"
    )
    taxi_max_pickup_s: float = Field(
        default=600.0, ge=30, le=3600, description="No cab farther than this is sent (s)"
    )
    civic_services: Path | None = Field(
        default=None,
        description="Complaint categories and departments (YAML); unset: the bundled list",
    )
    civic_kb: Path | None = Field(
        default=None, description="The chat's knowledge base (CSV/YAML); unset: the starter base"
    )
    civic_public_chat: bool = Field(
        default=False,
        description="Let residents chat without an API key (a public web page or kiosk)",
    )
    max_future_skew_s: int = Field(
        default=600, ge=0, description="Readings stamped further in the future are refused"
    )
    # -- dashboard ---------------------------------------------------------------------------
    dashboard_tile_url: str = Field(
        default="https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        max_length=500,
        description="Basemap XYZ tiles; empty: no tiles (offline), districts and streets are "
        "drawn from local data",
    )
    dashboard_tile_attribution: str = Field(
        default="&copy; OpenStreetMap contributors", max_length=500
    )
    dashboard_center: tuple[float, float] = Field(
        default=(37.55, 126.99), description="Map centre (lat, lon) before data is loaded"
    )
    dashboard_zoom: int = Field(default=11, ge=1, le=19)
    dashboard_streets: Path | None = Field(
        default=None,
        description="Local street lines (GeoJSON, EPSG:4326) drawn as the offline basemap",
    )
    stale_after_s: int = Field(
        default=3600,
        ge=60,
        le=30 * 86400,
        description="A sensor whose newest reading is older than this shows as stale",
    )
    max_map_assets: int = Field(
        default=200_000, ge=1, le=2_000_000, description="Most sensors one map call returns"
    )

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL, defaulting to the embedded SQLite file under ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'urbanops.db').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings from the environment (cached; tests build their own ``Settings``)."""
    return Settings()
