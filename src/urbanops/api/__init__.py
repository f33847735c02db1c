"""HTTP adapter: the FastAPI application, its dependencies and problem+json errors."""

from urbanops.api.app import create_app

__all__ = ["create_app"]
