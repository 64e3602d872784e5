"""Every environment variable opskit reads, in one place (listed by `opskit --help`).

Global options read theirs through Click's `envvar=`, so an explicit flag always wins.
"""

from __future__ import annotations

ENV = "OPSKIT_ENV"
PROFILE = "OPSKIT_PROFILE"
REGION = "OPSKIT_REGION"
OUTPUT = "OPSKIT_OUTPUT"
CONFIG = "OPSKIT_CONFIG"
DEBUG = "OPSKIT_DEBUG"
ENDPOINT_URL = "OPSKIT_ENDPOINT_URL"
QUERIES_DIR = "OPSKIT_QUERIES_DIR"
INSIGHTS_ENGINE = "OPSKIT_INSIGHTS_ENGINE"
LAMBDA_PYTHON = "OPSKIT_LAMBDA_PYTHON"
CACHE_DIR = "OPSKIT_CACHE_DIR"
DEMO_RUN = "OPSKIT_DEMO_RUN"  # internal: marks the demo's processes for its reaper

# name -> what it does (docs/commands.md); `opskit --help` lists the ones that are not a
# global option's (those show beside their option).
DOCUMENTED: dict[str, str] = {
    ENV: "environment from opskit.toml (--env)",
    PROFILE: "AWS profile, over opskit.toml's (--profile)",
    REGION: "AWS region, over opskit.toml's (--region)",
    OUTPUT: "table, json, csv or yaml (--output)",
    CONFIG: "path of opskit.toml (--config; default: searched upwards from here)",
    DEBUG: "1 shows the traceback of an unexpected error",
    ENDPOINT_URL: "--env local: the emulator's URL (default: from .opskit/local.json)",
    QUERIES_DIR: "the Logs Insights query library (default: queries/ in the project)",
    INSIGHTS_ENGINE: "local engine: auto, duckdb or python (--engine)",
    LAMBDA_PYTHON: "the python3.12 that compiles the zip's bytecode (default: found on PATH)",
    CACHE_DIR: "where parsed log files are cached (default: .opskit/cache)",
}
OF_GLOBAL_OPTIONS = (ENV, PROFILE, REGION, OUTPUT, CONFIG)
# Read by the AWS SDK itself: AWS_PROFILE, AWS_REGION / AWS_DEFAULT_REGION, AWS_ENDPOINT_URL,
# AWS_ACCESS_KEY_ID ... (used when neither a flag nor opskit.toml says otherwise).
AWS_PROFILE = "AWS_PROFILE"
AWS_REGIONS = ("AWS_REGION", "AWS_DEFAULT_REGION")
AWS_ENDPOINT_URL = "AWS_ENDPOINT_URL"
