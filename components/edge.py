"""CloudFront, WAF and Shield (a later issue builds the component)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from components.common import ConfigModel


class EdgeConfig(ConfigModel):
    enabled: bool = True
    price_class: Literal["PriceClass_100", "PriceClass_200", "PriceClass_All"] = "PriceClass_100"
    waf_rate_limit: int = Field(default=2000, ge=100, le=2_000_000_000)
    shield_advanced: bool = False
