"""The workstations' staff are people the certification authority seeds, with the same identity.

corporation_ws and provider_ws each keep their own staff file; the CA seeds key storages from its
own people.yaml. If the two drift apart, the workstation would sign with a key storage whose
certificate names someone else (or enrol a second identity): each staff member must be a seeded
official, with the same name and organisation.
"""

from __future__ import annotations

from importlib.resources import files

import pytest
import yaml

from signatures.people import seeded_people

IDENTITY = ("iin", "surname", "name", "patronymic", "organisation", "bin")


def _staff(package: str) -> dict:
    return yaml.safe_load((files(package) / "staff.yaml").read_text(encoding="utf-8"))


def _as_official(staff: dict, role: str) -> dict:
    person = staff[role]
    return {**person, "organisation": staff["organisation"]["name"], "bin": staff["organisation"]["bin"]}


@pytest.mark.parametrize(("package", "role", "certificate_role"), [
    ("corporation_ws", "operator", "employee"),  # corporation_ws/service.py enrols her as an employee
    ("provider_ws", "head", "first_head"),  # provider_ws/service.py: Role.FIRST_HEAD
])
def test_staff_member_is_a_seeded_official(package: str, role: str, certificate_role: str) -> None:
    member = _as_official(_staff(package), role)
    officials = {p["iin"]: p for p in seeded_people()["officials"]}
    assert member["iin"] in officials, f"{package}/staff.yaml {role} {member['iin']} is not in signatures/people.yaml"
    seeded = officials[member["iin"]]
    assert {k: seeded.get(k) for k in IDENTITY} == {k: member.get(k) for k in IDENTITY}
    assert certificate_role in seeded.get("roles", ["employee"])


def test_seeded_people_are_read_from_the_package() -> None:
    people = seeded_people()
    assert people["citizens"] and people["officials"]
    assert len({p["iin"] for p in people["citizens"] + people["officials"]}) == len(people["citizens"]) + len(people["officials"])
