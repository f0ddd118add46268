"""A simulated NCALayer: the signing client on a citizen's or an official's computer.

The real NCALayer is a local program a web page talks to over a WebSocket with messages like
``{"module": "kz.gov.pki.knca.basics", "method": "sign", "args": {...}}``; it asks the person to
choose a key storage, enter its password and confirm, then answers
``{"status": true, "body": {"result": [...]}}`` -- or that the person cancelled. This class takes
the same messages; the person's choices (which key storage, which password, cancel) are set
beforehand with :meth:`NCALayer.choose` and :meth:`NCALayer.cancel_next`.

Supported: ``kz.gov.pki.knca.basics`` ``sign`` with ``format`` ``"cms"`` (CAdES-BES CMS, attached
or detached) over ``data`` (base64 when ``signingParams.decode`` is true, else UTF-8 text), with
``signerParams.extKeyUsageOids`` and ``signerParams.iin`` / ``bin`` restricting the key;
``kz.gov.pki.knca.commonUtils`` ``getVersion``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from signatures.certificates import subject_info
from signatures.cms import sign_cms
from signatures.identity import KEY_STORAGE_PASSWORD, Identity

VERSION = "1.4-egov-sim"
BASICS = "kz.gov.pki.knca.basics"
COMMON_UTILS = "kz.gov.pki.knca.commonUtils"


def person_key_storage(data_dir: Path, iin: str, usage: str = "sign") -> Path | None:
    """The seeded key storage of a person (``<data dir>/people/<ЖСН>/RSA256_….p12``), if any."""
    home = data_dir.expanduser().resolve() / "people" / iin
    prefixes = ("AUTH_",) if usage == "auth" else ("RSA256_", "GOSTKNCA_")
    if home.exists():
        for path in sorted(home.glob("*.p12")):
            if path.name.startswith(prefixes):
                return path
    return None


def _error(code: str, message: str) -> dict[str, Any]:
    return {"status": False, "code": code, "message": message}


class NCALayer:
    def __init__(self, clock: Callable[[], Awaitable[datetime]]) -> None:
        self._clock = clock
        self._storage: bytes | None = None
        self._identity: Identity | None = None
        self._password = KEY_STORAGE_PASSWORD
        self._cancel = False

    def choose(self, storage: Path | bytes | Identity, password: str | bytes = KEY_STORAGE_PASSWORD) -> None:
        """What the person picks in NCALayer's dialog: a key storage file and its password."""
        self._password = password.encode() if isinstance(password, str) else password
        if isinstance(storage, Identity):
            # a storage already opened (a caller's Identity) is signed with as it is: written out and
            # read back, it would be new bytes each time -- a fresh salt -- and a full PKCS#12 load
            self._identity, self._storage = storage, None
            return
        self._identity = None
        self._storage = storage.read_bytes() if isinstance(storage, Path) else storage

    def cancel_next(self) -> None:
        """The person will press "cancel" on the next request."""
        self._cancel = True

    async def handle(self, message: dict[str, Any]) -> dict[str, Any]:
        module, method = message.get("module"), message.get("method")
        args = message.get("args") or {}
        if module == COMMON_UTILS and method == "getVersion":
            return {"status": True, "body": {"result": {"version": VERSION}}}
        if module != BASICS or method != "sign":
            return _error("MODULE_NOT_FOUND", f"no method {method!r} in module {module!r}")
        if not isinstance(args, dict):
            return _error("WRONG_ARGS", "args must be an object")
        if self._cancel:
            self._cancel = False
            return _error("USER_CANCELED", "the user cancelled the operation")
        return await self._sign(args)

    async def _sign(self, args: dict[str, Any]) -> dict[str, Any]:
        if (args.get("format") or "cms").lower() != "cms":
            return _error("WRONG_ARGS", f"format {args.get('format')!r} is not supported here: use cms")
        signing = args.get("signingParams") or {}
        signer = args.get("signerParams") or {}
        data = args.get("data")
        items = data if isinstance(data, list) else [data]
        contents: list[bytes] = []
        for item in items:
            if not isinstance(item, str):
                return _error("WRONG_ARGS", "data must be a string or a list of strings")
            if signing.get("decode", True):
                try:
                    contents.append(base64.b64decode(item, validate=True))
                except (binascii.Error, ValueError):
                    return _error("WRONG_ARGS", "data is not base64 (set signingParams.decode to false for text)")
            else:
                contents.append(item.encode())
        if self._identity is not None:
            identity = self._identity
        elif self._storage is None:
            return _error("USER_CANCELED", "no key storage was chosen")
        else:
            try:
                identity = Identity.from_pkcs12(self._storage, self._password)
            except ValueError:
                return _error("WRONG_PASSWORD", "the key storage password is wrong")
        problem = self._unsuitable(identity.certificate, signer)
        if problem:
            return _error("KEY_NOT_SUITABLE", problem)
        detached = not signing.get("encapsulate", True)
        at = await self._clock()
        result = [
            base64.b64encode(sign_cms(content, identity.key, identity.chain, at=at, detached=detached)).decode()
            for content in contents
        ]
        return {"status": True, "body": {"result": result}}

    @staticmethod
    def _unsuitable(cert: x509.Certificate, signer: dict[str, Any]) -> str | None:
        wanted = signer.get("extKeyUsageOids") or []
        try:
            ekus = {oid.dotted_string for oid in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value}
        except x509.ExtensionNotFound:
            ekus = set()
        missing = [oid for oid in wanted if oid not in ekus]
        if missing:
            return f"the chosen key lacks extended key usage {', '.join(missing)}"
        info = subject_info(cert)
        if signer.get("iin") and info.get("iin") != signer["iin"]:
            return f"the chosen key belongs to ЖСН {info.get('iin')}, not {signer['iin']}"
        if signer.get("bin") and info.get("bin") != signer["bin"]:
            return f"the chosen key belongs to БСН {info.get('bin')}, not {signer['bin']}"
        return None


SIGN_EKU = ExtendedKeyUsageOID.EMAIL_PROTECTION.dotted_string
"""The extended key usage of a SIGN key (1.3.6.1.5.5.7.3.4), as pages ask NCALayer for it."""
