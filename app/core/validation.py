"""Checks a service runs on a whole object, reported exactly like request validation."""

from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError


def validate_merged(
    model: type[BaseModel], current: BaseModel, changes: dict[str, Any]
) -> BaseModel:
    """Validate ``current`` with ``changes`` applied, as ``model``; 422 on the request body."""
    merged = {**field_values(current, model), **changes}
    try:
        return model.model_validate(merged)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        ) from None


def field_values(obj: object, model: type[BaseModel]) -> dict[str, Any]:
    """``obj``'s values for ``model``'s fields, read as attributes (no serialisation)."""
    return {name: getattr(obj, name) for name in model.model_fields if hasattr(obj, name)}
