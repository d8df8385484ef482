"""Field types of the pydantic models that read configs and files (scenarios, learner configs):
each number finite and in its range, checked when the model is made. (Apart from ``checks``,
which the command imports at start: pydantic takes 60 ms to import.)"""

from typing import Annotated

from pydantic import Field

Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Share = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Finite = Annotated[float, Field(allow_inf_nan=False)]
Count = Annotated[int, Field(ge=1)]
Whole = Annotated[int, Field(ge=0)]
