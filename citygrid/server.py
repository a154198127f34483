"""`citygrid serve`: gunicorn's arbiter with uvicorn workers (uvloop, httptools). The app is built once in the
arbiter and forked into each worker, so a start or a restart after a crash imports the code once, not once per
worker (the kill -9 drill measured 4-6 s to the first answer with two workers importing it side by side). Each
worker opens its own pool, gate and LISTEN in the app's lifespan, after the fork; nothing before the fork holds a
connection or a thread."""
from __future__ import annotations

from gunicorn.app.base import BaseApplication
from uvicorn_worker import UvicornWorker

from citygrid.settings import Settings

GRACEFUL_SECONDS = 10  # a stop waits this long for open requests and live streams, then the worker is killed


class Worker(UvicornWorker):
    """A uvicorn worker on uvloop and httptools (installed with uvicorn[standard])."""

    CONFIG_KWARGS = {"loop": "uvloop", "http": "httptools"}


class Server(BaseApplication):
    """The arbiter for `citygrid serve`, configured from the settings and the command line."""

    def __init__(self, settings: Settings, *, host: str, port: int, workers: int, access_log: bool) -> None:
        self.settings = settings
        self.options = {
            "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}", "workers": workers,
            "worker_class": Worker, "preload_app": True, "graceful_timeout": GRACEFUL_SECONDS,
            "keepalive": 5, "accesslog": "-" if access_log else None, "errorlog": "-", "loglevel": "info",
            # X-Forwarded-* is believed only from the proxies named in CITYGRID_TRUSTED_PROXIES (none by default)
            "forwarded_allow_ips": ",".join(settings.trusted_proxy_list()),
            **({"certfile": settings.ssl_certfile, "keyfile": settings.ssl_keyfile} if settings.https else {}),
        }
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from citygrid.app import build_app

        return build_app(self.settings)
