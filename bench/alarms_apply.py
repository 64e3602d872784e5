"""A no-op `alarms apply` (everything already matches) against one describe_alarms round trip.

Runs a moto server on 127.0.0.1, deploys a stand-in stack (outputs + log group), applies the
baseline once, then times: (baseline) one describe_alarms call; (a) the whole no-op plan (read
the stack, the alarm file, describe alarms, metric filters, SNS); (b) a full first apply.
Prints name=value lines; ratios are against the describe_alarms round trip of the same run.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._alarm_stack import median_seconds, standin_stack
from opskit.alarms.service import apply_plan, desired_alarms, plan_alarms

STACK = "bench-alarms"


def main() -> None:
    with standin_stack(STACK, "bench") as (clients, env, _outputs):
        cw = clients.client("cloudwatch")

        def first_apply() -> int:
            desired = desired_alarms(clients, env)
            plan, topic = plan_alarms(clients, env, desired, email="bench@example.com")
            apply_plan(clients, env, plan, topic)
            return len(plan.pending)

        started = time.perf_counter()
        created = first_apply()
        first_s = time.perf_counter() - started

        def noop() -> None:
            desired = desired_alarms(clients, env)
            plan, _ = plan_alarms(clients, env, desired)
            assert not plan.pending, plan.pending

        describe_s = median_seconds(lambda: cw.describe_alarms(AlarmNamePrefix=f"{STACK}-"))
        noop_s = median_seconds(noop)
        alarms = len(cw.describe_alarms(AlarmNamePrefix=f"{STACK}-")["MetricAlarms"])
        print(f"alarms_apply.alarms={alarms}")
        print(f"alarms_apply.first_apply_changes={created}")
        print(f"alarms_apply.first_apply_ms={first_s * 1000:.1f}")
        print(f"alarms_apply.describe_alarms_ms={describe_s * 1000:.1f}")
        print(f"alarms_apply.noop_apply_ms={noop_s * 1000:.1f}")
        print(f"alarms_apply.noop_vs_describe_ratio={noop_s / describe_s:.1f}")
        print(f"alarms_apply.first_vs_noop_ratio={first_s / noop_s:.1f}")


if __name__ == "__main__":
    main()
