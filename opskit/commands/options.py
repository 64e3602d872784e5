"""The global options and the option types commands share.

Global options (`--env`, `--profile`, `--region`, `--config`, `--output`, `--yes`, `--quiet`,
`--verbose`) work before or after any subcommand and mean the same everywhere: the root group
declares them with their environment variables, and `add_global_options()` gives every
subcommand a copy without defaults, so a flag given anywhere beats the environment. Every
copy records into one `Settings` object that `App` reads when it first needs a value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import click

from opskit import envvars
from opskit.commands.params import FilePath
from opskit.terminal import NORMAL, OUTPUT_FORMATS, QUIET, VERBOSE

if TYPE_CHECKING:
    from click.shell_completion import CompletionItem

SETTINGS_KEY = "opskit.settings"
GLOBAL_SECTION = "Global options (before or after the command)"


@dataclass
class Settings:
    """What the global options said, and which ones were given on the command line."""

    env_name: str = "dev"
    profile: str | None = None
    region: str | None = None
    config: str | None = None
    output: str = "table"
    yes: bool = False
    verbosity: int = NORMAL
    explicit: set[str] = field(default_factory=set)

    def set(self, name: str, value: Any, *, explicit: bool) -> None:
        setattr(self, name, value)
        if explicit:
            self.explicit.add(name)


def settings_of(ctx: click.Context) -> Settings:
    root = ctx.find_root()
    settings = root.meta.get(SETTINGS_KEY)
    if settings is None:
        settings = root.meta[SETTINGS_KEY] = Settings()
    return settings


class RegionType(click.ParamType):
    name = "REGION"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from opskit.config import REGION

        text = str(value)
        if not REGION.fullmatch(text):
            self.fail(f"{text!r} is not an AWS region (e.g. us-east-1, eu-west-1)", param, ctx)
        return text


class NameType(click.ParamType):
    """A non-empty word: environment and profile names."""

    name = "NAME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value)
        if not text or text != text.strip() or any(c.isspace() for c in text):
            self.fail(f"{text!r} is not a name (no spaces, not empty)", param, ctx)
        return text


class EnvNameType(NameType):
    """An environment name; completes from the environments opskit.toml defines."""

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[CompletionItem]:
        from click.shell_completion import CompletionItem

        from opskit.config import find_config, load_document
        from opskit.errors import OpsError

        try:
            names = sorted(load_document(find_config()).get("env", {}))
        except OpsError:  # no usable opskit.toml: nothing to offer
            names = []
        return [CompletionItem(name) for name in names if name.startswith(incomplete)]


class DurationType(click.ParamType):
    """`90s`, `15m`, `1h`, `2d`, `1w` (or combined, `1h30m`) -> timedelta (opskit.durations)."""

    name = "DURATION"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> timedelta:
        from opskit.durations import DurationError, parse_duration

        if isinstance(value, timedelta):
            return value
        try:
            return parse_duration(value)
        except DurationError as exc:
            self.fail(str(exc), param, ctx)


REGION_TYPE = RegionType()
NAME_TYPE = NameType()
ENV_NAME_TYPE = EnvNameType()
DURATION = DurationType()


def _verbosity(level: int) -> Callable[[click.Context, click.Parameter, bool], None]:
    def record(ctx: click.Context, param: click.Parameter, value: bool) -> None:
        if value:
            settings_of(ctx).set("verbosity", level, explicit=True)

    return record


def _recorder(name: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def record(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        source = ctx.get_parameter_source(param.name) if param.name else None
        given = source not in (None, click.core.ParameterSource.DEFAULT)
        if value is not None and (given or not ctx.parent):
            explicit = source == click.core.ParameterSource.COMMANDLINE
            settings_of(ctx).set(name, value, explicit=explicit)
        return value

    return record


class _GlobalClickOption(click.Option):
    """A global option's Click side: an error names the environment variable only when the
    bad value came from it (Click names it always, even for a flag typed on the line)."""

    def get_error_hint(self, ctx: click.Context | None) -> str:
        names = " / ".join(f"'{opt}'" for opt in self.opts)
        source = ctx.get_parameter_source(self.name) if ctx and self.name else None
        if self.envvar and source == click.core.ParameterSource.ENVIRONMENT:
            return f"{names} (from ${self.envvar})"
        return names


@dataclass(frozen=True)
class GlobalOption:
    setting: str
    decls: tuple[str, ...]
    help: str
    envvar: str | None = None
    type: Any = None
    is_flag: bool = False
    default: Any = None
    metavar: str | None = None

    def root_option(self) -> click.Option:
        return self._option(root=True)

    def command_option(self, taken: set[str]) -> click.Option | None:
        """A copy for a subcommand: only the option names it does not already use itself."""
        decls = tuple(d for d in self.decls if d not in taken)
        if not decls or self.decls[0] in taken:
            return None
        return self._option(root=False, decls=decls)

    def _option(self, *, root: bool, decls: tuple[str, ...] | None = None) -> click.Option:
        callback = (
            _verbosity(QUIET if self.setting == "quiet" else VERBOSE)
            if self.setting in ("quiet", "verbose")
            else _recorder(self.setting)
        )
        kwargs: dict[str, Any] = {
            "help": self.help,
            "callback": callback,
            "expose_value": False,
            "is_eager": True,
            "metavar": self.metavar,
        }
        if self.is_flag:
            kwargs.update(is_flag=True, default=False)
        else:
            kwargs.update(type=self.type, default=self.default if root else None)
        if root and self.envvar:
            kwargs.update(envvar=self.envvar, show_envvar=True)
        if not root:
            kwargs["hidden"] = True  # listed once, in `opskit --help`; the epilog points there
        if root and self.default is not None and not self.is_flag:
            kwargs["show_default"] = True
        name = "global_" + self.setting
        option = _GlobalClickOption([name, *(decls or self.decls)], **kwargs)
        option.global_option = True  # type: ignore[attr-defined]
        return option


GLOBAL_OPTIONS: tuple[GlobalOption, ...] = (
    GlobalOption(
        "env_name",
        ("--env", "-e"),
        "Environment from opskit.toml (dev, staging, prod, local, ...).",
        envvar=envvars.ENV,
        type=ENV_NAME_TYPE,
        default="dev",
    ),
    GlobalOption(
        "profile",
        ("--profile",),
        "AWS profile (over opskit.toml's; default: $AWS_PROFILE / the SDK chain).",
        envvar=envvars.PROFILE,
        type=NAME_TYPE,
    ),
    GlobalOption(
        "region",
        ("--region",),
        "AWS region (over opskit.toml's; default: $AWS_REGION, then us-east-1).",
        envvar=envvars.REGION,
        type=REGION_TYPE,
    ),
    GlobalOption(
        "config",
        ("--config",),
        "Path of opskit.toml (default: searched from here upwards).",
        envvar=envvars.CONFIG,
        type=FilePath(dir_okay=False),
        metavar="PATH",
    ),
    GlobalOption(
        "output",
        ("--output", "--format", "-o"),
        "How results are printed: table, json, csv or yaml (--format is an alias).",
        envvar=envvars.OUTPUT,
        type=click.Choice(OUTPUT_FORMATS, case_sensitive=False),
        default="table",
    ),
    GlobalOption(
        "yes",
        ("--yes", "-y"),
        "Do not ask for confirmation (needed without a terminal).",
        is_flag=True,
    ),
    GlobalOption("quiet", ("--quiet", "-q"), "Print results and errors only.", is_flag=True),
    GlobalOption(
        "verbose", ("--verbose", "-v"), "Print more detail about what happens.", is_flag=True
    ),
)


GLOBAL_EPILOG = (
    "Global options work here too: --env, --profile, --region, --config, --output (--format), "
    "--yes, --quiet, --verbose (see `opskit --help`)."
)


def root_options() -> list[click.Option]:
    """The root group's copies: with defaults and environment variables."""
    return [spec.root_option() for spec in GLOBAL_OPTIONS]


