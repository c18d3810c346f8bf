"""core.prepared: statements prepared once per database session, robust to a forgotten registry and
to reconnects; JoinedRow applies the fields' converters."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.authentication import token_with_membership
from accounts.models import ApiToken, Organization
from accounts.services import token_issue
from core import prepared
from core.prepared import JoinedRow, PreparedQuery

pytestmark = pytest.mark.django_db


def _names():
    with connection.cursor() as cur:
        cur.execute("SELECT name FROM pg_prepared_statements")
        return {name for (name,) in cur.fetchall()}


def test_prepared_once_per_session_and_survives_a_forgotten_registry():
    q = PreparedQuery("SELECT %s::bigint + %s", ["bigint", "bigint"])
    with connection.cursor() as cur:
        q.execute(cur, [40, 2])
        assert cur.fetchone() == (42,)
        assert q.name in _names()
        prepared._prepared.clear()  # e.g. evicted while the session lives on
        q.execute(cur, [1, 1])
        assert cur.fetchone() == (2,)


@pytest.mark.django_db(transaction=True)
def test_a_new_session_prepares_again():
    q = PreparedQuery("SELECT %s::text || 'x'", ["text"])
    with connection.cursor() as cur:
        q.execute(cur, ["a"])
        assert cur.fetchone() == ("ax",)
    connection.close()
    with connection.cursor() as cur:
        q.execute(cur, ["b"])
        assert cur.fetchone() == ("bx",)


def test_placeholders_must_match_types():
    with pytest.raises(ValueError):
        PreparedQuery("SELECT %s, %s", ["bigint"])
    with pytest.raises(ValueError):
        PreparedQuery("SELECT 5 % 2, %s", ["bigint"])


def test_joined_row_builds_instances(make_org):
    org = make_org("enterprise", "350121")
    row = JoinedRow((Organization, "o"))
    with connection.cursor() as cur:
        cur.execute(f"SELECT {row.columns}, 7 FROM accounts_organization o WHERE o.id = %s", [org.id])
        (loaded,), extra = row.load(cur.fetchone())
    assert loaded.pk == org.pk and loaded.name_zh == org.name_zh and loaded.region_id == org.region_id and extra == (7,)


def test_instance_from_db_matches_from_db_and_saves(make_org):
    org = make_org("enterprise", "350102")
    fields = list(Organization._meta.concrete_fields)
    values = [getattr(org, f.attname) for f in fields]
    fast = prepared.instance_from_db(Organization, [f.attname for f in fields], values)
    slow = Organization.from_db("default", None, values)
    assert {k: v for k, v in fast.__dict__.items() if k != "_state"} == \
           {k: v for k, v in slow.__dict__.items() if k != "_state"}
    assert (fast._state.adding, fast._state.db) == (False, "default") == (slow._state.adding, slow._state.db)
    assert fast.pk == org.pk and fast == org
    fast.name_en = "renamed"
    fast.save(update_fields=["name_en"])  # an UPDATE of the existing row, not an INSERT
    assert Organization.objects.get(pk=org.pk).name_en == "renamed"


def test_token_lookup_reads_what_select_related_reads(make_org, make_member):
    membership = make_member(make_org("enterprise", "350103"))
    secret, _ = token_issue(membership=membership)
    fast = token_with_membership(secret)
    slow = ApiToken.objects.select_related("membership__user", "membership__organization").get(
        key_hash=ApiToken.hash_secret(secret))

    def fields(obj):
        return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}

    assert fields(fast) == fields(slow)
    assert fields(fast.membership) == fields(slow.membership)
    assert fields(fast.membership.user) == fields(slow.membership.user)
    assert fields(fast.membership.organization) == fields(slow.membership.organization)
    with CaptureQueriesContext(connection) as queries:  # the relations came with the token
        _ = fast.membership.user.is_active, fast.membership.organization.kind
    assert len(queries) == 0
    assert token_with_membership(secret + "x") is None


def test_bulk_insert_writes_what_bulk_create_writes(make_org):
    """`BulkInsert`: one prepared statement for any number of rows; ids set on the instances in order,
    JSON (None, lists, objects with non-ASCII text) and NULLs as `bulk_create` writes them, the
    `auto_now_add` time set; the same statement again for another row count; nothing for none."""
    from accounts.models import AuditEvent
    from core.prepared import BulkInsert

    org = make_org("enterprise", "350102")
    bulk = BulkInsert(AuditEvent)
    rows = [AuditEvent(actor_user_id=None, actor_organization_id=org.id, action="x.one", object_type="t",
                       object_id="1", before=None, after={"名": "福州", "n": [1, 2]}, region_codes=["350102"]),
            AuditEvent(actor_organization_id=None, action="x.two", object_type="t", object_id="2",
                       before={"a": None}, after=None, request_id="r-2")]
    bulk.insert(rows)
    assert rows[0].id < rows[1].id and not rows[0]._state.adding
    first, second = AuditEvent.objects.filter(pk__in=[r.id for r in rows]).order_by("id")
    assert (first.action, first.after, first.before, first.region_codes) == ("x.one", {"名": "福州", "n": [1, 2]},
                                                                             None, ["350102"])
    assert (second.action, second.before, second.after, second.request_id, second.region_codes) == (
        "x.two", {"a": None}, None, "r-2", [])
    assert first.occurred_at == rows[0].occurred_at is not None
    with CaptureQueriesContext(connection) as q:
        more = [AuditEvent(action=f"x.{i}", object_type="t", object_id=str(i)) for i in range(5)]
        bulk.insert(more)
        bulk.insert([])
    assert len([s for s in q.captured_queries if "EXECUTE" in s["sql"]]) == 1
    assert [r.id for r in more] == sorted(r.id for r in more)
    assert list(AuditEvent.objects.filter(pk__in=[r.id for r in more]).order_by("id")
                .values_list("action", flat=True)) == [f"x.{i}" for i in range(5)]


def test_bulk_insert_refuses_a_value_too_long_for_its_column_as_bulk_create_does():
    """The arrays are cast without length modifiers, so an over-long string reaches the column and is
    refused (a cast to varchar(n) would have cut it silently)."""
    from django.db import DataError, transaction

    from accounts.models import AuditEvent
    from core.prepared import BulkInsert

    width = AuditEvent._meta.get_field("action").max_length
    with pytest.raises(DataError), transaction.atomic():
        BulkInsert(AuditEvent).insert([AuditEvent(action="x" * (width + 1), object_type="t", object_id="1")])
    assert not AuditEvent.objects.filter(action__startswith="x" * width).exists()
