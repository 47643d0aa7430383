"""The one rule for every config section: unknown keys, inf, nan and wrong types are refused."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

# inf and nan are refused everywhere: `lr: .inf` or `high: .inf` only fail later, per trial.
# strict: a value of the wrong type is refused, never converted (`hidden_size: true` is not 1,
# `epochs: "10"` is not 10); a whole number still stands for a float (`lr: 1`).
STRICT = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)


class Strict(BaseModel):
    """A config section under the STRICT rule."""

    model_config = STRICT
