"""One set of CLI conventions: global options anywhere, literal output, documented exit codes.

Oracles: the exit-code table in docs/exit-codes.md (parsed, not copied), Click's own parser for
what "usage error" means, and Hypothesis for option values and opskit.toml documents.
"""

from __future__ import annotations

import io
import json
import re
import string
import time
import tomllib
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

from opskit import config, errors
from opskit.app import App
from opskit.cli import cli
from opskit.errors import EXIT_AWS, EXIT_CONFIG, EXIT_INTERRUPTED, EXIT_USAGE
from opskit.terminal import Terminal

ROOT = Path(__file__).resolve().parents[2]


def documented_exit_codes() -> set[int]:
    table = (ROOT / "docs" / "exit-codes.md").read_text()
    return {int(code) for code in re.findall(r"^\| (\d+) \|", table, flags=re.M)}


def test_exit_code_table_matches_the_constants():
    constants = {v for k, v in vars(errors).items() if k.startswith("EXIT_")}
    assert documented_exit_codes() == constants


# -- Terminal: markup off for data -----------------------------------------------------------


def terminal_on(buffer: io.StringIO, **kwargs) -> Terminal:
    console = Console(file=buffer, width=60, color_system=None)
    return Terminal(console=console, err_console=console, **kwargs)


@pytest.mark.parametrize(
    "text", ["/tmp/run[abc]/events.jsonl", "closing [/] tag", "[bold]not bold[/bold]", ":smile:"]
)
def test_terminal_prints_user_data_literally(text):
    buffer = io.StringIO()
    terminal = terminal_on(buffer)
    terminal.info(text)
    terminal.out(text)
    terminal.err(text)
    terminal.print(text)
    terminal.warn(text)
    lines = buffer.getvalue().splitlines()
    assert lines[:4] == [text] * 4
    assert lines[4] == f"warning: {text}"


def test_quiet_hides_notes_but_not_problems_and_status_is_null():
    buffer = io.StringIO()
    terminal = terminal_on(buffer, verbosity=-1)
    terminal.info("progress")
    terminal.err("a problem")
    with terminal.status("waiting") as status:
        status.update("still waiting")  # a NullStatus: callers never check for None
    assert buffer.getvalue() == "a problem\n"


def test_progress_says_when_a_wait_starts_and_how_long_it_took():
    buffer = io.StringIO()
    terminal = terminal_on(buffer)
    with terminal.progress("Quick") as status:
        status.update("still quick")
    assert buffer.getvalue() == ""  # a short wait (or a quick failure) adds no line
    with terminal.progress("Building the Lambda package", after=0.05):
        time.sleep(0.3)
    first, last = buffer.getvalue().splitlines()
    assert first == "Building the Lambda package ..."
    assert re.fullmatch(r"Building the Lambda package: done in \d+\.\d s", last)


def test_piped_tables_are_not_truncated():
    buffer = io.StringIO()
    terminal = terminal_on(buffer)  # not a terminal, 60 columns
    value = "x" * 150
    terminal.render_rows([{"@timestamp": "2026-12-01 10:00:00.000", "latency_ms": value}])
    out = buffer.getvalue()
    assert "@timestamp" in out and "latency_ms" in out and value in out
    assert "…" not in out


@pytest.mark.parametrize("output", ["json", "yaml", "csv"])
def test_rows_in_each_machine_format_are_one_document(output):
    buffer = io.StringIO()
    terminal = terminal_on(buffer, output=output)
    rows = [{"name": "a[1]", "n": 1}, {"name": "b", "n": 2.5}]
    terminal.render_rows(rows)
    text = buffer.getvalue()
    if output == "json":
        assert json.loads(text) == rows
    elif output == "yaml":
        assert yaml.safe_load(text) == rows
    else:
        assert text.splitlines() == ["name,n", "a[1],1", "b,2.5"]
    assert terminal.documents == 1


# -- global options anywhere ---------------------------------------------------------------


@pytest.fixture
def project(tmp_path, monkeypatch):
    config = tmp_path / "opskit.toml"
    config.write_text((ROOT / "opskit.toml").read_text())
    monkeypatch.setenv("OPSKIT_CONFIG", str(config))
    monkeypatch.delenv("OPSKIT_ENV", raising=False)
    monkeypatch.delenv("OPSKIT_OUTPUT", raising=False)
    monkeypatch.chdir(tmp_path)
    return config


def invoke(*args: str, env: dict[str, str] | None = None, obj=None):
    return CliRunner().invoke(cli, list(args), env=env, obj=obj)


