"""The typed DP policy: grade floors, finite caps, δ tied to the public row bound, and exact units."""

from __future__ import annotations

import pytest

from market.errors import PolicyInvalid
from market.policy import DpPolicy, delta_units, epsilon_of, epsilon_units


def test_every_cap_is_a_number_once_a_grade_is_known_and_important_is_lower() -> None:
    general, important = DpPolicy().for_grade("general"), DpPolicy().for_grade("important")
    assert (general.global_epsilon_cap, general.enterprise_epsilon_cap) == (40.0, 10.0)
    assert (important.global_epsilon_cap, important.enterprise_epsilon_cap) == (12.0, 3.0)
    assert important.max_epsilon_per_query == 0.5 and important.min_group_size == 10
    assert DpPolicy().for_grade("core").global_epsilon_cap == 12.0  # never looser than important


def test_the_data_office_sets_the_global_cap_within_the_grades_ceiling() -> None:
    assert DpPolicy(global_epsilon_cap=60.0).for_grade("general").global_epsilon_cap == 60.0
    assert DpPolicy(global_epsilon_cap=60.0).for_grade("important").global_epsilon_cap == 20.0
    assert DpPolicy(global_epsilon_cap=2.0).for_grade("general").max_epsilon_per_query == 0.5  # ≤ enterprise cap


def test_resolving_a_policy_twice_changes_nothing() -> None:
    once = DpPolicy(max_epsilon_per_query=3.0, unknown_keys_delta=1e-8).for_grade("general")
    assert once.for_grade("general") == once


def test_contradicting_caps_are_refused_with_a_chinese_sentence() -> None:
    with pytest.raises(PolicyInvalid) as caught:
        DpPolicy(global_epsilon_cap=5.0, enterprise_epsilon_cap=6.0).check("general")
    assert caught.value.detail_zh
    with pytest.raises(PolicyInvalid):
        DpPolicy(delta_budget=1e-6, enterprise_delta_cap=1e-7).check("general")
    DpPolicy(delta_budget=1e-7, enterprise_delta_cap=2e-7, global_delta_cap=3e-7).check("general")


def test_delta_per_query_is_at_most_a_tenth_of_one_over_the_row_bound() -> None:
    policy = DpPolicy(unknown_keys_delta=5e-4)
    assert policy.delta_per_query("general", 4096) == 1 / 40960
    assert policy.delta_per_query("important", 4096) == 0.0
    assert DpPolicy().delta_per_query("general", 4096) == 0.0
    assert policy.global_delta(4096) == 1 / 4096 and policy.enterprise_delta(4096) == 1 / 4096 / 4
    assert policy.licence_delta("general", 4096) == 1 / 4096 / 4  # 10 queries' worth, cut to the enterprise's
    assert DpPolicy(unknown_keys_delta=1e-8).licence_delta("general", 4096) == pytest.approx(1e-7)


def test_the_default_epsilon_and_the_per_query_cap_are_compared_exactly() -> None:
    policy = DpPolicy(max_epsilon_per_query=0.3).for_grade("general")
    assert policy.epsilon_for(None) == 0.15 and policy.epsilon_for(0.2) == 0.2
    assert policy.allows_epsilon(0.1 + 0.2)  # 0.30000000000000004 is float noise on 0.3
    assert not policy.allows_epsilon(0.300001)


def test_units_are_exact_for_decimal_amounts_and_round_charges_up() -> None:
    assert epsilon_units(0.1 + 0.2) == 300_000 and epsilon_units(0.3000004) == 300_001
    assert epsilon_units(0.1) == 100_000 and sum([epsilon_units(0.1)] * 20) == epsilon_units(2.0)
    assert epsilon_of(sum([epsilon_units(0.1)] * 20)) == 2.0
    assert epsilon_units(0.4999999999999999) == 500_000  # a privacy map a hair under 0.5 costs 0.5
    assert epsilon_units(1e-7) == 1 and epsilon_units(1e-7, up=False) == 0
    assert delta_units(1e-7) == 10**11
