"""NCALayer over HTTP: the signing client on the citizen's own computer, for testers.

Not part of the certification authority. On a real computer, NCALayer is a local program the
portal page talks to (a WebSocket on the citizen's machine); it asks the person to choose a key
storage, type its password and confirm. This router stands in for that program, so a tester with
curl can sign what the portal hands over (``POST /api/services/<id>/document`` answers the
``ncalayer`` request to send here). It is served by the ``signatures`` system only because that is
where the code that signs lives and where a run's seeded key storages are known; it takes no part
in the CA's work and the CA's endpoints do not use it.

``POST /ncalayer`` takes NCALayer's own JSON message (``module``, ``method``, ``args``, as
:class:`signatures.ncalayer.NCALayer` implements them) and ``dialog``: what the person does in
NCALayer's window -- picks a key storage (``iin``: their seeded storage in the run's data dir,
``<data dir>/people/<ЖСН>/``; or ``pkcs12``: base64 of a key storage file they bring), types its
password (always required: signing with someone's key takes that key's password), or cancels.
The answer is NCALayer's: ``{"status": true, "body": {"result": [...]}}``, or ``{"status": false,
"code", "message"}`` with a 4xx status.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from signatures.client import renewed_key_storage
from signatures.identity import Identity
from signatures.ncalayer import NCALayer, person_key_storage
from signatures.schemas import NCALayerCall
from signatures.texts import INVALID_REQUEST
from simulation.access import TOKEN_HEADER, AccessDenied, credentials_of
from simulation.identifiers import IdentifierError, validate_iin

# NCALayer's refusals as HTTP statuses, so that `curl --fail` notices them.
_STATUS = {"WRONG_PASSWORD": 403, "MODULE_NOT_FOUND": 404, "USER_CANCELED": 409}


def _refusal(field: str, message: str, status: int = 422) -> JSONResponse:
    return JSONResponse(
        {"error": "invalid_request", "message": message, "message_kk": INVALID_REQUEST["kk"],
         "message_ru": INVALID_REQUEST["ru"], "fields": [{"field": field, "problem": message}]},
        status_code=status,
    )


def build_router(runtime) -> APIRouter:
    """``runtime``: the serving system's :class:`runtime.SystemRuntime`."""
    router = APIRouter(prefix="/ncalayer", tags=["NCALayer (the citizen's computer)"])

    async def seeded_storage(iin: str, usage: str, password: str) -> Path | JSONResponse:
        path = person_key_storage(runtime.settings.data_dir, iin, usage)
        if path is None:
            return _refusal("dialog.iin", f"this run holds no {usage.upper()} key storage of ЖСН {iin} "
                                          "(pass your own as dialog.pkcs12)", 404)
        try:
            identity = Identity.from_pkcs12(path.read_bytes(), password.encode())
        except ValueError:
            return path  # NCALayer itself answers WRONG_PASSWORD
        if identity.certificate.not_valid_after_utc <= await runtime.now():
            # The person renews an expired key storage at the CA before signing with it.
            path = await renewed_key_storage(runtime.http, runtime.url_of("signatures"), path, await runtime.now())
        return path

    @router.post(
        "",
        summary="NCALayer's JSON message (kz.gov.pki.knca.basics sign …) with the person's dialog choices",
        description=__doc__,
    )
    async def call(body: NCALayerCall, request: Request):
        layer = NCALayer(runtime.now)
        dialog = body.dialog
        if body.method == "sign" and dialog is None:
            return _refusal("dialog", "sign needs dialog: a key storage (iin or pkcs12) and its password")
        if dialog is not None:
            if (dialog.iin is None) == (dialog.pkcs12 is None):
                return _refusal("dialog", "choose one key storage: dialog.iin (seeded) or dialog.pkcs12 (base64)")
            if dialog.iin is not None:
                # A seeded person's storage is the run's (its password is the seeds' one): only the
                # tester standing in for that person may sign with it, as with the operator's log-in.
                role = credentials_of(request).role_of(request.headers.get(TOKEN_HEADER))
                if role != "admin":
                    raise AccessDenied(401 if role is None else 403, ("admin",))
                try:
                    iin = validate_iin(dialog.iin, "dialog.iin")
                except IdentifierError as exc:
                    return _refusal(exc.field, str(exc))
                storage = await seeded_storage(iin, dialog.usage, dialog.password)
                if isinstance(storage, JSONResponse):
                    return storage
                layer.choose(storage, dialog.password)
            else:
                try:
                    layer.choose(base64.b64decode(dialog.pkcs12 or "", validate=True), dialog.password)
                except (binascii.Error, ValueError):
                    return _refusal("dialog.pkcs12", "not base64 of a PKCS#12 file")
            if dialog.cancel:
                layer.cancel_next()
        answer = await layer.handle({"module": body.module, "method": body.method, "args": body.args})
        if answer.get("status"):
            return answer
        return JSONResponse(answer, status_code=_STATUS.get(str(answer.get("code")), 422))

    return router
