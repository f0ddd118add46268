"""The workstations' staff are people the certification authority seeds, with the same identity.

corporation_ws keeps its own staff file, provider_ws reads each provider's head from the reglament
definitions; the CA seeds key storages from its own people.yaml. If the two drift apart, the workstation would sign with a key storage whose
certificate names someone else (or enrol a second identity): each staff member must be a seeded
official, with the same name and organisation.
"""

from __future__ import annotations

from importlib.resources import files

import pytest
import yaml

from reglaments import get_reglament
from signatures.people import seeded_people

IDENTITY = ("iin", "surname", "name", "patronymic", "organisation", "bin")


def _staff(package: str) -> dict:
    return yaml.safe_load((files(package) / "staff.yaml").read_text(encoding="utf-8"))


def _as_official(staff: dict, role: str) -> dict:
    person = staff[role]
    return {**person, "organisation": staff["organisation"]["name"], "bin": staff["organisation"]["bin"]}


def _head_of(reglament_id: str) -> dict:
    provider = get_reglament(reglament_id).provider
    return {"head": provider.head.model_dump(), "organisation": provider.organisation.model_dump()}


@pytest.mark.parametrize(("package", "role", "certificate_role"), [
    ("corporation_ws", "operator", "employee"),  # corporation_ws/service.py enrols her as an employee
    ("almaty-queue", "head", "first_head"),  # provider_ws/service.py: Role.FIRST_HEAD, from the definition
])
def test_staff_member_is_a_seeded_official(package: str, role: str, certificate_role: str) -> None:
    staff = _staff(package) if package.endswith("_ws") else _head_of(package)
    member = _as_official(staff, role)
    officials = {p["iin"]: p for p in seeded_people()["officials"]}
    assert member["iin"] in officials, f"{package} {role} {member['iin']} is not in signatures/people.yaml"
    seeded = officials[member["iin"]]
    assert {k: seeded.get(k) for k in IDENTITY} == {k: member.get(k) for k in IDENTITY}
    assert certificate_role in seeded.get("roles", ["employee"])


def test_seeded_people_are_read_from_the_package() -> None:
    people = seeded_people()
    assert people["citizens"] and people["officials"]
    assert len({p["iin"] for p in people["citizens"] + people["officials"]}) == len(people["citizens"]) + len(people["officials"])
