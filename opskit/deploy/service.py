"""`opskit deploy` as a service: pre-flight, change set, artifact, execute, events, outputs.

Takes clients, a clock and a sleep function; talks to the user only through `DeployUI`.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import botocore.exceptions

from opskit import stack as stk
from opskit.aws import aws_error, call
from opskit.config import Environment
from opskit.deploy import artifacts, changeset
from opskit.deploy import template as tpl
from opskit.errors import Aborted, DeployFailed


class DeployUI(Protocol):
    def note(self, message: str) -> None: ...
    def confirm(self, question: str) -> bool: ...
    def waiting(self, status: str, elapsed: float) -> None: ...
    def plan(self, change_set: changeset.ChangeSet) -> None: ...
    def event(self, event: dict[str, Any], elapsed: float) -> None: ...


@dataclass
class DeployRequest:
    env: Environment
    template_file: Path
    overrides: dict[str, str] = field(default_factory=dict)
    plan_only: bool = False
    assume_yes: bool = False
    package: Callable[[], artifacts.PackageLike] | None = None
    gateway_url: str | None = None  # local only: what ApiUrl becomes
    timeout: float = 2 * 3600


@dataclass
class DeployResult:
    outcome: str  # created | updated | no-changes | planned
    stack_name: str
    change_set: changeset.ChangeSet
    status: str | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    artifact: artifacts.Artifact | None = None
    local_notes: list[str] = field(default_factory=list)


class Timer:
    def __init__(self, clock: Callable[[], datetime]):
        self.clock, self.start = clock, clock()

    def __call__(self) -> float:
        return (self.clock() - self.start).total_seconds()


def account_id(sts: Any) -> str:
    try:
        return str(sts.get_caller_identity()["Account"])
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise aws_error("cannot verify AWS credentials", exc) from None


# --- pre-flight ---------------------------------------------------------------------------


def preflight(
    cfn: Any,
    env: Environment,
    ui: DeployUI,
    *,
    sleep: Callable[[float], None],
    timer: Timer,
    assume_yes: bool,
    timeout: float,
) -> str:
    """Bring the stack to a state a change set can start from; return the ChangeSetType."""
    name = env.stack_name
    interval = 0.2 if env.local else 5.0

    def settle() -> str | None:
        return stk.wait_until_settled(
            cfn,
            name,
            sleep=sleep,
            elapsed=timer,
            on_tick=ui.waiting,
            timeout=timeout,
            interval=interval,
        )

    for _ in range(10):
        status = stk.stack_status(cfn, name)
        if status is None:
            return "CREATE"
        if status == "REVIEW_IN_PROGRESS":
            ui.note(f"Stack {name} is REVIEW_IN_PROGRESS (never executed): treating it as new.")
            if env.local:  # moto would create a second stack with the same name
                cfn.delete_stack(StackName=name)
            return "CREATE"
        if stk.is_in_progress(status):
            if env.local:
                raise DeployFailed(
                    f"stack {name} is stuck in {status}",
                    "the local emulator applies stacks synchronously and never rolls back",
                    "run `opskit --env local destroy --yes` and deploy again",
                )
            ui.note(f"Stack {name} is {status}: waiting for it to finish.")
            final = settle()
            if stk.is_in_progress(final):
                raise DeployFailed(
                    f"stack {name} is still {final}",
                    f"gave up after {timer():.0f} s",
                    "check the CloudFormation console, then deploy again",
                )
            continue
        if status in stk.FAILED_CREATE_STATES:
            question = (
                f"Stack {name} is {status} (its first create failed) and cannot be updated. "
                "Delete it and create it again? (tables with DeletionPolicy Retain are kept)"
            )
            if not (assume_yes or ui.confirm(question)):
                raise Aborted(
                    f"stack {name} is {status}",
                    "not deleted",
                    "rerun with --yes, or fix it in the console",
                )
            ui.note(f"Deleting {name} ...")
            call(f"cannot delete {name}", cfn.delete_stack, StackName=name)
            final = settle()
            if final is not None:
                raise DeployFailed(
                    f"stack {name} could not be deleted", f"it is {final}", "see `opskit status`"
                )
            return "CREATE"
        if status == "UPDATE_ROLLBACK_FAILED":
            question = (
                f"Stack {name} is UPDATE_ROLLBACK_FAILED. Continue the rollback "
                "(ContinueUpdateRollback) and then deploy?"
            )
            if not (assume_yes or ui.confirm(question)):
                raise Aborted(
                    f"stack {name} is UPDATE_ROLLBACK_FAILED",
                    "rollback not continued",
                    "rerun with --yes, or fix the resource named in `opskit status` first",
                )
            ui.note(f"Continuing the rollback of {name} ...")
            call(
                f"cannot continue the rollback of {name}",
                cfn.continue_update_rollback,
                StackName=name,
            )
            final = settle()
            if final != "UPDATE_ROLLBACK_COMPLETE":
                raise DeployFailed(
                    f"continuing the rollback of {name} did not finish",
                    f"stack is {final}",
                    "skip the failing resources with `aws cloudformation continue-update-rollback --resources-to-skip`",
                )
            continue
        if status == "DELETE_FAILED":
            raise DeployFailed(
                f"stack {name} is DELETE_FAILED",
                "a resource could not be deleted",
                "see `opskit status`, fix that resource, then `opskit destroy` and deploy again",
            )
        return "UPDATE"
    raise DeployFailed(
        f"stack {name} does not settle", "its state keeps changing", "check the console"
    )


# --- the deploy ---------------------------------------------------------------------------


def change_set_name(now: datetime) -> str:
    return "opskit-" + now.strftime("%Y%m%d-%H%M%S-%f")


def deploy(
    request: DeployRequest,
    clients: Any,
    ui: DeployUI,
    *,
    clock: Callable[[], datetime],
    sleep: Callable[[float], None],
) -> DeployResult:
    env = request.env
    cfn, s3 = clients.client("cloudformation"), clients.client("s3")
    timer = Timer(clock)
    account = account_id(clients.client("sts"))
    template_text = request.template_file.read_text()
    template = tpl.parse_template(template_text)
    change_set_type = preflight(
        cfn,
        env,
        ui,
        sleep=sleep,
        timer=timer,
        assume_yes=request.assume_yes,
        timeout=request.timeout,
    )
    if request.package is None:
        raise DeployFailed("no package function", "internal", "report this")
    package = request.package()
    bucket = artifacts.artifact_bucket_name(account, env.region, env.settings)
    key = artifacts.artifact_key(package.sha256)
    computed = {
        "ArtifactBucket": bucket,
        "ArtifactKey": key,
        "Environment": env.name,
        "Project": env.project,
    }
    parameters, ignored = tpl.build_parameters(
        template, env.parameters, request.overrides, computed
    )
    if ignored:
        ui.note(f"Ignoring parameters the template does not declare: {', '.join(ignored)}")

    local_notes: list[str] = []
    body = template_text
    if env.local:
        from opskit.local.transform import to_local

        deployed = stk.stack_template(cfn, env.stack_name) if change_set_type == "UPDATE" else None
        local = to_local(template, request.gateway_url, deployed)
        local_notes = local.notes()
        body = tpl.to_json(local.template)
    template_url = None
    if len(body.encode()) > tpl.TEMPLATE_BODY_LIMIT:
        artifacts.ensure_bucket(s3, bucket, env.region)
        template_key = f"templates/{hashlib.sha256(body.encode()).hexdigest()}.template"
        if not artifacts.object_exists(s3, bucket, template_key):
            s3.put_object(
                Bucket=bucket, Key=template_key, Body=body.encode(), ServerSideEncryption="AES256"
            )
        template_url = f"https://{bucket}.s3.{env.region}.amazonaws.com/{template_key}"

    cs = changeset.create_change_set(
        cfn,
        stack_name=env.stack_name,
        name=change_set_name(clock()),
        change_set_type=change_set_type,
        parameters=parameters,
        tags=env.tags,
        template_body=None if template_url else body,
        template_url=template_url,
    )
    cs = changeset.wait_for_change_set(cfn, cs, sleep=sleep, interval=0.1 if env.local else 1.0)
    result = DeployResult("no-changes", env.stack_name, cs, local_notes=local_notes)
    if cs.empty:
        changeset.delete_change_set(cfn, cs)
        result.status = stk.stack_status(cfn, env.stack_name)
        return result
    ui.plan(cs)
    if request.plan_only:
        _discard(cfn, cs)
        result.outcome = "planned"
        return result
    question = f"Execute this change set on {env.stack_name} ({env.name}, account {account})?"
    if not (request.assume_yes or ui.confirm(question)):
        _discard(cfn, cs)
        raise Aborted(
            "deploy cancelled",
            "the change set was not executed",
            "rerun with --yes to deploy without asking",
        )

    artifacts.ensure_bucket(s3, bucket, env.region)
    result.artifact = artifacts.upload_artifact(s3, bucket, package)
    ui.note(
        f"Uploaded s3://{bucket}/{key}"
        if result.artifact.uploaded
        else f"Artifact already in s3://{bucket}/{key}: upload skipped"
    )
    stream = stk.EventStream(cfn, env.stack_name)
    if env.local:
        from opskit.local.cfn import execute_locally

        execute_locally(cfn, cs, template_body=body, parameters=parameters, tags=env.tags)
    else:
        changeset.execute_change_set(cfn, cs)
    status, events = _follow(
        cfn, env, stream, ui, sleep=sleep, timer=timer, timeout=request.timeout
    )
    result.status = status
    if status is None or status in stk.OPERATION_FAILED_STATES or stk.is_in_progress(status):
        raise deploy_failure(cfn, env, status, events)
    result.outcome = "created" if change_set_type == "CREATE" else "updated"
    stack = stk.describe_stack(cfn, env.stack_name) or {}
    result.outputs = stk.outputs_of(stack)
    return result


def _discard(cfn: Any, cs: changeset.ChangeSet) -> None:
    """Drop a change set we will not execute (and the empty stack a CREATE one made)."""
    changeset.delete_change_set(cfn, cs)
    if (
        cs.change_set_type == "CREATE"
        and stk.stack_status(cfn, cs.stack_name) == "REVIEW_IN_PROGRESS"
    ):
        with contextlib.suppress(botocore.exceptions.ClientError):
            cfn.delete_stack(StackName=cs.stack_name)


def _follow(
    cfn: Any,
    env: Environment,
    stream: stk.EventStream,
    ui: DeployUI,
    *,
    sleep: Callable[[float], None],
    timer: Timer,
    timeout: float,
) -> tuple[str | None, list[dict[str, Any]]]:
    """Stream the stack's events until it settles; return (status, events oldest first)."""
    interval = 0.1 if env.local else 2.0
    seen: list[dict[str, Any]] = []
    start = timer()
    while True:
        for event in stream.poll():
            seen.append(event)
            ui.event(event, timer())
        status = stk.stack_status(cfn, env.stack_name)
        if not stk.is_in_progress(status):
            for event in stream.poll():
                seen.append(event)
                ui.event(event, timer())
            return status, seen
        if env.local or timer() - start > timeout:
            return status, seen  # moto is synchronous: still in progress means stuck
        sleep(interval)


def deploy_failure(
    cfn: Any,
    env: Environment,
    status: str | None,
    events: list[dict[str, Any]],
    action: str = "deploy",
) -> DeployFailed:
    """The first failed resource (nested stacks included) and the resulting stack state."""
    failure = stk.first_failure(cfn, list(reversed(events)), env.stack_name)
    if failure is not None:
        where = " > ".join(failure["Path"])
        why = (
            f"{where} ({failure.get('ResourceType', '?')}) {failure.get('ResourceStatus', '')}: "
            f"{failure.get('ResourceStatusReason', 'no reason given')}; stack is now {status}"
        )
    elif env.local and stk.is_in_progress(status):
        why = f"stack is {status}: the local emulator stopped without an event and never rolls back"
    else:
        why = f"stack is now {status or 'gone'}"
    fix = "fix the resource named above and deploy again"
    if status in stk.FAILED_CREATE_STATES:
        fix = "fix it and deploy again (opskit offers to delete and recreate the stack)"
    elif env.local:
        fix = "run `opskit --env local destroy --yes`, fix it and deploy again"
    if action == "destroy":
        fix = "fix or empty the resource named above, then `opskit destroy` again"
    return DeployFailed(f"{action} of {env.stack_name} failed", why, fix)
