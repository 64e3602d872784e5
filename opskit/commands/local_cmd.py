"""`opskit local up|down|status`: the embedded local account (moto + the gateway under uvicorn)."""

from __future__ import annotations

import click

from opskit.app import App
from opskit.config import Environment


def _local_env(app: App) -> Environment:
    """`local` always manages the environment marked local (whatever --env says)."""
    if app.env.local:
        return app.env
    from opskit.config import load_environment

    return load_environment("local")


@click.group()
def local() -> None:
    """Run a whole account on this machine: emulator, stack, gateway, logs.

    \b
    opskit local up                 start the emulator (and the gateway if deployed)
    opskit deploy --env local --yes deploy the stack there (restarts the gateway)
    opskit local status             what runs, on which ports
    opskit local down               stop exactly what `up` started
    """


@local.command()
@click.pass_obj
def up(app: App) -> None:
    """Start the emulator on a free 127.0.0.1 port (and the gateway if the stack exists)."""
    from opskit import stack as stk
    from opskit.local import procs
    from opskit.local.account import MARKERS, start_emulator, start_gateway

    env = _local_env(app)
    state = app.local_state(env)
    terminal = app.terminal
    lines: list[str] = []
    emulator = "already running" if state is not None else "started"
    if state is None:
        state = start_emulator(env)
        lines.append(f"Emulator running at {state.endpoint_url} (pid {state.pids['emulator']}).")
    else:
        lines.append(
            f"Emulator already running at {state.endpoint_url} (pid {state.pids['emulator']})."
        )
    clients = app.emulator_clients(state.endpoint_url, env.region)
    if procs.alive(state.pids.get("gateway"), MARKERS["gateway"]):
        gateway = "already running"
        lines.append(f"Gateway already running at {state.gateway_url}.")
    elif stk.stack_status(clients.cloudformation(), env.stack_name):
        gateway = "started"
        seconds = start_gateway(env, state, clients.cloudformation(), clients.lambda_())
        lines.append(f"Gateway running at {state.gateway_url} (ready in {seconds:.1f} s).")
    else:
        gateway = "reserved"
        lines.append(
            f"Gateway port reserved: {state.gateway_url} (starts after `opskit --env {env.name} deploy`)."
        )
    lines.append(f"State: {state.path(env)}")
    if terminal.machine_readable:
        terminal.document(
            {
                "endpoint_url": state.endpoint_url,
                "emulator": emulator,
                "emulator_pid": state.pids.get("emulator"),
                "gateway_url": state.gateway_url,
                "gateway": gateway,
                "gateway_pid": state.pids.get("gateway"),
                "state_file": str(state.path(env)),
            }
        )
        return
    for line in lines:
        terminal.out(line)


@local.command()
@click.pass_obj
def down(app: App) -> None:
    """Stop exactly the processes `local up` started and remove the state file."""
    from opskit.local.account import stop_all

    env = _local_env(app)
    terminal = app.terminal
    rows = [
        {"role": r.role, "pid": r.pid, "state": "stopped" if r.running else "was not running"}
        for r in stop_all(env)
    ]
    if terminal.machine_readable:
        terminal.document({"processes": rows}, rows=rows, columns=["role", "pid", "state"])
        return
    if not rows:
        terminal.out("The local account is not running.")
        return
    for row in rows:
        terminal.out(f"{row['role']} (pid {row['pid']}): {row['state']}")
    terminal.out("Local account stopped; state removed.")


@local.command()
@click.pass_obj
def status(app: App) -> None:
    """Show what runs (pids, ports), the local stack, and what the emulator does not provide."""
    from opskit import stack as stk
    from opskit.local.account import METRICS_NOTE, SYNTHESIZED_NOTE, process_rows
    from opskit.local.state import LocalState

    env = _local_env(app)
    state = LocalState.load(env)
    terminal = app.terminal
    columns = ["role", "pid", "running", "address"]
    if state is None:
        if terminal.machine_readable:
            terminal.document({"running": False, "processes": []}, rows=[], columns=columns)
            return
        terminal.out("The local account is not running (start it with `opskit local up`).")
        return
    rows = [
        {"role": r.role, "pid": r.pid, "running": r.running, "address": r.detail}
        for r in process_rows(state)
    ]
    emulator_up = any(r["role"] == "emulator" and r["running"] for r in rows)
    stack_status = None
    if emulator_up:
        cfn = app.emulator_clients(state.endpoint_url, env.region).cloudformation()
        stack_status = stk.stack_status(cfn, env.stack_name)
    notes = [
        SYNTHESIZED_NOTE.format(group=env.function_log_group) + ".",
        f"{METRICS_NOTE}.",
        "the local gateway runs the project's gateway/ sources under uvicorn "
        "(not the uploaded zip), with the deployed function's environment variables.",
    ]
    transform = state.extra.get("transform_notes") or []
    transform_notes = [str(n) for n in transform] if isinstance(transform, list) else []
    if terminal.machine_readable:
        document = {
            "running": emulator_up,
            "processes": rows,
            "stack": env.stack_name,
            "stack_status": stack_status,
            "notes": notes,
            "template_notes": transform_notes,
        }
        terminal.document(document, rows=rows, columns=columns)
        return
    table = [{**row, "running": "yes" if row["running"] else "no"} for row in rows]
    terminal.render_rows(table, columns=columns, title="Local account")
    if emulator_up:
        terminal.out(f"Stack {env.stack_name}: {stack_status or 'not deployed'}")
    for note in notes:
        terminal.out(f"Note: {note}")
    for note in transform_notes:
        terminal.out(f"Local template: {note}")
