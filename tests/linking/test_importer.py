"""Contract files: smartcards may move between contracts of one file; keys held elsewhere are reported
by line; an unreadable file is one clear problem, and nothing is written."""

from __future__ import annotations

import pytest

HEADER = "number,holder_name,phone,smartcards\n"


def keys_of(app, number):
    import sqlalchemy as sa

    from idp.extensions import db
    from idp.linking.models import Contract, ContractKey

    with app.app_context():
        return db.session.scalars(sa.select(ContractKey.value).join(Contract).where(Contract.number == number)).all()


def test_two_contracts_may_swap_their_smartcards_in_one_file(app):
    from idp.linking.importer import import_csv

    with app.app_context():
        import_csv(HEADER + "QN0001,An,0912000001,SC111111\nQN0002,Binh,0912000002,SC222222\n")
        assert import_csv(HEADER + "QN0001,An,0912000001,SC222222\nQN0002,Binh,0912000002,SC111111\n") == {
            "created": 0, "updated": 2}
    assert keys_of(app, "QN0001") == ["SC222222"] and keys_of(app, "QN0002") == ["SC111111"]


def test_a_smartcard_may_move_to_a_contract_listed_earlier(app):
    from idp.linking.importer import import_csv

    with app.app_context():
        import_csv(HEADER + "QN0001,An,0912000001,SC111111\n")
        import_csv(HEADER + "QN0002,Binh,0912000002,SC111111\nQN0001,An,0912000001,\n")
    assert keys_of(app, "QN0002") == ["SC111111"] and keys_of(app, "QN0001") == []


def test_a_smartcard_held_by_a_contract_outside_the_file_is_reported_by_line(app):
    from idp.linking.importer import ImportRejected, import_csv

    with app.app_context():
        import_csv(HEADER + "QN0001,An,0912000001,SC111111\n")
        with pytest.raises(ImportRejected) as rejected:
            import_csv(HEADER + "QN0003,Cuc,0912000003,SC333333\nQN0002,Binh,0912000002,SC111111\n")
    assert rejected.value.problems == [(3, "smartcard SC111111 belongs to contract QN0001")]
    assert keys_of(app, "QN0003") == []  # nothing written


def test_a_field_past_the_csv_modules_limit_is_one_clear_problem(app):
    from idp.linking.importer import ImportRejected, parse_csv

    with pytest.raises(ImportRejected) as rejected:
        parse_csv(HEADER + "QN0004," + "A" * 140_000 + ",0912000004,\n")
    assert rejected.value.problems[0][1].startswith("not a readable CSV file")
