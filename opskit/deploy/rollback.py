"""`deploy --rollback-alarms`: CloudFormation rollback triggers from the baseline's alarms.

CloudFormation watches the trigger alarms while it applies the change set and for
the monitoring period after it; if one goes to ALARM, it rolls the stack back by
itself. The triggers are the baseline alarms that a broken deploy sets off first:
function errors and the API's 5xx rate (at most 5 triggers per stack). They exist
once `opskit alarms apply` has run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from opskit.alarms.plan import is_owned
from opskit.alarms.service import existing_alarms
from opskit.errors import ConfigError

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient

# Baseline alarm keys (opskit/alarms/baseline.toml) that mean "this deploy broke it".
CRITICAL_KEYS = ("lambda-errors", "lambda-error-rate", "api-5xx-rate")
MAX_TRIGGERS = 5  # CloudFormation's limit on rollback triggers
MAX_MONITORING_MINUTES = 180


def rollback_alarm_arns(cw: CloudWatchClient, stack: str) -> list[str]:
    wanted = {f"{stack}-{key}" for key in CRITICAL_KEYS}
    alarms = [a for a in existing_alarms(cw, f"{stack}-") if is_owned(a, stack)]
    arns = sorted(a["AlarmArn"] for a in alarms if a["AlarmName"] in wanted)
    if not arns:
        raise ConfigError(
            f"no baseline alarms for {stack} to use as rollback triggers",
            f"--rollback-alarms watches {', '.join(sorted(wanted))}",
            "run `opskit alarms apply` first, or deploy without --rollback-alarms",
        )
    return arns[:MAX_TRIGGERS]
