"""Values kept per knowledge or vocabulary object: worked out once per object, never served for
another object (a reload's), and bounded however many reloads there are."""

from __future__ import annotations

from decision.per_object import PerObject


class Owner:
    pass


def test_a_value_is_worked_out_once_per_object_and_not_served_for_another() -> None:
    built: list[Owner] = []
    per = PerObject(lambda owner: built.append(owner) or len(built))
    first, second = Owner(), Owner()
    assert per(first) == 1 and per(first) == 1
    assert per(second) == 2
    assert built == [first, second]


def test_the_store_stays_bounded_over_many_reloads() -> None:
    per: PerObject[Owner, int] = PerObject(lambda owner: 1, keep=3)
    owners = [Owner() for _ in range(50)]  # kept alive: ids stay distinct
    for owner in owners:
        per(owner)
    assert len(per._kept) <= 3


def test_an_object_whose_id_is_reused_is_worked_out_afresh() -> None:
    per: PerObject[object, str] = PerObject(lambda owner: repr(owner))
    first = Owner()
    per(first)
    first_id = id(first)
    del first
    replacement = next((o for o in (Owner() for _ in range(10_000)) if id(o) == first_id), None)
    if replacement is not None:  # CPython often reuses the freed id: the new object gets its own value
        assert per(replacement) == repr(replacement)
