"""The function's zip in S3: a bucket we create safely, keys named by content hash."""

from __future__ import annotations

import hashlib
import json
import secrets
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import botocore.exceptions

from opskit.aws import aws_error, error_code

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import BucketLifecycleConfigurationTypeDef

ARTIFACT_PREFIX = "gateway"


class PackageLike(Protocol):
    path: Path
    sha256: str


@dataclass(frozen=True)
class Artifact:
    bucket: str
    key: str
    uploaded: bool  # False when the same content was already there


@dataclass(frozen=True)
class Bucket:
    name: str
    owner: str  # the account id, sent as ExpectedBucketOwner on every call


BUCKET_PREFIX = "opskit-artifacts"
NONCURRENT_DAYS = 30  # old versions of an overwritten object (content keys rarely are)


def bucket_prefix(region: str) -> str:
    return f"{BUCKET_PREFIX}-{region}-"


def new_bucket_name(region: str) -> str:
    """An unguessable name: a predictable one can be created first by someone else (squatting)."""
    return bucket_prefix(region) + secrets.token_hex(8)


def resolve_bucket(
    s3: Callable[[], S3Client], account: str, env: Any, previous: dict[str, str] | None
) -> Bucket:
    """The artifact bucket: configured, else the one the stack uses, else ours, else a new name.

    ListBuckets only returns the caller's own buckets, so finding "ours" by prefix
    cannot be fooled by a bucket someone else created.
    """
    configured = env.settings.get("artifact_bucket")
    if configured:
        return Bucket(str(configured), account)
    if previous and previous.get("ArtifactBucket"):
        return Bucket(previous["ArtifactBucket"], account)
    prefix = bucket_prefix(env.region)
    try:
        owned = [b["Name"] for b in s3().list_buckets().get("Buckets", [])]
    except botocore.exceptions.ClientError as exc:
        raise aws_error("cannot list your S3 buckets", exc, "grant s3:ListAllMyBuckets") from None
    ours = sorted(name for name in owned if name.startswith(prefix))
    return Bucket(ours[0] if ours else new_bucket_name(env.region), account)


def artifact_key(sha256: str) -> str:
    return f"{ARTIFACT_PREFIX}/{sha256}.zip"


def tls_only_policy(bucket: str) -> dict[str, Any]:
    """Deny every request that does not use TLS (aws:SecureTransport), per the S3 guide."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


LIFECYCLE: BucketLifecycleConfigurationTypeDef = {
    "Rules": [
        {
            "ID": "opskit-expire-noncurrent-versions",
            "Status": "Enabled",
            "Filter": {"Prefix": ""},
            "NoncurrentVersionExpiration": {"NoncurrentDays": NONCURRENT_DAYS},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
        }
    ]
}


def ensure_bucket(s3: S3Client, bucket: Bucket, region: str, *, tls_only: bool = True) -> bool:
    """Create the artifact bucket (encrypted, versioned, private, TLS only) if missing.

    Every call but CreateBucket (which has no such parameter) sends ExpectedBucketOwner,
    so a bucket of the same name in another account is refused, never written to.
    `tls_only=False` is for the local emulator, which speaks plain HTTP (moto enforces
    the policy, so it would lock opskit out).
    """
    owner = bucket.owner
    name = bucket.name
    try:
        s3.head_bucket(Bucket=name, ExpectedBucketOwner=owner)
        return False
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) not in {"404", "NoSuchBucket", "NotFound"}:
            raise aws_error(
                f"cannot use artifact bucket {name}",
                exc,
                "it may belong to another account: set artifact_bucket in opskit.toml",
            ) from None
    try:
        kwargs: dict[str, Any] = {"Bucket": name}
        if region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        s3.create_bucket(**kwargs)
        s3.put_public_access_block(
            Bucket=name,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
            ExpectedBucketOwner=owner,
        )
        s3.put_bucket_encryption(
            Bucket=name,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                        "BucketKeyEnabled": True,
                    }
                ]
            },
            ExpectedBucketOwner=owner,
        )
        s3.put_bucket_versioning(
            Bucket=name, VersioningConfiguration={"Status": "Enabled"}, ExpectedBucketOwner=owner
        )
        if tls_only:
            s3.put_bucket_policy(
                Bucket=name, Policy=json.dumps(tls_only_policy(name)), ExpectedBucketOwner=owner
            )
        s3.put_bucket_lifecycle_configuration(
            Bucket=name, LifecycleConfiguration=LIFECYCLE, ExpectedBucketOwner=owner
        )
    except botocore.exceptions.ClientError as exc:
        raise aws_error(f"cannot create artifact bucket {name}", exc) from None
    return True


def object_exists(s3: S3Client, bucket: Bucket, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket.name, Key=key, ExpectedBucketOwner=bucket.owner)
        return True
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) in {"404", "NoSuchKey", "NotFound"}:
            return False
        raise aws_error(f"cannot read s3://{bucket.name}/{key}", exc) from None


def upload_artifact(s3: S3Client, bucket: Bucket, package: PackageLike) -> Artifact:
    key = artifact_key(package.sha256)
    if object_exists(s3, bucket, key):
        return Artifact(bucket.name, key, uploaded=False)
    try:
        with package.path.open("rb") as body:
            s3.put_object(
                Bucket=bucket.name,
                Key=key,
                Body=body,
                ServerSideEncryption="AES256",
                Metadata={"sha256": package.sha256},
                ExpectedBucketOwner=bucket.owner,
            )
    except botocore.exceptions.ClientError as exc:
        raise aws_error(f"cannot upload the package to s3://{bucket.name}/{key}", exc) from None
    return Artifact(bucket.name, key, uploaded=True)


def upload_template(s3: S3Client, bucket: Bucket, region: str, body: str) -> str:
    """Put a large template under its content hash; return its TemplateURL."""
    key = f"templates/{hashlib.sha256(body.encode()).hexdigest()}.template"
    if not object_exists(s3, bucket, key):
        try:
            s3.put_object(
                Bucket=bucket.name,
                Key=key,
                Body=body.encode(),
                ServerSideEncryption="AES256",
                ExpectedBucketOwner=bucket.owner,
            )
        except botocore.exceptions.ClientError as exc:
            raise aws_error(f"cannot upload the template to s3://{bucket.name}", exc) from None
    return f"https://{bucket.name}.s3.{region}.amazonaws.com/{key}"


# --- build cache: skip `pip` when nothing that goes into the zip changed -------------------


def source_fingerprint(project_root: Path, architecture: str, python_version: str) -> str:
    """Hash of everything the package is built from: gateway sources, deps and their lock,
    target, and the interpreter that compiles the bytecode."""
    digest = hashlib.sha256(f"{architecture}|{python_version}".encode())
    pyproject = project_root / "pyproject.toml"
    if pyproject.is_file():
        data = tomllib.loads(pyproject.read_text())
        deps = data.get("tool", {}).get("opskit", {}).get("lambda-dependencies", [])
        digest.update(json.dumps(deps, sort_keys=True).encode())
    from opskit.packaging.bytecode import find_compiler
    from opskit.packaging.lock import lock_path

    lock = lock_path(project_root)
    if lock.is_file():  # the resolved versions and hashes
        digest.update(lock.read_bytes())
    compiler = find_compiler(python_version)  # bytecode depends on the interpreter release
    digest.update(f"|bytecode={compiler.version if compiler else None}|".encode())
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
