"""What if the function had another memory size or architecture?

Duration does not stay equal by default, nor does it scale blindly. The gateway's latency
splits, per access line, into waiting for the upstream (`upstream_latency_ms`: unchanged by
memory) and its own work (the rest: Lambda gives CPU in proportion to memory, one full vCPU at
1,769 MB, so that part scales with min(memory, 1769)). That measured split gives the factor;
`--duration-scale` replaces it with a given one. A change of architecture has no measured
factor: duration is kept unless a scale is given, and the note says so.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from opskit.cost.model import Usage
from opskit.errors import UsageError

FULL_VCPU_MB = 1769  # Lambda docs: "at 1,769 MB, a function has the equivalent of one vCPU"


@dataclass(frozen=True)
class WhatIf:
    memory_mb: float | None = None
    arch: str | None = None
    duration_scale: float | None = None  # given factor on the billed duration

    def __post_init__(self) -> None:
        if self.duration_scale is not None and not 0 < self.duration_scale <= 100:
            raise UsageError(
                f"bad --duration-scale {self.duration_scale:g}",
                "must be a factor above 0 (1 = unchanged)",
                "e.g. --duration-scale 0.6",
            )

    @property
    def active(self) -> bool:
        return (
            self.memory_mb is not None or self.arch is not None or self.duration_scale is not None
        )


def cpu_share(latency_ms: float, upstream_ms: float) -> float | None:
    """Share of the gateway's latency that is its own work (None when nothing was measured)."""
    if latency_ms <= 0:
        return None
    return max(0.0, min(1.0, (latency_ms - upstream_ms) / latency_ms))


def apply_what_if(usage: Usage, what_if: WhatIf, own_share: float | None) -> tuple[Usage, str]:
    """The usage under `what_if`, and the one sentence that states the assumption."""
    memory = what_if.memory_mb if what_if.memory_mb is not None else usage.memory_mb
    arch = what_if.arch or usage.arch
    changes = []
    if memory != usage.memory_mb:
        changes.append(f"memory {usage.memory_mb:g} -> {memory:g} MB")
    if arch != usage.arch:
        changes.append(f"architecture {usage.arch} -> {arch}")
    what = ", ".join(changes) or "same configuration"
    if what_if.duration_scale is not None:
        scale = what_if.duration_scale
        basis = f"duration x {scale:g} (given by --duration-scale)"
    elif memory != usage.memory_mb and own_share is not None:
        ratio = min(usage.memory_mb, FULL_VCPU_MB) / min(memory, FULL_VCPU_MB)
        scale = (1 - own_share) + own_share * ratio
        basis = (
            f"duration x {scale:.3f}, measured: {1 - own_share:.0%} of the latency is upstream "
            f"wait (unchanged), {own_share:.0%} the gateway's own work, scaled by CPU "
            f"(proportional to memory up to {FULL_VCPU_MB:,} MB)"
        )
        if arch != usage.arch:
            basis += f"; no measured factor for {usage.arch} -> {arch}"
    elif memory != usage.memory_mb:
        scale = 1.0
        basis = (
            "duration assumed unchanged: no access lines to measure the CPU share "
            "(pass --duration-scale)"
        )
    else:
        scale = 1.0
        basis = (
            f"duration assumed unchanged: nothing measured for {usage.arch} -> {arch} "
            "(pass --duration-scale, e.g. from a power-tuning run)"
            if arch != usage.arch
            else "duration unchanged"
        )
    changed = replace(
        usage, memory_mb=float(memory), arch=arch, duration_ms=usage.duration_ms * scale
    )
    return changed.validate(), f"what-if: {what}; {basis}; INIT duration kept"
