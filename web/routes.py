"""The app's routes as FastAPI serves them: each with its full path, through the routers it includes."""
from __future__ import annotations

from collections.abc import Iterator

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import Match
from starlette.types import Scope


def every_route(app: FastAPI) -> Iterator:
    """Every route (a FastAPI RouteContext: path, methods, endpoint, dependant...), included routers opened."""
    return iter_route_contexts(app.routes)


def api_routes(app: FastAPI) -> Iterator:
    """The routes that FastAPI's own handlers serve (not static files, not the document itself)."""
    return (route for route in every_route(app) if isinstance(route.original_route, APIRoute))


def allowed_methods(app: FastAPI, scope: Scope) -> set[str]:
    """Every method some route takes at the scope's address (a router's 405 names the first route's only)."""
    methods: set[str] = set()
    for route in every_route(app):
        if route.methods and route.matches(scope)[0] != Match.NONE:
            methods |= route.methods
    return methods


def calls(dependant) -> Iterator:
    """What a route depends on: every dependency's callable, theirs in turn (none for no dependant)."""
    for sub in getattr(dependant, "dependencies", ()):
        yield sub.call
        yield from calls(sub)
