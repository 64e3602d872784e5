"""Executing a change set on the local emulator.

moto's ExecuteChangeSet applies resources but never computes the stack's Outputs
(the stack was created with an empty template) and never records the new
parameter values, so the next identical change set would not be recognised as a
no-op. For `--env local` opskit therefore still creates, shows and checks the
change set, then applies the same template and parameters with CreateStack /
UpdateStack, which moto implements fully (outputs, parameters, events).
"""

from __future__ import annotations

from typing import Any

import botocore.exceptions

from opskit.aws import aws_error
from opskit.deploy.changeset import CAPABILITIES, ChangeSet, delete_change_set
from opskit.errors import DeployFailed


def execute_locally(
    cfn: Any,
    change_set: ChangeSet,
    *,
    template_body: str,
    parameters: list[dict[str, str]],
    tags: dict[str, str],
) -> None:
    delete_change_set(cfn, change_set)
    kwargs: dict[str, Any] = {
        "StackName": change_set.stack_name,
        "TemplateBody": template_body,
        "Parameters": parameters,
        "Capabilities": CAPABILITIES,
        "Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())],
    }
    try:
        if change_set.change_set_type == "CREATE":
            # The CREATE change set left an empty REVIEW_IN_PROGRESS stack behind.
            cfn.delete_stack(StackName=change_set.stack_name)
            cfn.create_stack(**kwargs)
        else:
            cfn.update_stack(**kwargs)
    except botocore.exceptions.ClientError as exc:
        raise aws_error(
            f"the local emulator refused the {change_set.change_set_type.lower()}", exc
        ) from None
    except botocore.exceptions.BotoCoreError as exc:  # moto answers HTTP 500 on some templates
        raise DeployFailed(
            f"the local emulator failed to apply stack {change_set.stack_name}",
            " ".join(str(exc).split())[:200],
            "see .opskit/emulator.log; the local template transform may need another exclusion",
        ) from None
