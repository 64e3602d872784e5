"""Docker-free, deterministic Lambda packaging for the gateway (`opskit package`)."""

from opskit.packaging.build import (
    MAX_UNZIPPED,
    MAX_ZIPPED,
    PackageResult,
    build_package,
    default_cache_dir,
)

__all__ = ["MAX_UNZIPPED", "MAX_ZIPPED", "PackageResult", "build_package", "default_cache_dir"]
