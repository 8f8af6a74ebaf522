"""Uploaded documents: checked by their bytes, kept under random names outside any web root.

A document (a licence, a commitment letter) is accepted only when its first bytes say PDF,
JPEG or PNG; the name and the declared type are never trusted. A PDF that carries active
content (scripts, launch actions, embedded files, XFA forms) is refused, also when the names
hide in object streams behind any chain of filters or behind ``#xx`` escapes
(``hall.pdfscan``). That scan runs in a small pool of processes (``PdfChecker``, started in
the app's lifespan) under limits of bytes and time, so a crafted file costs bounded work and
never holds the event loop or its GIL: bidding goes on while it runs. The original name is
kept, sanitised, for display and download only; on disk the file is a random hex name with
no extension.

One account may upload at most ``HALL_UPLOAD_FILES_PER_HOUR`` files an hour and
``HALL_UPLOAD_BYTES_PER_DAY`` bytes a day, counted from the files table (429 ``upload_quota``
beyond), so throwaway accounts cannot fill the disk.

Writing happens in two steps so that the store's write lock is never held during disk I/O
(the journal commits bids behind the same lock): ``FileStore.write`` puts the bytes on disk
and fsyncs them, then ``FileStore.record`` inserts the row inside the caller's transaction,
together with whatever refers to it. If that transaction fails, ``discard`` removes the file.
"""

from __future__ import annotations

import asyncio
import hashlib
import multiprocessing
import os
import re
import secrets
import sqlite3
import unicodedata
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import aiosqlite
from starlette.datastructures import UploadFile

from hall.config import Config
from hall.pdfscan import Limits, Verdict, scan
from hall.refusal import Refusal
from hall.store.sqlite import SqliteStore

MAX_SIZE: Final = 10 * 1024 * 1024
"""10 MiB per file."""
MAX_NAME: Final = 200
"""Characters kept of an original file name."""
GRACE: Final = 2.0
"""Seconds past the scan's own deadline before the server stops waiting for its process."""
HOUR_MS: Final = 3600 * 1000
DAY_MS: Final = 24 * HOUR_MS

PDF: Final = "application/pdf"
JPEG: Final = "image/jpeg"
PNG: Final = "image/png"
EXTENSIONS: Final = {PDF: ".pdf", JPEG: ".jpg", PNG: ".png"}

_SEPARATORS = re.compile(r"[/\\]")

MSG_TOO_LARGE: Final = "upload_too_large"
"""The catalogue keys (hall/web/i18n.py) of the refusals' messages."""
MSG_EMPTY: Final = "upload_empty"
MSG_MISSING: Final = "upload_missing"
MSG_WRONG_TYPE: Final = "upload_wrong_type"
MSG_EXECUTABLE: Final = "upload_executable"
MSG_ACTIVE_PDF: Final = "upload_active_pdf"


class UploadRefused(Refusal):
    """An upload the hall will not keep: an HTTP status, a stable code and the catalogue key of
    its message (with the key's parameters), put into the asker's language where it is shown."""


@dataclass(frozen=True, slots=True)
class Checked:
    """An upload that passed every check, still in memory."""

    data: bytes
    original_name: str
    media_type: str
    sha256: str

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True, slots=True)
class Written:
    """A checked upload on disk, not yet recorded."""

    checked: Checked
    stored_name: str
    path: Path


@dataclass(frozen=True, slots=True)
class StoredFile:
    id: int
    owner: int
    stored_name: str
    original_name: str
    media_type: str
    size: int
    sha256: str
    created_at: int


# ---------------------------------------------------------------------- checks (pure)


def sniff(head: bytes) -> str | None:
    """The media type the leading bytes prove, among the three accepted; None otherwise."""
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    return None


