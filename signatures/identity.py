"""A system's or a person's signing identity: a private key and its certificate chain.

Systems obtain theirs from the simulated certification authority (:mod:`signatures.client`) and
keep it as a PKCS#12 key storage in the run's data directory, as real systems keep theirs.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from signatures.certificates import PrivateKey, from_pkcs12, to_pkcs12

KEY_STORAGE_PASSWORD = b"Qwerty12"
"""The password of the simulation's key storages, as on the real test CA's keys."""


@dataclass(frozen=True)
class Identity:
    key: PrivateKey
    chain: tuple[x509.Certificate, ...]
    """The signer's certificate first, then the issuing CA(s); the root is not included."""

    @property
    def certificate(self) -> x509.Certificate:
        return self.chain[0]

    def to_pkcs12(self, name: str, password: bytes = KEY_STORAGE_PASSWORD) -> bytes:
        return to_pkcs12(self.key, self.chain[0], self.chain[1:], password, name)

    @classmethod
    def from_pkcs12(cls, data: bytes, password: bytes = KEY_STORAGE_PASSWORD) -> Identity:
        key, cert, extra = from_pkcs12(data, password)
        return cls(key, (cert, *extra))

    def save(self, path: Path, name: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(self.to_pkcs12(name))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> Identity:
        """The identity kept at ``path``: opened once for each version of the file.

        A system's staff sign with their stored keys at every decision, and opening a key
        storage costs ~65 ms of CPU (:func:`~signatures.certificates.from_pkcs12`). Its cache of
        opened storages is shared with every citizen's NCALayer, whose many keys push a staff
        key out of it under load; this one remembers the few files systems keep, by path and by
        the file's identity (a renewed key replaces the file: another inode, another mtime)."""
        stat = os.stat(path)
        return _loaded(str(path), stat.st_ino, stat.st_mtime_ns, stat.st_size)


KEPT_FILES = 256
"""How many key storage files :meth:`Identity.load` keeps opened (a run's systems and staff)."""


@functools.lru_cache(maxsize=KEPT_FILES)
def _loaded(path: str, inode: int, mtime_ns: int, size: int) -> Identity:
    return Identity.from_pkcs12(Path(path).read_bytes())
