"""Backups of a deployment: the interface each deployment implements, the manifest, and the
two containers a backup is written to (a directory or one tar archive).

A backup is a set of files under relative paths plus ``manifest.json``: every file's size,
sha256 and mode, the event log's last position at the moment of the copy, when it was made
and by which version. :func:`write_backup` turns a staged directory into either container;
:func:`stage_restore` unpacks one and checks every checksum before anything is moved into
the target, so a damaged backup never leaves a half-restored data dir.

>>> import pathlib, tempfile
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> (root / "staged").mkdir(); _ = (root / "staged" / "a.txt").write_bytes(b"hi")
>>> m = write_backup(root / "staged", root / "out.tar", Manifest(deployment="test", event_log_position=3))
>>> [f.path for f in m.files], m.files[0].size
(['a.txt'], 2)
>>> read_manifest(stage_restore(root / "out.tar", root / "check")).event_log_position
3
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

from tastemaker.config import Settings

MANIFEST = "manifest.json"
FORMAT = "tastemaker-backup/1"
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz")
SECRET_WORDS = ("key", "secret", "password", "token")


class BackupError(Exception):
    """A backup that cannot be made or restored; the message names the file and the reason."""


@dataclass
class FileEntry:
    path: str  # relative, '/'-separated
    size: int
    sha256: str
    mode: str  # octal permission bits, e.g. "0600": key files keep theirs


@dataclass
class Manifest:
    deployment: str
    event_log_position: int
    files: list[FileEntry] = field(default_factory=list)
    dirs: dict[str, str] = field(default_factory=dict)  # relative dir -> octal mode (signing-keys: 0700)
    created_at: str = ""
    tastemaker_version: str = ""
    settings: dict = field(default_factory=dict)  # the effective configuration, secrets left out
    format: str = FORMAT

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        raw = json.loads(text)
        if raw.get("format") != FORMAT:
            raise BackupError(f"{MANIFEST}: format {raw.get('format')!r} is not {FORMAT!r}")
        raw["files"] = [FileEntry(**f) for f in raw.get("files", [])]
        return cls(**raw)

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)


class Backup(Protocol):
    """What each deployment provides (``storage.factory.open_backup``): the embedded one copies
    its SQLite files and data dir (``storage.sqlite.backup``); the distributed one will dump
    PostgreSQL and snapshot the JetStream stream."""

    def create(self, dest: Path) -> Manifest:
        """Write an online, consistent backup to ``dest`` (a new directory, or ``*.tar[.gz]``)."""
        ...

    def restore(self, src: Path, *, force: bool = False) -> Manifest:
        """Restore ``src`` into this deployment; refuse one that holds data unless ``force``."""
        ...


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def is_archive(path: Path) -> bool:
    return path.name.endswith(TAR_SUFFIXES)


def safe_relative(path: str) -> str:
    """A manifest path that stays inside the target (no absolute path, no '..')."""
    parts = path.split("/")
    if not path or path.startswith("/") or "\\" in path or any(p in ("", ".", "..") for p in parts):
        raise BackupError(f"{MANIFEST}: unsafe path {path!r}")
    return path


def write_backup(staged: Path, dest: Path, manifest: Manifest) -> Manifest:
    """Fill ``manifest`` from the files under ``staged`` and write both to ``dest``.

    ``dest`` ending in .tar/.tar.gz/.tgz becomes one archive (manifest first); else ``staged``
    is renamed to ``dest`` (same file system) with ``manifest.json`` beside the files.
    """
    manifest.files = []
    for dirpath, dirnames, filenames in os.walk(staged):
        dirnames.sort()
        rel_dir = Path(dirpath).relative_to(staged).as_posix()
        if rel_dir != ".":
            manifest.dirs[rel_dir] = f"{os.stat(dirpath).st_mode & 0o777:04o}"
        for name in sorted(filenames):
            path = Path(dirpath) / name
            rel = path.relative_to(staged).as_posix()
            st = path.stat()
            manifest.files.append(FileEntry(rel, st.st_size, sha256_of(path), f"{st.st_mode & 0o777:04o}"))
    manifest.created_at = manifest.created_at or datetime.now(timezone.utc).isoformat(timespec="seconds")
    text = manifest.to_json().encode()
    if is_archive(dest):
        tmp = dest.with_name(f".{dest.name}.tmp")
        with tarfile.open(tmp, "w:gz" if dest.name.endswith(("gz", "tgz")) else "w") as tar:
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode, info.mtime = len(text), 0o600, int(datetime.now().timestamp())
            tar.addfile(info, io.BytesIO(text))
            for rel in sorted(manifest.dirs):
                tar.add(staged / rel, arcname=rel, recursive=False)
            for entry in manifest.files:
                tar.add(staged / entry.path, arcname=entry.path, recursive=False)
        os.chmod(tmp, 0o600)  # it holds the key files
        os.replace(tmp, dest)
        shutil.rmtree(staged)
    else:
        (staged / MANIFEST).write_bytes(text)
        os.chmod(staged / MANIFEST, 0o600)
        os.chmod(staged, 0o700)
        os.replace(staged, dest)
    return manifest


def read_manifest(root: Path) -> Manifest:
    try:
        return Manifest.from_json((root / MANIFEST).read_text())
    except FileNotFoundError:
        raise BackupError(f"{root}: no {MANIFEST}; not a tastemaker backup") from None
    except (ValueError, TypeError) as exc:
        raise BackupError(f"{root / MANIFEST}: unreadable ({exc})") from None


def stage_restore(src: Path, staging: Path) -> Path:
    """Unpack (archive) or point at (directory) ``src``, check every file against the manifest;
    returns the directory holding the verified files. Raises :class:`BackupError` naming the
    first missing, extra-size or changed file."""
    if not src.exists():
        raise BackupError(f"{src}: no such backup")
    if src.is_dir():
        root = src
    else:
        try:
            with tarfile.open(src) as tar:
                wanted = {MANIFEST}
                member = tar.getmember(MANIFEST)
                manifest = Manifest.from_json(tar.extractfile(member).read().decode())
                wanted |= {safe_relative(f.path) for f in manifest.files} | {safe_relative(d) for d in manifest.dirs}
                staging.mkdir(parents=True, exist_ok=False)
                tar.extractall(staging, members=[m for m in tar.getmembers() if m.name in wanted], filter="data")
        except (tarfile.TarError, KeyError, OSError) as exc:
            raise BackupError(f"{src}: unreadable archive ({exc})") from None
        root = staging
    manifest = read_manifest(root)
    for entry in manifest.files:
        path = root / safe_relative(entry.path)
        if not path.is_file():
            raise BackupError(f"{entry.path}: missing from the backup")
        if path.stat().st_size != entry.size or sha256_of(path) != entry.sha256:
            raise BackupError(f"{entry.path}: checksum mismatch (the backup is damaged)")
    return root


def effective_settings(settings: Settings) -> dict:
    """The settings as JSON values, without secrets (admin key, tokens) or URL passwords."""
    out: dict = {}
    for f in fields(settings):
        if any(word in f.name.lower() for word in SECRET_WORDS) and not f.name.startswith("token_"):
            continue
        value = getattr(settings, f.name)
        if isinstance(value, str) and "://" in value:  # a service URL: keep it, not its password
            parts = urlsplit(value)
            if parts.password:
                value = urlunsplit(parts._replace(netloc=f"{parts.username}:***@{parts.hostname}"
                                                         + (f":{parts.port}" if parts.port else "")))
        out[f.name] = _jsonable(value)
    return out


def _jsonable(value: object) -> object:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)
