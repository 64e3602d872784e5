"""The dated price table: bundled us-east-1 rates, or a table refreshed from the Price List API.

Region awareness, honestly: only us-east-1 is bundled. For another region,
`opskit cost prices --refresh --region R` writes `<state_dir>/pricing/R.json`
from the Price List API and that file is used from then on. Without it the
us-east-1 rates are used and the table says so (`approximate=True`); no
invented regional multipliers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from opskit.errors import ConfigError

BUNDLED_REGION = "us-east-1"


@dataclass(frozen=True)
class Tier:
    upto: float | None  # cumulative monthly quantity in the rate's unit; None = unbounded
    price: float


@dataclass(frozen=True)
class Rate:
    key: str
    service: str
    description: str
    unit: str
    tiers: tuple[Tier, ...]
    source: str
    as_of: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def first_price(self) -> float:
        return self.tiers[0].price

    def cost(self, quantity: float) -> float:
        """Tiered cost of `quantity` units in one month."""
        total, below = 0.0, 0.0
        for tier in self.tiers:
            if quantity <= below:
                break
            top = quantity if tier.upto is None else min(quantity, tier.upto)
            total += (top - below) * tier.price
            if tier.upto is None:
                break
            below = tier.upto
        else:
            if quantity > below:  # beyond the last bounded tier: keep its price
                total += (quantity - below) * self.tiers[-1].price
        return total

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "description": self.description,
            "unit": self.unit,
            "tiers": [{"upto": t.upto, "price": t.price} for t in self.tiers],
            "source": self.source,
            "as_of": self.as_of,
            **self.extra,
        }


@dataclass(frozen=True)
class PriceTable:
    region: str
    as_of: str
    rates: dict[str, Rate]
    free_tier: dict[str, dict[str, dict[str, Any]]]
    origin: str  # file the table came from
    approximate: bool = False  # True when a region's own rates are not available
    requested_region: str = ""  # the region asked for (differs from `region` when approximate)

    def rate(self, key: str) -> Rate:
        try:
            return self.rates[key]
        except KeyError:
            raise ConfigError(
                f"price table {self.origin} has no rate '{key}'",
                "the file is incomplete",
                "run `opskit cost prices --refresh` or restore the bundled table",
            ) from None

    def to_document(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "currency": "USD",
            "as_of": self.as_of,
            "rates": {key: rate.to_dict() for key, rate in self.rates.items()},
            "free_tier": self.free_tier,
        }


def parse_table(document: dict[str, Any], origin: str) -> PriceTable:
    rates: dict[str, Rate] = {}
    try:
        for key, raw in document["rates"].items():
            known = {"service", "description", "unit", "tiers", "source", "as_of"}
            missing = {"tiers", "source", "as_of"} - set(raw)
            if missing:
                raise ConfigError(
                    f"price table {origin}: rate '{key}'",
                    f"missing {', '.join(sorted(missing))}",
                    "every rate needs tiers, source and as_of",
                )
            rates[key] = Rate(
                key=key,
                service=str(raw.get("service", "")),
                description=str(raw.get("description", key)),
                unit=str(raw.get("unit", "")),
                tiers=tuple(
                    Tier(None if t["upto"] is None else float(t["upto"]), float(t["price"]))
                    for t in raw["tiers"]
                ),
                source=str(raw["source"]),
                as_of=str(raw["as_of"]),
                extra={k: v for k, v in raw.items() if k not in known},
            )
        return PriceTable(
            region=str(document.get("region", BUNDLED_REGION)),
            as_of=str(document.get("as_of", "")),
            rates=rates,
            free_tier=document.get("free_tier", {}),
            origin=origin,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(
            f"cannot read price table {origin}",
            f"bad shape: {exc}",
            "restore it or run `opskit cost prices --refresh`",
        ) from None


def bundled_document() -> dict[str, Any]:
    text = resources.files("opskit.pricing").joinpath(f"{BUNDLED_REGION}.json").read_text()
    return json.loads(text)


def refreshed_path(state_dir: Path, region: str) -> Path:
    return state_dir / "pricing" / f"{region}.json"


def load_prices(region: str = BUNDLED_REGION, state_dir: Path | None = None) -> PriceTable:
    """The refreshed table for `region` if one was saved, else the bundled us-east-1 table."""
    if state_dir is not None:
        path = refreshed_path(state_dir, region)
        if path.is_file():
            try:
                document = json.loads(path.read_text())
            except json.JSONDecodeError as exc:
                raise ConfigError(
                    f"cannot read {path}",
                    str(exc),
                    "delete it or rerun `opskit cost prices --refresh`",
                ) from None
            # A refresh may not cover every rate: fall back to bundled entries (keeping their source).
            base = bundled_document()
            merged = {
                **base,
                **document,
                "rates": {**base["rates"], **document.get("rates", {})},
                "free_tier": base["free_tier"],
            }
            table = parse_table(merged, str(path))
            partial = region != BUNDLED_REGION and set(base["rates"]) - set(
                document.get("rates", {})
            )
            return PriceTable(
                region,
                table.as_of,
                table.rates,
                table.free_tier,
                table.origin,
                approximate=bool(partial),
                requested_region=region,
            )
    table = parse_table(bundled_document(), f"opskit/pricing/{BUNDLED_REGION}.json")
    if region != BUNDLED_REGION:
        return PriceTable(
            table.region,
            table.as_of,
            table.rates,
            table.free_tier,
            table.origin,
            approximate=True,
            requested_region=region,
        )
    return table
