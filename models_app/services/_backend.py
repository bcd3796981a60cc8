"""The frame of every write that may reach a registry's backend, and the lock it takes.

A write to a registry with a remote backend (MLflow, most custom flavors) calls the backend
first and commits locally only when the backend accepted. Doing that inside one database
transaction would hold the database's write lock across a network call: on SQLite
(`transaction_mode` IMMEDIATE) one slow MLflow call (up to its 20 s timeout) would stop every
writer, builtin registries included; on PostgreSQL a transaction would sit idle holding row
locks. So such a write instead:

1. takes the model's *backend lock*, keyed by registry and model name: a PostgreSQL advisory
   lock, or on SQLite an exclusive file lock beside the database file (SQLite serves one host).
   It is not a database lock: nobody else waits on it but writers of the same model;
2. reads the local state it needs and checks the request against it, with no transaction open;
3. makes the remote call(s);
4. commits each local change in one short transaction, right after its remote call succeeded.

Every write to that model holds the same lock from step 2 to step 4, so what step 2 read is
still true in step 4 (no lost update), the backend is written first, and the local index only
changes after the backend accepted. A use case of several remote calls commits after each one,
so a later failure leaves the backend and the index in agreement. A builtin registry has no
remote side: its writes stay one transaction under the registration's row lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from django.db import DatabaseError, connection, transaction

from models_app.exceptions import Conflict, NotFound
from models_app.models import ModelRegistration, Registry
from models_app.services._common import _lock_registration

# How long a write waits for another write to the same model (whose backend calls may take
# up to their own timeout) before it gives up with a conflict.
BACKEND_LOCK_TIMEOUT = 60.0
_POLL = 0.02
# SQLite lock files: model keys hash onto this many files, so their number stays bounded.
_LOCK_FILES = 1024
_thread_locks: dict[int, threading.Lock] = {}
_thread_locks_guard = threading.Lock()


def is_remote(registry: Registry) -> bool:
    return not registry.get_flavor().writes_only_the_index


def _key(registry_id: int, name: str) -> int:
    digest = hashlib.blake2b(f"{registry_id}\x00{name}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


def _busy(name: str) -> Conflict:
    return Conflict(f"Model '{name}' is busy with another change; try again.")


@contextlib.contextmanager
def _postgres_lock(key: int, name: str) -> Iterator[None]:
    deadline = time.monotonic() + BACKEND_LOCK_TIMEOUT
    with connection.cursor() as cursor:
        while True:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
            if cursor.fetchone()[0]:
                break
            if time.monotonic() > deadline:
                raise _busy(name)
            time.sleep(_POLL)
    try:
        yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
        except DatabaseError:
            # A session lock outlives a broken transaction; ending the session frees it.
            if not connection.in_atomic_block:
                connection.close()


@contextlib.contextmanager
def _file_lock(key: int, name: str) -> Iterator[None]:
    folder = Path(f"{connection.settings_dict['NAME']}.model-locks")
    folder.mkdir(exist_ok=True)
    fd = os.open(folder / f"{key % _LOCK_FILES}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + BACKEND_LOCK_TIMEOUT
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise _busy(name)
                time.sleep(_POLL)
        yield
    finally:
        os.close(fd)  # closing the file releases its lock


@contextlib.contextmanager
def _thread_lock(key: int, name: str) -> Iterator[None]:
    with _thread_locks_guard:
        lock = _thread_locks.setdefault(key, threading.Lock())
    if not lock.acquire(timeout=BACKEND_LOCK_TIMEOUT):
        raise _busy(name)
    try:
        yield
    finally:
        lock.release()


@contextlib.contextmanager
def model_lock(registry: Registry, *names: str) -> Iterator[None]:
    """Hold the backend lock of each named model of `registry` (sorted, so never a deadlock)."""
    in_memory = str(connection.settings_dict["NAME"]).startswith((":memory:", "file:"))
    if connection.vendor == "postgresql":
        take = _postgres_lock
    elif connection.vendor == "sqlite" and not in_memory:
        take = _file_lock
    else:
        take = _thread_lock
    keys = sorted({_key(registry.pk, name): name for name in names}.items())
    with contextlib.ExitStack() as stack:
        for key, name in keys:
            stack.enter_context(take(key, name))
        yield


@contextlib.contextmanager
def name_write(registry: Registry, name: str) -> Iterator[None]:
    """The frame of a write that may create model `name` (its registration may not exist)."""
    if not is_remote(registry):
        with transaction.atomic():
            yield
        return
    with model_lock(registry, name):
        yield


def refuse_trashed_name(registry: Registry, name: str) -> None:
    """A remote backend keeps a trashed model until it is purged, so there its name stays
    taken; a builtin registry frees the name at once (as MLflow does on delete)."""
    if is_remote(registry) and (
        ModelRegistration.all_objects.filter(
            registry=registry, name=name, deleted_at__isnull=False
        ).exists()
    ):
        raise Conflict(
            f"Model '{name}' is in the trash of registry '{registry.name}', whose backend "
            "keeps it until it is purged: restore it, or purge it to use the name again."
        )


@contextlib.contextmanager
def registration_write(
    registration: ModelRegistration, *other_names: str, include_trashed: bool = False
) -> Iterator[ModelRegistration]:
    """The frame of a write to an existing registration; yields it freshly read.

    Builtin: one transaction holding the registration's row lock. Remote backend: the model's
    backend lock (and that of `other_names`, e.g. a new name), no transaction; a rename that
    happened while waiting is followed, so the lock always covers the current name.
    A registration in the trash is found only with `include_trashed` (the trash's services).
    """
    if not is_remote(registration.registry):
        with transaction.atomic():
            try:
                locked = _lock_registration(registration.pk, include_trashed=include_trashed)
            except ModelRegistration.DoesNotExist:
                raise NotFound(f"Model '{registration.name}' no longer exists.")
            yield locked
        return
    manager = ModelRegistration.all_objects if include_trashed else ModelRegistration.objects
    name = registration.name
    while True:
        with model_lock(registration.registry, name, *other_names):
            current = manager.select_related("registry").filter(pk=registration.pk).first()
            if current is None:
                raise NotFound(f"Model '{name}' no longer exists.")
            if current.name == name:
                yield current
                return
        name = current.name