@pytest.mark.parametrize(
    "args",
    [
        ["--output", "json", "insights", "list"],
        ["insights", "--output", "json", "list"],
        ["insights", "list", "--output", "json"],
        ["insights", "list", "-o", "json"],
        ["--format", "json", "insights", "list"],
        ["insights", "list", "--format", "json"],
    ],
)
def test_output_is_accepted_before_or_after_the_subcommand(project, args):
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert {row["name"] for row in json.loads(result.stdout)} >= {"slow-requests", "errors"}


def test_environment_variables_are_defaults_and_flags_beat_them(project):
    from_env = invoke("insights", "list", env={"OPSKIT_OUTPUT": "json"})
    assert json.loads(from_env.stdout)
    flag_wins = invoke("insights", "list", "--output", "csv", env={"OPSKIT_OUTPUT": "json"})
    assert flag_wins.stdout.startswith("name,description,")


def test_env_after_the_subcommand_picks_the_environment(project):
    for args in (["status", "--env", "qa"], ["--env", "dev", "status", "--env", "qa"]):
        result = invoke(*args)
        assert result.exit_code == EXIT_CONFIG
        assert result.stderr.startswith("Error: unknown environment 'qa'")
    # OPSKIT_ENV is only the default: the flag wins.
    local = invoke("--env", "local", "status", env={"OPSKIT_ENV": "qa"})
    assert "unknown environment" not in local.stderr


def test_yes_means_the_same_before_or_after(project, monkeypatch):
    seen: list[tuple[bool, bool]] = []

    @click.command("probe")
    @click.option("--yes", "-y", is_flag=True, help="The command's own flag (like deploy's).")
    @click.pass_obj
    def probe(app: App, yes: bool) -> None:
        seen.append((yes, app.assume_yes))

    monkeypatch.setitem(cli.commands, "probe", probe)
    for args, expected in (
        (["probe"], (False, False)),
        (["probe", "--yes"], (True, True)),
        (["--yes", "probe"], (True, True)),
        (["-y", "probe"], (True, True)),
    ):
        seen.clear()
        assert invoke(*args).exit_code == 0
        assert seen == [expected], args


def test_every_environment_variable_is_documented_in_help_and_docs():
    from opskit import envvars

    text = (ROOT / "docs" / "commands.md").read_text()
    help_text = invoke("--help").output
    for name in envvars.DOCUMENTED:
        assert f"`{name}" in text, name
        assert name in help_text, name
    # No module reads an OPSKIT_ variable behind the constants module's back.
    for path in (ROOT / "opskit").rglob("*.py"):
        if path.name != "envvars.py" and "demo" not in path.parts:
            assert not re.search(r"environ(\.get)?\(?\[?\s*[\"']OPSKIT_", path.read_text()), path


def test_help_lists_global_options_with_their_environment_variables():
    result = invoke("--help")
    for text in ("--env", "--profile", "--region", "--output", "--yes", "--quiet", "--verbose"):
        assert text in result.output
    for variable in ("OPSKIT_ENV", "OPSKIT_OUTPUT", "OPSKIT_DEBUG", "OPSKIT_ENDPOINT_URL"):
        assert variable in result.output
    assert "Global options work here too" in invoke("status", "--help").output


# -- exit codes for bad input ----------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["status", "--output", "bogus"],
        ["--region", "not a region", "status"],
        ["status", "--events", "many"],
        ["insights", "slow-requests", "--threshold-ms", "abc"],
        ["insights", "slow-requests", "--limit", "0"],
        ["insights", "top-paths", "--limit", "-3"],
        ["nosuchcommand"],
    ],
)
def test_bad_option_values_are_usage_errors_on_one_line(project, args):
    result = invoke(*args)
    assert result.exit_code == EXIT_USAGE, result.output
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("Error: ")


def test_bad_environment_is_one_line_not_a_crash(project):
    endpoint = invoke("status", env={"AWS_ENDPOINT_URL": "not-a-url"})
    assert endpoint.exit_code == EXIT_CONFIG
    assert "'not-a-url' is not a URL" in endpoint.stderr
    assert "AWS_ENDPOINT_URL" in endpoint.stderr

    profile = invoke("status", env={"AWS_PROFILE": "nonexistent"})
    assert profile.exit_code == EXIT_AWS
    assert "AWS profile 'nonexistent'" in profile.stderr
    assert "None" not in profile.stderr

    project.write_text("env = 3\n")
    config = invoke("status")
    assert config.exit_code == EXIT_CONFIG
    assert "`env` must be a table" in config.stderr
    for result in (endpoint, profile, config):
        assert len(result.stderr.splitlines()) == 1, result.stderr


