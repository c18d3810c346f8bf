"""`Sql` fragments (named, typed placeholders; composition merges types) and `PreparedJoin` (the
declarative prepared join that replaced the hand-rolled token, market-lock, book and trade-lock classes)."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Organization
from core.prepared import PreparedJoin, PreparedQuery, Sql
from trading.models import SettlementOutbox, Trade


def test_a_fragment_knows_its_parameters_and_composition_merges_them():
    inner = Sql("x AS (SELECT %(a)s::bigint AS v, %(b)s::text AS w)", a="bigint", b="text")
    outer = Sql(f"WITH {inner} SELECT v + %(a)s, w || %(c)s FROM x", inner, c="text")
    assert outer.types == {"a": "bigint", "b": "text", "c": "text"}
    assert outer.names() == ["a", "b", "c"]  # in order of first appearance, each once
    assert str(outer) == outer.text and str(inner) in outer.text


@pytest.mark.parametrize("build", [
    lambda: Sql("SELECT %(a)s, %(b)s", a="bigint"),  # a placeholder without a type
    lambda: Sql("SELECT %(a)s", a="bigint", b="text"),  # a type without a placeholder
    lambda: Sql("SELECT %(a)s", Sql("%(a)s", a="text"), a="bigint"),  # one name, two types
    lambda: Sql("SELECT 5 % 2, %(a)s", a="bigint"),  # a stray %
])
def test_a_fragment_refuses_what_would_bind_wrongly(build):
    with pytest.raises(ValueError):
        build()


@pytest.mark.django_db
def test_a_named_statement_is_prepared_with_one_parameter_per_name():
    query = PreparedQuery(Sql("SELECT %(a)s + %(a)s * %(b)s", a="bigint", b="bigint"))
    assert query.body == "SELECT $1 + $1 * $2" and query.types == ["bigint", "bigint"]
    with connection.cursor() as cur:
        query.execute(cur, {"b": 10, "a": 2})
        assert cur.fetchone() == (22,)
        Sql("SELECT %(a)s::bigint - %(b)s", a="bigint", b="bigint").run(cur, {"a": 5, "b": 7})
        assert cur.fetchone() == (-2,)


@pytest.mark.django_db
def test_prepared_join_loads_instances_links_them_and_names_the_extras(make_org):
    def statement(columns):
        return Sql(f"""SELECT {columns}, 41 + %(trade)s - %(trade)s + 1
                         FROM {Trade._meta.db_table} t JOIN {Organization._meta.db_table} b ON b.id = t.buyer_id
                         LEFT JOIN {SettlementOutbox._meta.db_table} o ON o.trade_id = t.id AND FALSE
                        WHERE t.id = %(trade)s""", trade="bigint")

    join = PreparedJoin(("t", Trade), ("b", Organization), ("o", SettlementOutbox), statement=statement,
                        links=(("t", "buyer", "b"), ("o", "trade", "t")), extras=("answer",))
    buyer, seller = make_org("enterprise", "350102"), make_org("enterprise", "350203")
    trade = Trade.objects.create(asset_id=1, buyer=buyer, seller=seller, price=1, quantity=1, value=1,
                                 buyer_hold=1, seller_hold=1)
    loaded = join.one(trade=trade.id)
    read, organization, outbox = loaded
    assert (read.pk, organization.pk, outbox, loaded.extra) == (trade.pk, buyer.pk, None, {"answer": 42})
    with CaptureQueriesContext(connection) as queries:
        assert read.buyer is organization  # linked: no query
        with pytest.raises(SettlementOutbox.DoesNotExist):  # the absent outer-joined row, cached as absent
            _ = read.outbox
    assert len(queries) == 0
    assert join.one(trade=trade.id + 1000) is None and join.all(trade=trade.id + 1000) == []