def is_executable(head: bytes) -> bool:
    """Windows PE/DOS, ELF, Mach-O (thin, fat, both byte orders) or a ``#!`` script."""
    return head.startswith(
        (
            b"MZ",
            b"\x7fELF",
            b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe",
            b"\xca\xfe\xba\xbe", b"\xbe\xba\xfe\xca",
            b"#!",
        )
    )  # fmt: skip


def sanitise_name(raw: str | None, media_type: str) -> str:
    """The last path component of what the browser sent, without control or format
    characters (a right-to-left override can disguise an extension), trimmed; never a
    path, never empty."""
    name = _SEPARATORS.split(raw or "")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn"))
    name = name.strip().strip(".").strip()
    if len(name) > MAX_NAME:
        stem, dot, ext = name.rpartition(".")
        name = f"{stem[:MAX_NAME - len(ext) - 1]}.{ext}" if dot and 0 < len(ext) <= 10 else name[:MAX_NAME]
    return name or f"upload{EXTENSIONS[media_type]}"


def check(data: bytes, original_name: str | None) -> Checked:
    """Accept ``data`` as one of the three types or raise ``UploadRefused``. A PDF's content
    is ``PdfChecker``'s to judge, after this."""
    if len(data) > MAX_SIZE:
        raise UploadRefused(413, "too_large", MSG_TOO_LARGE)
    if not data:
        raise UploadRefused(400, "bad_file", MSG_EMPTY)
    head = data[:16]
    if is_executable(head):
        raise UploadRefused(400, "bad_file", MSG_EXECUTABLE)
    media_type = sniff(head)
    if media_type is None:
        raise UploadRefused(400, "bad_file", MSG_WRONG_TYPE)
    return Checked(data=data, original_name=sanitise_name(original_name, media_type), media_type=media_type,
                   sha256=hashlib.sha256(data).hexdigest())  # fmt: skip


_REFUSED: Final = {
    Verdict.ACTIVE: ("bad_file", MSG_ACTIVE_PDF),
    Verdict.INFLATE_LIMIT: ("pdf_inflate_limit", "upload_pdf_inflate_limit"),
    Verdict.TIME_LIMIT: ("pdf_time_limit", "upload_pdf_time_limit"),
    Verdict.UNDECODABLE: ("pdf_undecodable", "upload_pdf_undecodable"),
}


def _pdf_context() -> multiprocessing.context.BaseContext:
    """Fresh worker processes from a clean server process, never a fork of the hall's (its
    threads, its open database)."""
    return multiprocessing.get_context("forkserver")


class PdfChecker:
    """``hall.pdfscan.scan`` in a fixed pool of ``HALL_PDF_WORKERS`` processes. Uploads
    beyond the pool's size wait their turn; each scan ends by ``HALL_PDF_SECONDS``."""

    def __init__(self, workers: int, limits: Limits) -> None:
        self.workers = workers
        self.limits = limits
        self.pool: ProcessPoolExecutor | None = None

    def start(self) -> None:
        """Make the pool (its processes start with the first upload)."""
        self.pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=_pdf_context())

    async def stop(self) -> None:
        if self.pool is not None:
            pool, self.pool = self.pool, None
            await asyncio.to_thread(pool.shutdown, True, cancel_futures=True)

    async def check(self, data: bytes) -> None:
        """Raise ``UploadRefused`` unless the PDF ``data`` is clean."""
        assert self.pool is not None, "the checker is started in the lifespan"
        loop = asyncio.get_running_loop()
        try:
            verdict = await asyncio.wait_for(loop.run_in_executor(self.pool, scan, data, self.limits),
                                             self.limits.seconds + GRACE)  # fmt: skip
        except TimeoutError:
            verdict = Verdict.TIME_LIMIT
        except BrokenProcessPool:  # a worker died (killed, out of memory): a fresh pool for the next
            self.start()
            raise UploadRefused(503, "unavailable", "code_unavailable") from None
        if verdict is not Verdict.CLEAN:
            code, key = _REFUSED[verdict]
            raise UploadRefused(400, code, key)


