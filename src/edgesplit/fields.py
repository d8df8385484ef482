"""Field types of the pydantic models that read configs and files (scenarios, learner configs):
each number finite and in its range, checked when the model is made. (Apart from ``checks``,
which the command imports at start: pydantic takes 60 ms to import.)"""

from typing import Annotated, Any, get_args, get_origin

from pydantic import Field, ValidationError

Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Share = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Finite = Annotated[float, Field(allow_inf_nan=False)]
Count = Annotated[int, Field(ge=1)]
Whole = Annotated[int, Field(ge=0)]

_KINDS = {int: "a whole number", float: "a number", bool: "true or false", str: "a name"}


def allowed_by(error: ValidationError, field_type: Any) -> str:
    """What a field of ``field_type`` (a type, or one of the types above) allows, from
    pydantic's first complaint: "a number greater than 0", "true or false", "a finite number"."""
    if get_origin(field_type) is Annotated:
        field_type = get_args(field_type)[0]
    kind = _KINDS.get(field_type, "a value")
    said = error.errors()[0]["msg"].removeprefix("Input should be ").removeprefix("Value error, ")
    if said.startswith("a valid"):  # the type's own words say no more than its kind
        return kind
    return said if said.startswith("a ") else f"{kind} {said}"  # a bound: "greater than ..."
