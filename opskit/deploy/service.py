"""`opskit deploy` as a service: pre-flight, change set, artifact, execute, events, outputs.

Takes clients, a clock and a sleep function; talks to the user only through `DeployUI`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import botocore.exceptions
import click

from opskit import stack as stk
from opskit.aws import aws_error, call
from opskit.config import Environment
from opskit.deploy import adopt as adoption
from opskit.deploy import artifacts, changeset, diff, lint
from opskit.deploy import template as tpl
from opskit.errors import Aborted, ConfigError, DeployFailed, Interrupted

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudformation.type_defs import StackEventTypeDef
    from mypy_boto3_sts import STSClient

    from opskit.aws import ClientFactory


class DeployUI(Protocol):
    def note(self, message: str) -> None: ...
    def confirm(self, question: str) -> bool: ...
    def waiting(self, status: str, elapsed: float) -> None: ...
    def plan(
        self,
        change_set: changeset.ChangeSet,
        parameters: list[diff.ParameterChange],
        properties: list[diff.PropertyChange],
    ) -> None: ...
    def event(self, event: Mapping[str, Any], elapsed: float) -> None: ...


@dataclass
class DeployRequest:
    env: Environment
    template_file: Path
    overrides: dict[str, str] = field(default_factory=dict)
    plan_only: bool = False
    assume_yes: bool = False
    package: Callable[[str], artifacts.PackageLike] | None = None  # architecture -> zip
    gateway_url: str | None = None  # local only: what ApiUrl becomes
    timeout: float = 2 * 3600
    lint: bool = True
    role_arn: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    notification_arns: tuple[str, ...] = ()
    rollback_triggers: tuple[str, ...] = ()  # alarm ARNs
    monitoring_minutes: int = 0
    termination_protection: bool | None = None  # None: leave as it is


@dataclass
class DeployResult:
    outcome: str  # created | updated | imported and updated | no-changes | planned
    stack_name: str
    change_set: changeset.ChangeSet
    status: str | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    artifact: artifacts.Artifact | None = None
    local_notes: list[str] = field(default_factory=list)
    parameter_changes: list[diff.ParameterChange] = field(default_factory=list)
    property_changes: list[diff.PropertyChange] = field(default_factory=list)
    imported: list[str] = field(default_factory=list)


class Timer:
    def __init__(self, clock: Callable[[], datetime]):
        self.clock, self.start = clock, clock()

    def __call__(self) -> float:
        return (self.clock() - self.start).total_seconds()


def account_id(sts: STSClient) -> str:
    try:
        return str(sts.get_caller_identity()["Account"])
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise aws_error("cannot verify AWS credentials", exc) from None


# --- pre-flight ---------------------------------------------------------------------------


def preflight(
    cfn: CloudFormationClient,
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
                call(f"cannot delete the unexecuted stack {name}", cfn.delete_stack, StackName=name)
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
                "Delete it and create it again? (tables retained from an earlier stack are kept "
                "and re-adopted)"
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


def change_set_name(now: datetime, kind: str = "") -> str:
    return "opskit-" + (f"{kind}-" if kind else "") + now.strftime("%Y%m%d-%H%M%S-%f")


@dataclass
class Progress:
    """What this deploy has done so far, so an interrupt can undo or explain it."""

    pending: list[changeset.ChangeSet] = field(default_factory=list)  # created, not executed
    executed: changeset.ChangeSet | None = None


def deploy(
    request: DeployRequest,
    clients: ClientFactory,
    ui: DeployUI,
    *,
    clock: Callable[[], datetime],
    sleep: Callable[[float], None],
) -> DeployResult:
    """Run the deploy; on Ctrl-C clean up what was created and say where the stack is."""
    progress = Progress()
    try:
        return _deploy(request, clients, ui, progress, clock=clock, sleep=sleep)
    except (KeyboardInterrupt, click.exceptions.Abort):
        raise interrupted(clients.cloudformation(), request.env, progress) from None


def interrupted(cfn: CloudFormationClient, env: Environment, progress: Progress) -> Interrupted:
    """Delete the change sets never executed (and the empty stack a CREATE made); else explain."""
    name = env.stack_name
    if progress.executed is None:
        if not progress.pending:
            return Interrupted(
                "deploy interrupted", "nothing was created in CloudFormation", "deploy again"
            )
        try:
            removed = [cs.name for cs in progress.pending]
            for cs in progress.pending:
                _discard(cfn, cs)
        except KeyboardInterrupt:
            return Interrupted(
                "deploy interrupted twice",
                f"change set(s) {', '.join(removed)} may still exist on {name}",
                f"aws cloudformation delete-change-set --stack-name {name} --change-set-name "
                f"{removed[-1]}",
            )
        status = stk.stack_status(cfn, name)
        where = (
            f"stack {name} is {status} (unchanged)" if status else f"stack {name} was not created"
        )
        return Interrupted(
            "deploy interrupted before anything was executed",
            f"deleted change set {', '.join(removed)}; {where}",
            "deploy again when ready",
        )
    status = stk.stack_status(cfn, name) or "gone"
    cs = progress.executed
    if stk.is_in_progress(status):
        verb = "cancel-update-stack" if status.startswith("UPDATE") else "delete-stack"
        return Interrupted(
            "deploy interrupted while CloudFormation applies it",
            f"change set {cs.name} keeps running on AWS: stack {name} is {status}",
            f"follow it with `opskit status`; to stop it run `aws cloudformation {verb} "
            f"--stack-name {name}` (it rolls back)",
        )
    return Interrupted(
        "deploy interrupted after CloudFormation finished",
        f"stack {name} is {status}; the smoke test did not run",
        "run `opskit status`, then `opskit deploy` again to check it",
    )


def _deploy(
    request: DeployRequest,
    clients: ClientFactory,
    ui: DeployUI,
    progress: Progress,
    *,
    clock: Callable[[], datetime],
    sleep: Callable[[float], None],
) -> DeployResult:
    env = request.env
    cfn = clients.cloudformation()
    timer = Timer(clock)
    template_text = request.template_file.read_text()
    template = tpl.parse_template(template_text)
    # What the user gives (and the names it derives), against the template's declarations,
    # before lint, AWS calls or the package build: a bad -p costs nothing.
    declared = template.get("Parameters") or {}
    given = {"Environment": env.name, "Project": env.project, **env.parameters, **request.overrides}
    tpl.check_parameter_values(
        template, {k: str(v) for k, v in given.items() if k in declared}, set(request.overrides)
    )
    if request.lint:
        check_template(template_text, env, ui)
    change_set_type = preflight(
        cfn,
        env,
        ui,
        sleep=sleep,
        timer=timer,
        assume_yes=request.assume_yes,
        timeout=request.timeout,
    )
    stack = stk.describe_stack(cfn, env.stack_name) if change_set_type == "UPDATE" else None
    previous = stack_parameters(stack) if stack else None
    # The stack's ARN names its account; only a new stack needs STS (fewer calls on a no-op).
    account = stack["StackId"].split(":")[4] if stack else account_id(clients.sts())
    if request.package is None:
        raise DeployFailed("no package function", "internal", "report this")
    package = request.package(architecture_of(template, env, request.overrides, previous))
    bucket = artifacts.resolve_bucket(clients.s3, account, env, previous)
    key = artifacts.artifact_key(package.sha256)
    computed = {
        "ArtifactBucket": bucket.name,
        "ArtifactKey": key,
        "Environment": env.name,
        "Project": env.project,
    }
    parameters, ignored = tpl.build_parameters(
        template, env.parameters, request.overrides, computed, previous
    )
    if ignored:
        ui.note(f"Ignoring parameters the template does not declare: {', '.join(ignored)}")
    values = tpl.effective_values(parameters, previous)
    check_parameter_policy(env, values)

    local_notes: list[str] = []
    deployed_template = template
    if env.local:
        from opskit.local.cfn import resolve_previous
        from opskit.local.transform import to_local

        parameters = resolve_previous(parameters, previous, template)
        deployed = stk.stack_template(cfn, env.stack_name) if change_set_type == "UPDATE" else None
        local = to_local(template, request.gateway_url, deployed)
        local_notes = local.notes()
        deployed_template = local.template
    body = tpl.to_json(deployed_template) if env.local else template_text
    options = changeset.ChangeSetOptions(
        capabilities=changeset.capabilities(deployed_template),
        tags={**env.tags, **request.tags},
        role_arn=request.role_arn,
        notification_arns=list(request.notification_arns),
        rollback_triggers=list(request.rollback_triggers),
        monitoring_minutes=request.monitoring_minutes,
    )
    uploads = Uploads(clients, bucket, env)
    result = DeployResult("no-changes", env.stack_name, changeset.ChangeSet("", "", ""))
    result.local_notes = local_notes

    if change_set_type == "CREATE":
        adopt = adoption.existing(clients, adoption.candidates(deployed_template, env.stack_name))
        if adopt:
            imported = _import(
                request, clients, ui, progress, adopt, deployed_template, parameters, options,
                uploads, clock=clock, sleep=sleep, timer=timer,
            )  # fmt: skip
            result.imported = [a.describe() for a in adopt]
            if imported is None:  # --plan: the import was shown, nothing executed
                result.outcome = "planned"
                return result
            change_set_type, previous = "UPDATE", values

    template_url = uploads.template_url(body)
    cs = _create(
        cfn, progress, env, clock, change_set_type, parameters, options, body, template_url
    )
    cs = changeset.wait_for_change_set(cfn, cs, sleep=sleep, interval=0.1 if env.local else 1.0)
    result.change_set = cs
    if cs.empty:
        changeset.delete_change_set(cfn, cs)
        progress.pending.remove(cs)
        _termination_protection(cfn, env, request.termination_protection, ui, stack)
        result.status = stack["StackStatus"] if stack else stk.stack_status(cfn, env.stack_name)
        return result
    secret_keys = {c.key for c in diff.parameter_changes(template, {}, values) if c.secret}
    if previous is not None:  # a create lists no "before": its plan is the resource table
        result.parameter_changes = diff.parameter_changes(template, previous, values)
    result.property_changes = diff.property_changes(cs.changes, secret_keys)
    ui.plan(cs, result.parameter_changes, result.property_changes)
    for row in cs.rows():
        if row["type"] == "AWS::DynamoDB::Table" and row["replacement"] in {"True", "Conditional"}:
            ui.note(
                f"WARNING: {row['logical_id']} would be replaced: CloudFormation creates a new, "
                "empty table (the old one is retained, not deleted, and no longer used)"
            )
    if request.plan_only:
        _discard(cfn, cs)
        progress.pending.remove(cs)
        result.outcome = "planned"
        return result
    question = f"Execute this change set on {env.stack_name} ({env.name}, account {account})?"
    if not (request.assume_yes or ui.confirm(question)):
        _discard(cfn, cs)
        progress.pending.remove(cs)
        raise Aborted(
            "deploy cancelled",
            "the change set was not executed",
            "rerun with --yes to deploy without asking",
        )

    result.artifact = uploads.package(package)
    ui.note(
        f"Uploaded s3://{bucket.name}/{key}"
        if result.artifact.uploaded
        else f"Artifact already in s3://{bucket.name}/{key}: upload skipped"
    )
    status, events = _execute(
        cfn, env, cs, progress, ui, body, parameters, options, clients,
        sleep=sleep, timer=timer, timeout=request.timeout,
    )  # fmt: skip
    result.status = status
    if status is None or status in stk.OPERATION_FAILED_STATES or stk.is_in_progress(status):
        raise deploy_failure(cfn, env, status, events)
    _termination_protection(cfn, env, request.termination_protection, ui)
    result.outcome = "created" if change_set_type == "CREATE" else "updated"
    if result.imported:
        result.outcome = "imported and updated"
    described = stk.describe_stack(cfn, env.stack_name)
    result.outputs = stk.outputs_of(described) if described else {}
    return result


def architecture_of(
    template: dict[str, Any],
    env: Environment,
    overrides: dict[str, str],
    previous: dict[str, str] | None,
) -> str:
    """The Architecture the function will have, so the zip is built for it (kept values too)."""
    declared = (template.get("Parameters") or {}).get("Architecture") or {}
    merged = {**(previous or {}), **env.parameters, **overrides}
    return str(merged.get("Architecture") or declared.get("Default") or "arm64")


def check_template(text: str, env: Environment, ui: DeployUI) -> None:
    """cfn-lint before any change set: errors stop the deploy (exit 10), warnings are shown."""
    found = lint.lint_template(text, env.region, env.state_dir)
    for finding in found.findings:
        ui.note(f"cfn-lint {finding.severity}: {finding.render()}")
    if found.errors:
        raise lint.lint_failure(found)


def stack_parameters(stack: Mapping[str, Any]) -> dict[str, str]:
    """The deployed parameter values (NoEcho ones read back as ****)."""
    return {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters") or []}


def check_parameter_policy(env: Environment, values: dict[str, str]) -> None:
    """Rules the template cannot express per environment: no CORS wildcard in prod."""
    origins = [o.strip() for o in values.get("CorsOrigins", "").split(",")]
    if env.name == "prod" and "*" in origins:
        raise ConfigError(
            "CorsOrigins is '*' for prod",
            "any web site could then read the API's responses from its visitors' browsers",
            "set CorsOrigins in [env.prod.parameters] to your front-end origins "
            "(e.g. https://app.example.com), or empty for no browser access",
        )


def _create(
    cfn: CloudFormationClient,
    progress: Progress,
    env: Environment,
    clock: Callable[[], datetime],
    change_set_type: str,
    parameters: list[dict[str, Any]],
    options: changeset.ChangeSetOptions,
    body: str,
    template_url: str | None,
    kind: str = "",
) -> changeset.ChangeSet:
    planned = changeset.ChangeSet(change_set_name(clock(), kind), env.stack_name, change_set_type)
    progress.pending.append(planned)  # before the call: an interrupt during it still cleans up
    return changeset.create_change_set(
        cfn,
        stack_name=env.stack_name,
        name=planned.name,
        change_set_type=change_set_type,
        parameters=parameters,
        options=options,
        template_body=None if template_url else body,
        template_url=template_url,
        into=planned,
    )


def _execute(
    cfn: CloudFormationClient,
    env: Environment,
    cs: changeset.ChangeSet,
    progress: Progress,
    ui: DeployUI,
    body: str,
    parameters: list[dict[str, Any]],
    options: changeset.ChangeSetOptions,
    clients: ClientFactory,
    *,
    sleep: Callable[[float], None],
    timer: Timer,
    timeout: float,
) -> tuple[str | None, list[StackEventTypeDef]]:
    stream = stk.EventStream(cfn, env.stack_name)
    progress.pending.remove(cs)
    progress.executed = cs
    if env.local:
        from opskit.local.cfn import execute_locally

        for note in execute_locally(
            cfn, cs, template_body=body, parameters=parameters, options=options, clients=clients,
            backup_dir=env.state_dir / "import-backup",
        ):  # fmt: skip
            ui.note(f"local emulator: {note}")
    else:
        changeset.execute_change_set(cfn, cs)
    return _follow(cfn, env, stream, ui, sleep=sleep, timer=timer, timeout=timeout)


def _import(
    request: DeployRequest,
    clients: ClientFactory,
    ui: DeployUI,
    progress: Progress,
    adopt: list[adoption.Adoptable],
    template: dict[str, Any],
    parameters: list[dict[str, Any]],
    options: changeset.ChangeSetOptions,
    uploads: Uploads,
    *,
    clock: Callable[[], datetime],
    sleep: Callable[[float], None],
    timer: Timer,
) -> str | None:
    """Create the stack by importing the retained resources; None when only planned."""
    env, cfn = request.env, clients.cloudformation()
    ui.note(
        f"Stack {env.stack_name} does not exist but {len(adopt)} of its retained resources do: "
        f"re-adopting them with an IMPORT change set (their data is kept): "
        + ", ".join(a.describe() for a in adopt)
    )
    body = tpl.to_json(adoption.import_template(template, adopt))
    import_options = changeset.ChangeSetOptions(
        capabilities=options.capabilities,
        tags=options.tags,
        role_arn=options.role_arn,
        notification_arns=options.notification_arns,
        resources_to_import=[a.to_import() for a in adopt],
    )
    cs = _create(
        cfn, progress, env, clock, "IMPORT", parameters, import_options, body,
        uploads.template_url(body), kind="import",
    )  # fmt: skip
    cs = changeset.wait_for_change_set(cfn, cs, sleep=sleep, interval=0.1 if env.local else 1.0)
    ui.plan(cs, [], [])
    if request.plan_only:
        _discard(cfn, cs)
        progress.pending.remove(cs)
        ui.note("After the import, deploy creates the rest of the stack with an UPDATE change set.")
        return None
    question = (
        f"Import {len(adopt)} existing resource(s) into new stack {env.stack_name} "
        f"({env.name}), then deploy the rest?"
    )
    if not (request.assume_yes or ui.confirm(question)):
        _discard(cfn, cs)
        progress.pending.remove(cs)
        raise Aborted(
            "deploy cancelled",
            "the import change set was not executed; the retained resources are untouched",
            "rerun with --yes to import and deploy without asking",
        )
    status, events = _execute(
        cfn, env, cs, progress, ui, body, parameters, import_options, clients,
        sleep=sleep, timer=timer, timeout=request.timeout,
    )  # fmt: skip
    done = {"IMPORT_COMPLETE", "CREATE_COMPLETE"} if env.local else {"IMPORT_COMPLETE"}
    if status not in done:  # the emulator's import is a create (opskit/local/cfn.py)
        raise deploy_failure(cfn, env, status, events, action="import")
    progress.executed = None  # the import is done; the update that follows is a new step
    return status


class Uploads:
    """The artifact bucket, created on first use; package and big templates go through it."""

    def __init__(self, clients: ClientFactory, bucket: artifacts.Bucket, env: Environment):
        self.clients, self.bucket, self.region, self.local = clients, bucket, env.region, env.local
        self._ready = False

    @property
    def s3(self) -> Any:
        return self.clients.s3()  # made on first use: a no-op deploy never needs it

    def _ensure(self) -> None:
        if not self._ready:
            artifacts.ensure_bucket(self.s3, self.bucket, self.region, tls_only=not self.local)
            self._ready = True

    def package(self, package: artifacts.PackageLike) -> artifacts.Artifact:
        self._ensure()
        return artifacts.upload_artifact(self.s3, self.bucket, package)

    def template_url(self, body: str) -> str | None:
        """TemplateURL for bodies over the TemplateBody limit (uploaded once by content hash)."""
        if len(body.encode()) <= tpl.TEMPLATE_BODY_LIMIT:
            return None
        self._ensure()
        return artifacts.upload_template(self.s3, self.bucket, self.region, body)


def _termination_protection(
    cfn: CloudFormationClient,
    env: Environment,
    wanted: bool | None,
    ui: DeployUI,
    stack: Mapping[str, Any] | None = None,
) -> None:
    """Turn stack termination protection on or off as configured (None: leave it)."""
    if wanted is None:
        return
    if env.local:
        ui.note("local emulator: termination protection is not emulated (moto lacks the API)")
        return
    stack = stack or stk.describe_stack(cfn, env.stack_name) or {}
    if bool(stack.get("EnableTerminationProtection")) == wanted:
        return
    call(
        f"cannot {'enable' if wanted else 'disable'} termination protection on {env.stack_name}",
        cfn.update_termination_protection,
        StackName=env.stack_name,
        EnableTerminationProtection=wanted,
    )
    ui.note(f"Termination protection {'enabled' if wanted else 'disabled'} on {env.stack_name}.")


def _discard(cfn: CloudFormationClient, cs: changeset.ChangeSet) -> None:
    """Drop a change set we will not execute (and the empty stack a CREATE one made)."""
    changeset.delete_change_set(cfn, cs)
    if cs.change_set_type in {"CREATE", "IMPORT"} and (
        stk.stack_status(cfn, cs.stack_name) == "REVIEW_IN_PROGRESS"
    ):
        with contextlib.suppress(botocore.exceptions.ClientError):
            cfn.delete_stack(StackName=cs.stack_name)


def _follow(
    cfn: CloudFormationClient,
    env: Environment,
    stream: stk.EventStream,
    ui: DeployUI,
    *,
    sleep: Callable[[float], None],
    timer: Timer,
    timeout: float,
) -> tuple[str | None, list[StackEventTypeDef]]:
    """Stream the stack's events until it settles; return (status, events oldest first)."""
    interval = 0.1 if env.local else 2.0
    seen: list[StackEventTypeDef] = []
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
    cfn: CloudFormationClient,
    env: Environment,
    status: str | None,
    events: Sequence[Mapping[str, Any]],
    action: str = "deploy",
) -> DeployFailed:
    """The first failed resource (nested stacks included), what was rolled back, the state."""
    failure = stk.first_failure(cfn, list(reversed(events)), env.stack_name)
    rollback = rolled_back(events, env.stack_name)
    if failure is not None:
        where = " > ".join(failure["Path"])
        why = (
            f"{where} ({failure.get('ResourceType', '?')}) {failure.get('ResourceStatus', '')}: "
            f"{failure.get('ResourceStatusReason', 'no reason given')}; stack is now {status}"
        )
    elif rollback.reason:
        why = f"CloudFormation rolled back: {rollback.reason}; stack is now {status}"
    elif env.local and stk.is_in_progress(status):
        why = f"stack is {status}: the local emulator stopped without an event and never rolls back"
    else:
        why = f"stack is now {status or 'gone'}"
    if rollback.resources:
        why += f"; rolled back: {', '.join(rollback.resources)}"
    fix = "fix the resource named above and deploy again"
    if status in stk.FAILED_CREATE_STATES:
        fix = "fix it and deploy again (opskit offers to delete and recreate the stack)"
    elif env.local:
        fix = "run `opskit --env local destroy --yes`, fix it and deploy again"
    if action == "destroy":
        fix = "fix or empty the resource named above, then `opskit destroy` again"
    return DeployFailed(f"{action} of {env.stack_name} failed", why, fix)


@dataclass(frozen=True)
class Rollback:
    reason: str  # the stack's own ROLLBACK_IN_PROGRESS reason (a rollback trigger names its alarm)
    resources: list[str]  # logical ids CloudFormation put back


def rolled_back(events: Sequence[Mapping[str, Any]], stack_name: str) -> Rollback:
    """From events oldest first: why the stack rolled back and which resources it restored."""
    reason, resources, rolling = "", [], False
    for event in events:
        status = str(event.get("ResourceStatus", ""))
        own = event.get("LogicalResourceId") == stack_name
        if own and status.endswith("ROLLBACK_IN_PROGRESS"):
            rolling, reason = True, str(event.get("ResourceStatusReason") or "")
            continue
        if rolling and not own and status.endswith("_COMPLETE"):
            name = str(event.get("LogicalResourceId", ""))
            if name and name not in resources:
                resources.append(name)
    return Rollback(reason, resources)
