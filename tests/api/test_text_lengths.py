"""Every length limit on text people send says itself in characters, in the JSON API's 422s as on the
console's forms: "String should have at most 100 characters". Pydantic counts a length in "items"
when it comes after a validator (domain/text.py), so each model of the API and the domain is held to
the order here, found from its JSON schema (whose lengths are the ones the API documents)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

import api.app  # noqa: F401  (imports every route, and so every model the API takes)


def models_of_our_own(cls: type[BaseModel] = BaseModel) -> Iterator[type[BaseModel]]:
    for sub in cls.__subclasses__():
        if sub.__module__.startswith(("api.", "domain.")):
            yield sub
        yield from models_of_our_own(sub)


def text_limits(model: type[BaseModel]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each property of free text, with its schema (which may be one choice of an anyOf).
    Formatted strings (URLs, e-mail addresses) are pydantic's own types, which say their lengths."""
    for name, schema in model.model_json_schema()["properties"].items():
        for choice in schema.get("anyOf", [schema]):
            if choice.get("type") == "string" and "format" not in choice:
                yield name, choice


def limits(bound: str) -> list[tuple[str, type[BaseModel], str, int]]:
    """(test id, model, property, limit) of every text with this bound ("maxLength", "minLength")."""
    return sorted(
        {
            (f"{model.__module__}.{model.__qualname__}.{name}", model, name, schema[bound])
            for model in models_of_our_own()
            for name, schema in text_limits(model)
            if schema.get(bound)
        },
        key=lambda case: case[0],
    )


LONGEST, SHORTEST = limits("maxLength"), limits("minLength")


def refusal_of(model: type[BaseModel], name: str, value: str) -> dict[str, Any]:
    """The error for this one field when the model is given only it (other fields' errors ignored)."""
    with pytest.raises(ValidationError) as refused:
        model.model_validate({name: value})
    [error] = [e for e in refused.value.errors() if e["loc"] == (name,)]
    return error


def test_there_are_limits_to_check() -> None:
    assert len(LONGEST) > 40 and len(SHORTEST) > 20  # the finder found the API's text fields


@pytest.mark.parametrize(("field", "model", "name", "max_length"), LONGEST, ids=[c[0] for c in LONGEST])
def test_a_text_too_long_is_refused_in_characters(
    field: str, model: type[BaseModel], name: str, max_length: int
) -> None:
    error = refusal_of(model, name, "字" * (max_length + 1))
    assert error["type"] == "string_too_long", error  # not the generic too_long, which counts "items"
    assert f"at most {max_length} characters" in error["msg"]


@pytest.mark.parametrize(("field", "model", "name", "min_length"), SHORTEST, ids=[c[0] for c in SHORTEST])
def test_a_text_too_short_is_refused_in_characters(
    field: str, model: type[BaseModel], name: str, min_length: int
) -> None:
    error = refusal_of(model, name, "字" * (min_length - 1))
    assert error["type"] == "string_too_short", error
    assert f"at least {min_length} character" in error["msg"]  # "1 character", "5 characters"
