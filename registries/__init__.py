"""The state registries the reglaments query, each behind the gateway under its serviceIds.

- ЖТ МДҚ (ГБД ФЛ), the State database of individuals: ``GBDFL_UniversalServiceSync``;
- БНАЖ (ЕНИС), the unified notarial system's powers of attorney: ``ENIS_PowerOfAttorneyCheck``.
"""
