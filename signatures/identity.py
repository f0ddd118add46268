"""A system's or a person's signing identity: a private key and its certificate chain.

Systems obtain theirs from the simulated certification authority (:mod:`signatures.client`) and
keep it as a PKCS#12 key storage in the run's data directory, as real systems keep theirs.
"""

from __future__ import annotations

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
        return cls.from_pkcs12(path.read_bytes())
