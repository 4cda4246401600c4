"""The API's operations as its routers declare them, for the tests that hold the OpenAPI schema to
what the app does (test_openapi_refusals.py, test_openapi_fuzz.py): read from the routers themselves,
before any app runs, so a route added tomorrow is covered the day it is added."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

import api.routes
from api.deps import get_temporal, oauth2_scheme
from domain.roles import Role


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    secured: bool  # needs a bearer token
    admits: frozenset[Role]  # the roles its require_roles let through (every role when it has none)
    temporal: bool  # asks the workflow service (TemporalDep)


def _dependencies(dependant: Dependant) -> Iterator[Dependant]:
    for sub in dependant.dependencies:
        yield sub
        yield from _dependencies(sub)


def _operation(method: str, route: APIRoute) -> Operation:
    calls: list[Callable] = [sub.call for sub in _dependencies(route.dependant) if sub.call is not None]
    admits = frozenset(Role)
    for call in calls:
        if getattr(call, "__qualname__", "") == "require_roles.<locals>.check":
            admits &= inspect.getclosurevars(call).nonlocals["allowed"]
    return Operation(
        method, route.path, secured=oauth2_scheme in calls, admits=admits, temporal=get_temporal in calls
    )


def api_operations() -> list[Operation]:
    """Every operation of the API's routers, dev mode's included (the console's pages are not in the
    schema)."""
    found = []
    for info in pkgutil.iter_modules(api.routes.__path__):
        router = getattr(importlib.import_module(f"api.routes.{info.name}"), "router", None)
        for route in getattr(router, "routes", []):
            if isinstance(route, APIRoute) and route.include_in_schema:
                found += [_operation(method, route) for method in sorted(route.methods)]
    return found
