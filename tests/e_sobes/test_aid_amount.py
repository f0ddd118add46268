"""The housing-aid amount on families computed by hand (e_sobes/aid.py): costs within the norms
minus the limit share of the family's monthly income, Almaty's settings of the definition."""

from __future__ import annotations

import pytest

from e_sobes.aid import RuleSetError, compute, params_of
from reglaments import get_reglament

ALMATY = params_of(get_reglament("almaty-housing-aid").decision)


def bill(kind, amount, quantity=None, month="2026-10"):
    return {"kind": kind, "month": month, "amount": amount, "quantity": quantity}


def test_one_person_living_alone():
    # 40 m² against 30 m² for one living alone: maintenance 8000 × 30/40 = 6000; heating norm
    # 0.025 × 30 = 0.75 Gcal of 1.0 billed: 6000 × 0.75 = 4500; hot water 2 of 3 m³: 1000; cold
    # water 4 of 5 m³: 400; gas 10 m³ within 15: 300. Within the norms 12 200; 10 % of 80 000 is
    # 8000: the aid is 4200 a month.
    costs = [bill("maintenance", 8000), bill("heating", 6000, 1.0), bill("hot-water", 1500, 3.0),
             bill("cold-water", 500, 5.0), bill("gas", 300, 10.0)]
    result = compute(ALMATY, 1, 40.0, costs, 80000.0)
    assert [line["allowed"] for line in result.costs] == [6000.0, 4500.0, 1000.0, 400.0, 300.0]
    assert (result.costs_within_norms, result.limit, result.amount) == (12200.0, 8000.0, 4200.0)


def test_a_family_of_four():
    # 60 m² within 4 × 18 = 72 m²: maintenance whole, 12 000; heating 1.2 Gcal within 0.025 × 60 =
    # 1.5: 7200; hot water 10 m³ against 4 × 2 = 8: 5000 × 0.8 = 4000; cold water 14 within 16:
    # 1400; gas 50 within 60: 1500. Within the norms 26 100; 10 % of 190 000 is 19 000: 7100.
    costs = [bill("maintenance", 12000), bill("heating", 7200, 1.2), bill("hot-water", 5000, 10.0),
             bill("cold-water", 1400, 14.0), bill("gas", 1500, 50.0)]
    result = compute(ALMATY, 4, 60.0, costs, 190000.0)
    assert [line["allowed"] for line in result.costs] == [12000.0, 7200.0, 4000.0, 1400.0, 1500.0]
    assert (result.costs_within_norms, result.limit, result.amount) == (26100.0, 19000.0, 7100.0)


def test_a_family_whose_income_leaves_no_aid():
    # Two on 50 m² against 2 × 18 = 36: maintenance 10 000 × 36/50 = 7200;
    # heating 0.025 × 36 = 0.9 of 1.0 Gcal: 5400; hot water 4 within 4: 2000; cold water 8 within 8:
    # 800; gas 30 within 30: 1000. Within the norms 16 400; 10 % of 600 000 is 60 000: nil.
    costs = [bill("maintenance", 10000), bill("heating", 6000, 1.0), bill("hot-water", 2000, 4.0),
             bill("cold-water", 800, 8.0), bill("gas", 1000, 30.0)]
    result = compute(ALMATY, 2, 50.0, costs, 600000.0)
    assert (result.costs_within_norms, result.limit, result.amount) == (16400.0, 60000.0, 0.0)


def test_bills_of_several_months_count_a_month_on_average():
    costs = [bill("maintenance", 6000, month="2026-09"), bill("maintenance", 8000, month="2026-10")]
    result = compute(ALMATY, 2, 30.0, costs, 0.0)
    assert result.costs_within_norms == 7000.0 and result.months == ["2026-09", "2026-10"]


def test_a_decision_block_the_rule_set_cannot_use_is_refused_naming_the_field():
    with pytest.raises(RuleSetError, match="decision.limit_share"):
        params_of({"rules": "housing-aid", "settlement_region": "750000000", "limit_share": 2,
                   "norms": ALMATY.norms.model_dump()})
    with pytest.raises(RuleSetError, match="housing-aid"):
        params_of({"rules": "housing-need"})
