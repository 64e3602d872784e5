"""The function's zip in S3: a bucket we create safely, keys named by content hash."""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import botocore.exceptions

from opskit.aws import aws_error, error_code

ARTIFACT_PREFIX = "gateway"


class PackageLike(Protocol):
    path: Path
    sha256: str


@dataclass(frozen=True)
class Artifact:
    bucket: str
    key: str
    uploaded: bool  # False when the same content was already there


def artifact_bucket_name(account: str, region: str, settings: dict[str, Any]) -> str:
    return str(settings.get("artifact_bucket") or f"opskit-artifacts-{account}-{region}")


def artifact_key(sha256: str) -> str:
    return f"{ARTIFACT_PREFIX}/{sha256}.zip"


def ensure_bucket(s3: Any, bucket: str, region: str) -> bool:
    """Create the artifact bucket (encrypted, versioned, no public access) if missing."""
    try:
        s3.head_bucket(Bucket=bucket)
        return False
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) not in {"404", "NoSuchBucket", "NotFound"}:
            raise aws_error(
                f"cannot use artifact bucket {bucket}",
                exc,
                "it may belong to another account: set artifact_bucket in opskit.toml",
            ) from None
    try:
        kwargs: dict[str, Any] = {"Bucket": bucket}
        if region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        s3.create_bucket(**kwargs)
        s3.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                        "BucketKeyEnabled": True,
                    }
                ]
            },
        )
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    except botocore.exceptions.ClientError as exc:
        raise aws_error(f"cannot create artifact bucket {bucket}", exc) from None
    return True


def object_exists(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return True
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) in {"404", "NoSuchKey", "NotFound"}:
            return False
        raise aws_error(f"cannot read s3://{bucket}/{key}", exc) from None


def upload_artifact(s3: Any, bucket: str, package: PackageLike) -> Artifact:
    key = artifact_key(package.sha256)
    if object_exists(s3, bucket, key):
        return Artifact(bucket, key, uploaded=False)
    try:
        with package.path.open("rb") as body:
            s3.put_object(
                Bucket=bucket,
                Key=key,
                Body=body,
                ServerSideEncryption="AES256",
                Metadata={"sha256": package.sha256},
            )
    except botocore.exceptions.ClientError as exc:
        raise aws_error(f"cannot upload the package to s3://{bucket}/{key}", exc) from None
    return Artifact(bucket, key, uploaded=True)


# --- build cache: skip `pip` when nothing that goes into the zip changed -------------------


def source_fingerprint(project_root: Path, architecture: str, python_version: str) -> str:
    """Hash of everything the package is built from: gateway sources, pinned deps, target."""
    digest = hashlib.sha256(f"{architecture}|{python_version}".encode())
    pyproject = project_root / "pyproject.toml"
    if pyproject.is_file():
        data = tomllib.loads(pyproject.read_text())
        deps = data.get("tool", {}).get("opskit", {}).get("lambda-dependencies", [])
        digest.update(json.dumps(deps, sort_keys=True).encode())
    gateway = project_root / "gateway"
    for path in sorted(gateway.rglob("*")) if gateway.is_dir() else []:
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            digest.update(str(path.relative_to(project_root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class CachedPackage:
    path: Path
    sha256: str
    size_zipped: int
    cached: bool


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cached_build(
    project_root: Path,
    state_dir: Path,
    architecture: str,
    python_version: str,
    build: Any,
) -> CachedPackage:
    """Reuse .opskit/build/<fingerprint>.zip when the inputs are unchanged, else `build(...)`."""
    fingerprint = source_fingerprint(project_root, architecture, python_version)
    cache = state_dir / "build"
    zip_path, meta_path = cache / f"{fingerprint}.zip", cache / f"{fingerprint}.json"
    if zip_path.is_file() and meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        if meta.get("size") == zip_path.stat().st_size:
            return CachedPackage(zip_path, meta["sha256"], meta["size"], cached=True)
    cache.mkdir(parents=True, exist_ok=True)
    result = build(
        project_root,
        cache / "out",
        architecture=architecture,
        python_version=python_version,
        cache_dir=None,  # the packager's shared dependency cache (.opskit/cache)
    )
    built = Path(result.path)
    for old in cache.glob("*.zip"):
        old.unlink()
    for old in cache.glob("*.json"):
        old.unlink()
    built.replace(zip_path)
    sha = file_sha256(zip_path)
    meta_path.write_text(json.dumps({"sha256": sha, "size": zip_path.stat().st_size}))
    return CachedPackage(zip_path, sha, zip_path.stat().st_size, cached=False)