# ---------------------------------------------------------------------- storage


def files_dir(config: Config) -> Path:
    """``Config.files``, or a ``files`` folder beside the database file."""
    if config.files:
        return Path(config.files)
    return Path(config.db).resolve().parent / "files"


def _write(directory: Path, stored_name: str, data: bytes) -> Path:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / stored_name
    # O_EXCL: never overwrite; O_NOFOLLOW: never write through a planted link.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    os.close(fd)
    return path


class FileStore:
    def __init__(self, store: SqliteStore, config: Config, checker: PdfChecker) -> None:
        self.store = store
        self.directory = files_dir(config)
        self.checker = checker
        self.files_per_hour = config.upload_files_per_hour
        self.bytes_per_day = config.upload_bytes_per_day

    async def accept(self, field: UploadFile | str | None, owner: int, now: int) -> Written:
        """Take a form's file field from ``owner``: within the account's quota, checked, and
        written to disk (not yet recorded). Never more than ``MAX_SIZE`` + 1 bytes are read."""
        if not isinstance(field, UploadFile) or not field.filename:
            raise UploadRefused(400, "missing_file", MSG_MISSING)
        await field.seek(0)
        data = await field.read(MAX_SIZE + 1)
        if len(data) > MAX_SIZE:
            raise UploadRefused(413, "too_large", MSG_TOO_LARGE)
        await self.within_quota(owner, len(data), now)
        checked = await asyncio.to_thread(check, data, field.filename)
        if checked.media_type == PDF:
            await self.checker.check(data)
        return await self.write(checked)

    async def within_quota(self, owner: int, size: int, now: int) -> None:
        """Refuse (429 ``upload_quota``) an upload of ``size`` bytes that would take ``owner``
        past the files of the last hour or the bytes of the last day."""
        row = await self.store.fetchone(
            "SELECT count(*) FILTER (WHERE created_at > ?), coalesce(sum(size), 0) FROM files"
            " WHERE owner = ? AND created_at > ?",
            (now - HOUR_MS, owner, now - DAY_MS),
        )
        files, used = (row[0], row[1]) if row else (0, 0)
        if files >= self.files_per_hour or used + size > self.bytes_per_day:
            raise UploadRefused(429, "upload_quota", "upload_quota", files=self.files_per_hour,
                                mib=self.bytes_per_day // (1024 * 1024))  # fmt: skip

    async def write(self, checked: Checked) -> Written:
        """Put the bytes on disk under a fresh random name (no store lock is held)."""
        stored_name = secrets.token_hex(16)
        path = await asyncio.to_thread(_write, self.directory, stored_name, checked.data)
        return Written(checked=checked, stored_name=stored_name, path=path)

    async def record(self, tx: aiosqlite.Connection, owner: int, written: Written, now: int) -> int:
        """Insert the file's row in the caller's transaction; its id."""
        c = written.checked
        cursor = await tx.execute(
            "INSERT INTO files (owner, stored_name, original_name, media_type, size, sha256, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (owner, written.stored_name, c.original_name, c.media_type, c.size, c.sha256, now),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    async def discard(self, written: Written) -> None:
        """Remove a written file whose row was never committed."""
        await asyncio.to_thread(written.path.unlink, True)

    async def get(self, file_id: int) -> StoredFile | None:
        row = await self.store.fetchone(
            "SELECT id, owner, stored_name, original_name, media_type, size, sha256, created_at"
            " FROM files WHERE id = ?",
            (file_id,),
        )
        return None if row is None else _stored(row)

    def path(self, stored: StoredFile) -> Path:
        return self.directory / stored.stored_name


def _stored(row: sqlite3.Row) -> StoredFile:
    return StoredFile(id=row[0], owner=row[1], stored_name=row[2], original_name=row[3], media_type=row[4],
                      size=row[5], sha256=row[6], created_at=row[7])  # fmt: skip