def test_hints_name_the_environment_in_use(project, moto):
    result = invoke("--env", "local", "status", env={"OPSKIT_ENDPOINT_URL": moto})
    assert result.exit_code == errors.EXIT_NOT_FOUND
    assert "`opskit --env local deploy`" in result.stderr
    local_down = invoke("insights", "run", "errors", "--env", "local")  # no emulator running
    assert local_down.exit_code == errors.EXIT_LOCAL
    assert "`opskit --env local local up`" in local_down.stderr


def test_ctrl_c_exits_130_with_one_line(project, monkeypatch):
    @click.command("probe")
    def probe() -> None:
        raise KeyboardInterrupt

    monkeypatch.setitem(cli.commands, "probe", probe)
    result = invoke("probe")
    assert result.exit_code == EXIT_INTERRUPTED
    assert result.stderr.strip() == "Interrupted."  # after the newline that ends the ^C line


# -- fuzzing: every outcome is a documented code and one line -------------------------------

VALUES = st.one_of(
    st.text(alphabet=string.printable, max_size=12),
    st.sampled_from(["", "local", "dev", "us-east-1", "json", "yaml", "-1", "0", "[/]", "--yes"]),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    option=st.sampled_from(["--env", "--region", "--profile", "--output", "--format"]),
    value=VALUES,
    after=st.booleans(),
)
def test_fuzzed_global_option_values(project, moto_server, option, value, after):
    args = ["status", option, value] if after else [option, value, "status"]
    result = invoke(
        *args, env={"AWS_ENDPOINT_URL": moto_server, "OPSKIT_ENDPOINT_URL": moto_server}
    )
    assert_documented(result)


TOML_VALUES = st.one_of(
    st.integers(-5, 5),
    st.booleans(),
    st.text(alphabet=string.ascii_letters + string.digits + "-_ /[]", max_size=10),
    st.lists(st.integers(0, 3), max_size=2),
    st.dictionaries(st.sampled_from(["a", "MemorySize"]), st.integers(0, 3), max_size=2),
)
KEYS = st.sampled_from([*config.FIELDS, *config.SETTINGS, "x"])  # every key opskit reads


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    defaults=st.dictionaries(KEYS, TOML_VALUES, max_size=3),
    dev=st.one_of(st.dictionaries(KEYS, TOML_VALUES, max_size=3), TOML_VALUES),
    shape=st.sampled_from(["tables", "env-scalar", "defaults-scalar"]),
)
def test_fuzzed_opskit_toml(project, moto_server, defaults, dev, shape):
    document: dict = {"defaults": defaults, "env": {"dev": dev}}
    if shape == "env-scalar":
        document["env"] = dev
    elif shape == "defaults-scalar":
        document["defaults"] = dev
    text = "\n".join(f"{toml_value(k)} = {toml_value(v)}" for k, v in document.items()) + "\n"
    assert tomllib.loads(text) == document  # the generator itself is right
    project.write_text(text)
    result = invoke("status", env={"AWS_ENDPOINT_URL": moto_server})
    assert_documented(result)


