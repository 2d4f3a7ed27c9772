"""Kefu's web layer: Flask app factory. The pages come with the web issue."""

from __future__ import annotations

from typing import Any

from flask import Flask

from engine import Kefu, settings_from_env


def create_app(config: dict[str, Any] | None = None, kefu: Kefu | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(SECRET_KEY="dev")
    if config:
        app.config.update(config)
    app.extensions["kefu"] = kefu or Kefu(settings_from_env())

    @app.get("/")
    def index() -> str:
        return "<h1>客服 Kefu</h1><p>The web inbox is coming; use the kefu command.</p>"

    return app
