"""Inclusion and consistency proofs served by the ledger, checked by a verifier written from RFC 9162
alone (§2.1.3.2 and §2.1.4.2; tests/support/rfc9162.py), against roots computed independently (§2.1.1)
from leaf hashes this file computes itself from the documented canonical serialization — for every tree size 1..40
(one seal per transaction) and for seals that append several leaves at once."""
import json
import time
from datetime import UTC

import pytest

from accounts.actor import Actor
from ledger import services
from ledger.models import Checkpoint, LedgerTransaction, MerkleLeaf
from ledger.sealing import consistency_proof, inclusion_proof, seal

from tests.support.rfc9162 import mth, rfc_leaf, sha256, verify_consistency, verify_inclusion

pytestmark = pytest.mark.django_db(transaction=True)


def canonical_v1(txn: LedgerTransaction) -> bytes:
    """The canonical serialization as ledger.canonical documents it (version 1), built from the ORM."""
    doc = {
        "v": 1, "id": txn.id, "kind": txn.kind, "key": txn.idempotency_key,
        "created_at": txn.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "ref": [txn.reference_type, txn.reference_id], "actor": [txn.actor_user_id, txn.actor_organization_id],
        "memo": txn.memo,
        "postings": [[p.id, p.account_id, p.asset_id, p.bucket, p.amount] for p in txn.postings.order_by("id")],
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


# --- the verifier itself must reject what it should ---------------------------------------------------

def test_verifier_rejects_bad_proofs():
    leaves = [rfc_leaf(bytes([i])) for i in range(7)]
    root = mth(leaves)
    # leaf 5 of 7: sibling 4, then the (6) subtree, then MTH(0..4)
    path = [leaves[4], leaves[6], mth(leaves[:4])]
    assert verify_inclusion(5, 7, leaves[5], path, root)
    assert not verify_inclusion(5, 7, leaves[4], path, root)
    assert not verify_inclusion(4, 7, leaves[5], path, root)
    assert not verify_inclusion(5, 7, leaves[5], path[:-1], root)
    assert not verify_inclusion(5, 7, leaves[5], path + [root], root)
    # consistency 3 → 7 (RFC 6962 §2.1.3 example shape): [c, d, g, h] analogue
    proof = [leaves[2], leaves[3], mth(leaves[:2]), mth(leaves[4:7])]
    assert verify_consistency(3, 7, mth(leaves[:3]), root, proof)
    assert not verify_consistency(3, 7, mth(leaves[:2]), root, proof)
    assert not verify_consistency(3, 7, mth(leaves[:3]), mth(leaves[:6]), proof)
    assert not verify_consistency(3, 7, mth(leaves[:3]), root, proof[:-1])


# --- the ledger's proofs -----------------------------------------------------------------------------

def seal_all(expected: int, timeout: float = 60) -> list:
    """seal() until `expected` more transactions are sealed: another session's open writing transaction
    in this database (a worker of the same run) would hold the horizon back for a moment."""
    deadline, sealed, checkpoints = time.monotonic() + timeout, 0, []
    while sealed < expected:
        result = seal()
        sealed += result.sealed
        if result.checkpoint is not None and result.checkpoint.tree_size:  # not the empty log's head
            checkpoints.append(result.checkpoint)
        if sealed < expected:
            assert time.monotonic() < deadline, "the sealing horizon did not move"
            time.sleep(0.02)
    assert sealed == expected
    return checkpoints

@pytest.fixture
def grown_log(make_org):
    """Checkpoints at every size 1..40 (one transaction per seal), then seals of 3, 7 and 17 leaves."""
    actor = Actor.system()
    county = make_org("county_government", "350121")
    ent = make_org("enterprise", "350121")
    asset = services.asset_create(actor=actor, code="EM-NH3N-2026-350121", right_type_id="emission",
                                  subtype="NH3-N", unit="t", scale=3, vintage=2026, origin_region_id="350121",
                                  issuer=county)
    n = 0

    def grow(count):
        nonlocal n
        for _ in range(count):
            n += 1
            services.rights_issue(actor=actor, issuer=county, asset=asset, recipient=ent, amount=n,
                                  idempotency_key=f"k{n}", evidence={"batch": n})
        return seal_all(count)

    for size in range(1, 41):
        assert [cp.tree_size for cp in grow(1)] == [size]
    for batch in (3, 7, 17):
        grow(batch)
    return n


def test_leaves_follow_the_documented_canonical_bytes_and_roots_follow_rfc9162(grown_log):
    leaves = []
    for leaf in MerkleLeaf.objects.order_by("index"):
        txn = LedgerTransaction.objects.prefetch_related("postings").get(pk=leaf.transaction_id)
        assert bytes(leaf.leaf_hash) == rfc_leaf(canonical_v1(txn)), leaf.index
        leaves.append(bytes(leaf.leaf_hash))
    sizes = list(Checkpoint.objects.filter(tree_size__gt=0).order_by("tree_size").values_list("tree_size",
                                                                                             "root_hash"))
    # one seal per size up to 40; the batch seals end at 43, 50 and 67 (possibly with a stop in between
    # when another session held the horizon back)
    assert [s for s, _ in sizes][:40] == list(range(1, 41)) and {43, 50, 67} <= {s for s, _ in sizes}
    for size, root in sizes:
        assert bytes(root) == mth(leaves[:size]), size


def test_every_inclusion_proof_verifies(grown_log):
    leaves = [bytes(h) for h in MerkleLeaf.objects.order_by("index").values_list("leaf_hash", flat=True)]
    checked = 0
    for size, root in Checkpoint.objects.order_by("tree_size").values_list("tree_size", "root_hash"):
        root = bytes(root)
        for index in range(size):
            path = inclusion_proof(index, size)
            assert verify_inclusion(index, size, leaves[index], path, root), (index, size)
            # and the same path proves nothing about another leaf
            if size > 1:
                assert not verify_inclusion(index, size, leaves[(index + 1) % size], path, root)
            checked += 1
    assert checked >= sum(range(1, 41)) + 43 + 50 + 67


def test_every_consistency_proof_verifies(grown_log):
    heads = [(s, bytes(r)) for s, r in Checkpoint.objects.filter(tree_size__gt=0).order_by("tree_size")
             .values_list("tree_size", "root_hash")]
    for i, (first, first_root) in enumerate(heads):
        for second, second_root in heads[i:]:
            proof = consistency_proof(first, second)
            assert verify_consistency(first, second, first_root, second_root, proof), (first, second)
            if first < second:
                # a forged earlier root is not consistent with the later one
                assert not verify_consistency(first, second, sha256(first_root), second_root, proof)


def test_proof_arguments_are_checked(grown_log):
    with pytest.raises(ValueError):
        inclusion_proof(67, 67)
    with pytest.raises(ValueError):
        consistency_proof(0, 5)
    with pytest.raises(ValueError):
        consistency_proof(6, 5)


# --- the sealing horizon -----------------------------------------------------------------------------

def _other_connection(dbname: str | None = None):
    import psycopg2
    from django.db import connection

    params = connection.get_connection_params()
    if dbname:
        params["dbname"] = dbname
    conn = psycopg2.connect(**params)
    conn.autocommit = False
    return conn


def test_horizon_waits_for_writers_of_this_database_only(make_org):
    """A transaction of this database that already has an xid holds sealing back until it ends, and what
    it writes meanwhile is sealed in xid order; a transaction in another database does not hold it back."""
    from ledger.verify import verify_ledger

    actor = Actor.system()
    county = make_org("county_government", "350121")
    ent = make_org("enterprise", "350121")
    asset = services.asset_create(actor=actor, code="EM-SO2-2026-350121", right_type_id="emission", subtype="SO2",
                                  unit="t", scale=3, vintage=2026, origin_region_id="350121", issuer=county)
    services.rights_issue(actor=actor, issuer=county, asset=asset, recipient=ent, amount=10, idempotency_key="a")
    seal_all(1)

    elsewhere = _other_connection("postgres")
    slow = _other_connection()
    try:
        with elsewhere.cursor() as cur:
            cur.execute("SELECT pg_current_xact_id()")  # an xid, held open, in another database
        with slow.cursor() as cur:
            cur.execute("SELECT pg_current_xact_id()::text::bigint")  # an older xid in this database
            slow_xid = cur.fetchone()[0]
        later = services.rights_issue(actor=actor, issuer=county, asset=asset, recipient=ent, amount=20,
                                      idempotency_key="b").transaction_id
        assert seal().sealed == 0  # `slow` might still write below `later`'s xid
        with slow.cursor() as cur:  # ... and it does: a (balanced) ledger transaction with its old xid
            cur.execute("""WITH t AS (INSERT INTO ledger_ledgertransaction (kind, idempotency_key, request,
                                         reference_type, reference_id, memo, hash_version)
                                      VALUES ('test', 'slow', '{}', '', '', '{}', 1) RETURNING id, xid)
                           INSERT INTO ledger_posting (transaction_id, account_id, asset_id, bucket, amount)
                           SELECT t.id, a.id, a.asset_id, 'A', CASE a.kind WHEN 'issuance' THEN -5 ELSE 5 END
                             FROM t, ledger_account a WHERE a.asset_id = %s
                              AND a.kind IN ('issuance', 'participant') RETURNING transaction_id""", [asset.id])
            slow_txn = cur.fetchone()[0]
        slow.commit()
        checkpoints = seal_all(2)
        order = list(MerkleLeaf.objects.order_by("index").values_list("transaction_id", flat=True))
        assert order[-2:] == [slow_txn, later]  # xid order: the slow writer's transaction comes first
        assert LedgerTransaction.objects.get(pk=slow_txn).xid == slow_xid
        assert checkpoints[-1].xid_horizon > slow_xid
        report = verify_ledger()
        assert report.ok, report.fault
    finally:
        elsewhere.rollback()
        elsewhere.close()
        slow.close()