def toml_value(value) -> str:
    """TOML for the generated values (a JSON string is a valid TOML basic string)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def assert_documented(result) -> None:
    assert result.exit_code in documented_exit_codes() - {errors.EXIT_FAILURE}, (
        result.exit_code,
        result.output,
        result.exception,
    )
    if result.exit_code != 0:
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr


# -- every option of every command: hostile values -------------------------------------------
#
# The oracle walks the CLI itself (the root group, every group, the insights shortcuts that
# InsightsGroup makes from the query library), so a new option is fuzzed without being listed.
# Commands run with `--env local` against the moto server, on paths that change nothing
# (`--plan`); the App's sleep and packager raise KeyboardInterrupt, so a watch, a tail or a
# package build that a value let through ends at once with 130 (documented) instead of running.

SKIP_COMMANDS = {"local up": "starts processes (the emulator, the gateway)"}
# Arguments that make a command otherwise valid and harmless; the fuzzed value comes after.
BASE_ARGS = {
    "alarms apply": ["--plan"],
    "alarms history": [],
    "alarms test": ["lambda-errors"],
    "budget setup": ["--plan", "--amount", "50", "--email", "ops@example.com"],
    "completion": ["bash"],
    "deploy": ["--plan", "--no-lint", "--no-smoke-test"],
    "insights run": ["errors"],
    "insights show": ["errors"],
}
FROM_LOGS = {"--since", "--file", "--basis", "--by", "--top", "--duration-scale"}
HOSTILE = [
    "",
    "   ",
    "-5",
    "0",
    "nan",
    "inf",
    "1e400",
    "99999999999999999999",
    "abc",
    "\u00fcn\u00efc\u00f8d\u00e9 \u2603",
    "x" * 5000,
]
NOT_A_NUMBER = {"", "   ", "nan", "inf", "1e400", "abc", HOSTILE[-2], HOSTILE[-1]}


def walk(command: click.Command, path: tuple[str, ...], ctx: click.Context):
    """(path, command) for every command under `command`, as the CLI resolves them."""
    yield path, command
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None, (path, name)
            yield from walk(sub, (*path, name), click.Context(sub, parent=ctx, info_name=name))


def value_parameters(command: click.Command):
    """The options that take a value, and the arguments (each command's own, not the hidden
    per-command copies of the global options: the root group's are fuzzed once)."""
    for param in command.params:
        if isinstance(param, click.Option) and (param.is_flag or param.count or param.hidden):
            continue
        yield param


def fuzz_targets():
    from opskit.commands.insights_cmd import insights

    seen_run_options = False
    for path, command in walk(cli, (), click.Context(cli, info_name="opskit")):
        name = " ".join(path)
        if name in SKIP_COMMANDS:
            continue
        shortcut = len(path) == 2 and path[0] == "insights" and path[1] not in insights.commands
        for param in value_parameters(command):
            option = param.opts[0] if isinstance(param, click.Option) else None
            run_option = shortcut and param.name not in _library_params(path[1])
            if run_option and seen_run_options and option != "--limit":
                continue  # the run options: the same declarations on every shortcut
            yield path, option, param
        if shortcut:
            seen_run_options = True


def _library_params(name: str) -> set[str]:
    from opskit.insights.library import load_library

    return {p.name for p in load_library()[name].params}


def fuzz_cases():
    cases = []
    for path, option, param in fuzz_targets():
        name = " ".join(path)
        label = f"{name or 'opskit'} {option or param.name.upper()}"
        cases.append(pytest.param(path, option, param, id=label))
    return cases


def hostile_args(path, option, param, value: str) -> list[str]:
    name = " ".join(path)
    base = list(BASE_ARGS.get(name, []))
    if name == "cost estimate" and option in FROM_LOGS:
        base.append("--from-logs")
    if not path:  # a root option: before a command that needs no AWS
        return ["--env", "local", option, value, "insights", "list"]
    if option is None:  # an argument: in place of the base's
        return ["--env", "local", *path, value, *base[1:]]
    return ["--env", "local", *path, *base, option, value]


def is_number_type(kind: click.ParamType) -> bool:
    return isinstance(kind, click.types._NumberParamTypeBase)


def interrupt(*_args, **_kwargs):
    raise KeyboardInterrupt


@pytest.mark.parametrize(("path", "option", "param"), fuzz_cases())
def test_every_option_refuses_hostile_values_with_a_documented_exit(
    local_env, monkeypatch, path, option, param
):
    import opskit.packaging

    monkeypatch.setattr(opskit.packaging, "build_package", interrupt)
    problems = []
    for value in HOSTILE:
        args = hostile_args(path, option, param, value)
        result = invoke(*args, obj=App(sleep=interrupt, packager=interrupt))
        code, stderr = result.exit_code, result.stderr
        errors_ = [line for line in stderr.splitlines() if line.startswith("Error: ")]
        if code not in documented_exit_codes() - {errors.EXIT_FAILURE}:
            problems.append((value[:20], code, stderr[-300:] or result.exception))
        elif "Traceback" in result.output:
            problems.append((value[:20], code, "a traceback"))
        elif code == EXIT_INTERRUPTED:
            continue  # the value was accepted and the command ran until the sleep/packager
        elif code != 0 and len(errors_) != 1:
            problems.append((value[:20], code, f"not one Error line: {stderr!r}"))
        elif not value.strip() and code != EXIT_USAGE:
            problems.append((value[:20], code, "an empty value is not a usage error"))
        elif is_number_type(param.type) and value in NOT_A_NUMBER and code != EXIT_USAGE:
            problems.append((value[:20], code, "a number option took a non-number"))
    assert not problems, problems


TARGETS = [(path, option, param) for path, option, param in fuzz_targets()]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(target=st.sampled_from(TARGETS), value=VALUES)
def test_fuzzed_command_option_values(local_env, monkeypatch, target, value):
    import opskit.packaging

    monkeypatch.setattr(opskit.packaging, "build_package", interrupt)
    result = invoke(*hostile_args(*target, value), obj=App(sleep=interrupt, packager=interrupt))
    assert result.exit_code in documented_exit_codes() - {errors.EXIT_FAILURE}, (
        target[:2],
        value,
        result.output,
        result.exception,
    )
    assert "Traceback" not in result.output
    if result.exit_code not in (0, EXIT_INTERRUPTED):
        problems = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
        assert len(problems) == 1, result.stderr


def test_every_value_option_has_a_validating_type():
    """Numbers bounded on both sides (the range is printed in --help), no bare text or path
    that takes an empty value, no float that takes nan."""
    from opskit.commands.params import FilePath, Number

    loose = []
    for path, option, param in fuzz_targets():
        kind = param.type
        if isinstance(param, click.Argument):  # arguments: the fuzz above feeds them
            continue
        if isinstance(kind, click.types._NumberRangeBase):
            bounded = kind.min is not None and kind.max is not None
            finite = isinstance(kind, Number | click.IntRange)
            if not (bounded and finite):
                loose.append((path, option, repr(kind)))
        elif kind in (click.STRING, click.FLOAT, click.INT, click.UNPROCESSED):
            loose.append((path, option, kind.name))
        elif isinstance(kind, click.Path) and not isinstance(kind, FilePath):
            loose.append((path, option, "click.Path takes ''"))
    assert not loose, loose


def test_number_ranges_are_in_the_help():
    result = invoke("cost", "estimate", "--help")
    assert "0<=x<=900000" in result.output  # --duration-ms: Lambda's 15 minutes
    assert "128<=x<=10240" in result.output  # --memory
    assert "1<=x<=86400" in invoke("top", "--help").output  # --interval


def test_the_level_choice_is_the_gateways_levels():
    from gateway import log
    from opskit.commands.logs_cmd import LEVELS

    assert set(LEVELS) == set(log._LEVELS)


def test_a_backslash_in_the_environment_name_stays_literal_in_hints():
    error = errors.NotFoundError("stack x not found", "", "deploy it with `opskit deploy`")
    error.name_environment(r"a\1b")
    assert error.fix == r"deploy it with `opskit --env a\1b deploy`"


def test_hints_in_the_reason_and_in_warnings_name_the_environment_too(project, moto):
    error = errors.NotFoundError("no alarms", "run `opskit alarms apply` first", "")
    error.name_environment("local")
    assert error.why == "run `opskit --env local alarms apply` first"
    # A warning a service returns (dashboards render: alarms not applied yet) is reworded too.
    rendered = invoke("--env", "local", "dashboards", "render", env={"OPSKIT_ENDPOINT_URL": moto})
    hints = [line for line in rendered.stderr.splitlines() if "`opskit " in line]
    assert hints and all("`opskit --env local " in line for line in hints), rendered.stderr
    caption = invoke("--env", "local", "alarms", "list", env={"OPSKIT_ENDPOINT_URL": moto})
    assert "No alarms: run `opskit --env local alarms apply`." in caption.stdout, caption.output


def test_the_local_account_ignores_aws_profile_as_it_ignores_profile(project, moto):
    """The emulator takes fixed credentials: a profile from the flag or from $AWS_PROFILE is
    not read (found: $AWS_PROFILE=nonexistent failed with exit 4, --profile was ignored)."""
    local = {"OPSKIT_ENDPOINT_URL": moto}
    by_flag = invoke("--env", "local", "--profile", "nonexistent", "status", env=local)
    by_env = invoke("--env", "local", "status", env={**local, "AWS_PROFILE": "nonexistent"})
    assert by_flag.exit_code == by_env.exit_code == errors.EXIT_NOT_FOUND, by_env.stderr


def test_a_bad_global_value_names_its_environment_variable_only_when_it_came_from_there(project):
    typed = invoke("--region", "mars-1", "status")
    assert typed.exit_code == EXIT_USAGE and "OPSKIT_REGION" not in typed.stderr
    from_env = invoke("status", env={"OPSKIT_REGION": "mars-1"})
    assert from_env.exit_code == EXIT_USAGE
    assert "Invalid value for '--region' (from $OPSKIT_REGION)" in from_env.stderr