def add_global_options(command: click.Command, path: str) -> click.Command:
    """Give `command` (at `path`, e.g. "insights run") and its subcommands the global options,
    its Examples section and docs link; idempotent.

    A command that declares one of the names itself keeps its own option, and that option's
    value is recorded into the same Settings, so `deploy --yes` and `opskit --yes deploy` agree.
    """
    if getattr(command, "_opskit_globals", False):
        return command
    command._opskit_globals = True  # type: ignore[attr-defined]
    taken = {opt for param in command.params for opt in getattr(param, "opts", ())}
    for param in command.params:
        _bridge(param)
    for spec in GLOBAL_OPTIONS:
        option = spec.command_option(taken)
        if option is not None:
            command.params.append(option)
    from opskit.commands.examples import epilog_for

    parts = [command.epilog, epilog_for(path, command), GLOBAL_EPILOG]
    command.epilog = "\n\n".join(p for p in parts if p)
    _complete_global_options(command)
    if isinstance(command, click.Group):
        _inject_on_lookup(command, path)
    return command


def _complete_global_options(command: click.Command) -> None:
    """Shell completion offers the global options after a command too: their copies are
    hidden from its help, and Click leaves hidden options out of completion."""
    complete = command.shell_complete

    def shell_complete(ctx: click.Context, incomplete: str) -> list[CompletionItem]:
        from click.shell_completion import CompletionItem

        items = complete(ctx, incomplete)
        if not incomplete.startswith("-"):
            return items
        offered = {item.value for item in items}
        for param in command.params:
            if not getattr(param, "global_option", False) or not isinstance(param, click.Option):
                continue
            for opt in param.opts:
                if opt.startswith(incomplete) and opt not in offered:
                    items.append(CompletionItem(opt, help=param.help))
        return items

    command.shell_complete = shell_complete  # type: ignore[method-assign]


def _inject_on_lookup(group: click.Group, path: str) -> None:
    """Subcommands, including ones a group makes on demand (`insights slow-requests`)."""
    lookup = group.get_command

    def get_command(ctx: click.Context, name: str) -> click.Command | None:
        found = lookup(ctx, name)
        return add_global_options(found, f"{path} {name}") if found is not None else None

    group.get_command = get_command  # type: ignore[method-assign,assignment]


def _bridge(param: click.Parameter) -> None:
    """A command's own `--yes`/`--format`/`--env`: record its value as the global one too."""
    opts = {o for o in getattr(param, "opts", ()) if o.startswith("--")}
    for spec in GLOBAL_OPTIONS:
        if spec.setting in ("quiet", "verbose") or not opts & set(spec.decls):
            continue
        record = _recorder(spec.setting)
        original = param.callback

        def chained(
            ctx: click.Context,
            p: click.Parameter,
            value: Any,
            record: Callable[..., Any] = record,
            original: Callable[..., Any] | None = original,
            setting: str = spec.setting,
            convert: Any = spec.type,
        ) -> Any:
            if setting == "yes" and not value and settings_of(ctx).yes:
                value = True  # `opskit --yes deploy`
            if convert is not None and value is not None:
                value = convert.convert(value, p, ctx)  # the global option's validation
            record(ctx, p, value)
            return original(ctx, p, value) if original else value

        param.callback = chained
        return
