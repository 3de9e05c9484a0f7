"""Base classes for what crosses the wire."""

import functools
from copy import copy
from typing import Annotated, Any, ClassVar, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    StringConstraints,
    TypeAdapter,
    create_model,
    field_validator,
    model_validator,
)
from sqlmodel import SQLModel
from typing_extensions import TypedDict

from app.core.inputs import WebUrl, check_text

# Phone numbers as people write them: digits, spaces, +, brackets and dashes.
Phone = Annotated[str, StringConstraints(max_length=32, pattern=r"^\+?[0-9 ()-]{6,31}$")]
__all__ = ["PatchModel", "Phone", "RequestModel", "WebUrl", "as_json", "patch_model_of"]


def as_json(model: type[BaseModel], **fields: Any) -> dict[str, Any]:
    """``model(**fields).model_dump(mode="json")`` without validating ``fields``, for the
    values our own code works out many times per request (each search result's capacity,
    freshness and next session): ``fields`` serialised as a dict of the model's own field
    types, with no model built (about a fifth of the time). Given fewer than all of its
    fields, the model fills in their defaults."""
    if len(fields) != len(model.model_fields):
        return model.__pydantic_serializer__.to_python(model.model_construct(**fields), mode="json")
    return _dict_serializer(model).dump_python(fields, mode="json")


@functools.cache
def _dict_serializer(model: type[BaseModel]) -> TypeAdapter:
    shape = TypedDict(  # type: ignore[misc]
        model.__name__, {name: field.annotation for name, field in model.model_fields.items()}
    )
    return TypeAdapter(shape)


class RequestModel(SQLModel):
    """A request body: unknown fields are refused, so a typo never passes silently, and no
    text anywhere in it holds control characters (app/core/inputs.py)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _clean_text(cls, value):
        return check_text(value)


class PatchModel(RequestModel):
    """A partial update: omitted fields stay as they are; ``null`` only where a field allows it."""

    not_nullable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _refuse_null_for_required(self):
        nulled = sorted(
            name
            for name in self.model_fields_set & self.not_nullable
            if getattr(self, name) is None
        )
        if nulled:
            raise ValueError(f"{', '.join(nulled)} cannot be null; omit a field to keep it")
        return self

    def changes(self) -> dict:
        return self.model_dump(exclude_unset=True)


def patch_model_of(
    base: type[SQLModel],
    name: str,
    *,
    exclude: frozenset[str] = frozenset(),
    examples: list[dict[str, Any]] | None = None,
):
    """Build ``name``: every field of ``base`` optional, with the same constraints.

    Cross-field rules (age ranges, coordinate pairs) are checked by the service on the
    merged result, so a patch is held to exactly the rules a create is.
    """
    fields: dict[str, Any] = {}
    not_nullable: set[str] = set()
    for field_name, info in base.model_fields.items():
        if field_name in exclude:
            continue
        optional = copy(info)
        optional.default = None
        optional.default_factory = None
        fields[field_name] = (info.annotation | None, optional)
        if not _allows_none(info.annotation):
            not_nullable.add(field_name)
    fields_model = create_model(f"{name}Fields", __base__=PatchModel, **fields)
    config = ConfigDict(json_schema_extra={"examples": examples} if examples else None)
    model = type(name, (fields_model,), {"model_config": config, "__qualname__": name})
    model.not_nullable = frozenset(not_nullable)
    return model


def _allows_none(annotation: Any) -> bool:
    return annotation is None or type(None) in get_args(annotation)
