// name: subtrees
// Every entity of $uids and everything derived from them (DERIVED_FROM reversed,
// transitively), each once: uid, kind, ensemble and validity. For the uid list of a dry run.
UNWIND $uids AS u
MATCH (x:Entity {uid: u})
MATCH (x)<-[:DERIVED_FROM]-*(d:Entity)
WITH DISTINCT d
RETURN d.uid AS uid, d.kind AS kind, d.ensemble AS ensemble, d.valid AS valid

// name: subtree_impact
// What invalidating $uid would mark, counted on the server: per (kind, ensemble) the
// entities of $uid's subtree (itself and everything derived from it) and how many of them
// are invalid already. No row when $uid is not an entity.
MATCH (:Entity {uid: $uid})<-[:DERIVED_FROM]-*(d:Entity)
WITH DISTINCT d
RETURN d.kind AS kind, d.ensemble AS ensemble, count(*) AS count,
       count(CASE WHEN d.valid = false THEN 1 END) AS already_invalid
ORDER BY kind, coalesce(ensemble, '')

// name: active_invalidations
// Invalidation events that still hold: action 'invalidate' with no later 'revalidate' event
// on the same root. Returns uid, root, reason, by, at.
MATCH (i:Invalidation {action: 'invalidate'})
WHERE NOT EXISTS {
  MATCH (r:Invalidation {action: 'revalidate', root: i.root}) WHERE r.at > i.at
}
RETURN i.uid AS uid, i.root AS root, i.reason AS reason, i.by AS by, i.at AS at
ORDER BY at

// name: invalidated_ancestors
// Which of $roots are $uid itself or something $uid derives from (the active invalidations
// that keep $uid invalid).
MATCH (x:Entity {uid: $uid})-[:DERIVED_FROM]->*(a:Entity)
WHERE a.uid IN $roots
RETURN DISTINCT a.uid AS uid

// name: record_invalidation
// Records one invalidation or revalidation event and returns it. Parameters: $uid, $action,
// $reason, $by, $root, $count; the time is the server's. The root entity is linked to the
// event by INVALIDATED_BY (only the root: the event covers the root's whole subtree, which
// is found by traversal when asked, so marking 265k descendants writes no 265k edges).
MATCH (x:Entity {uid: $root})
CREATE (i:Invalidation {uid: $uid, action: $action, reason: $reason, by: $by, at: datetime(),
                        root: $root, count: $count})
CREATE (x)-[:INVALIDATED_BY]->(i)
RETURN i {.*} AS event

// name: set_invalidation_count
// Updates how many entities the invalidation $uid marks (after it is re-applied). Returns it.
MATCH (i:Invalidation {uid: $uid})
SET i.count = $count
RETURN i {.*} AS event

// name: invalidation_root
// $uid if it is an entity (only entities can be invalidated); no row otherwise.
MATCH (x:Entity {uid: $uid})
RETURN x.uid AS uid

// name: mark_subtree_invalid
// Sets valid=false on $uid and everything derived from it, on the server, in transactions of
// $batch entities (auto-commit only). Each transaction takes the tally lock first, then marks
// only what is still valid (read under the lock, so concurrent invalidations never count an
// entity twice) and adds what it marked to Tally.invalid per (ensemble, kind) in the same
// transaction. Re-running after an interruption finishes the job and catches products
// recorded since. Returns total (entities in the subtree) and changed (newly marked).
MATCH (:Entity {uid: $uid})<-[:DERIVED_FROM]-*(d:Entity)
WITH collect(DISTINCT d) AS subtree
UNWIND range(0, size(subtree) - 1, $batch) AS start
CALL (subtree, start) {
  MERGE (l:Lock {name: 'tally'})
  SET l.tick = coalesce(l.tick, 0) + 1
  WITH subtree[start..start + $batch] AS part
  UNWIND part AS d
  WITH collect(CASE WHEN d.valid IS NULL OR d.valid <> false THEN d END) AS marked
  FOREACH (d IN marked | SET d.valid = false)
  WITH marked
  CALL (marked) {
    UNWIND marked AS d
    WITH coalesce(d.ensemble, '') AS ensemble, d.kind AS kind, count(*) AS n
    MERGE (t:Tally {ensemble: ensemble, kind: kind})
    SET t.invalid = coalesce(t.invalid, 0) + n
  }
  RETURN size(marked) AS changed
} IN TRANSACTIONS OF 1 ROW
RETURN size(subtree) AS total, sum(changed) AS changed

// name: mark_subtree_valid
// Revalidation: sets valid=true on $uid's subtree except on entities that are, or derive from,
// one of $others (roots of invalidations that still hold), in transactions of $batch entities
// (auto-commit only), with the tally lock and Tally.invalid kept as in mark_subtree_invalid.
// Returns total (the subtree), kept (invalid ones another invalidation covers) and restored.
MATCH (:Entity {uid: $uid})<-[:DERIVED_FROM]-*(d:Entity)
WITH collect(DISTINCT d) AS subtree
UNWIND range(0, size(subtree) - 1, $batch) AS start
CALL (subtree, start) {
  MERGE (l:Lock {name: 'tally'})
  SET l.tick = coalesce(l.tick, 0) + 1
  WITH subtree[start..start + $batch] AS part
  UNWIND part AS d
  WITH d WHERE d.valid = false
  WITH d, size($others) > 0 AND EXISTS { (d)-[:DERIVED_FROM]->*(a:Entity) WHERE a.uid IN $others } AS covered
  WITH collect(CASE WHEN NOT covered THEN d END) AS restored,
       count(CASE WHEN covered THEN 1 END) AS kept
  FOREACH (d IN restored | SET d.valid = true)
  WITH restored, kept
  CALL (restored) {
    UNWIND restored AS d
    WITH coalesce(d.ensemble, '') AS ensemble, d.kind AS kind, count(*) AS n
    MERGE (t:Tally {ensemble: ensemble, kind: kind})
    SET t.invalid = coalesce(t.invalid, 0) - n
  }
  RETURN kept, size(restored) AS restored
} IN TRANSACTIONS OF 1 ROW
RETURN size(subtree) AS total, sum(kept) AS kept, sum(restored) AS restored

// name: settle_subtree_invalid
// The last step of an invalidation, in one managed transaction: takes the DAG lock (which every
// write adding DERIVED_FROM edges holds from before it reads its inputs' validity to its
// commit), then the tally lock, and marks what of $uid's subtree is still valid: the products a
// record committed while the batched marking ran. A record that commits after this waits for the
// DAG lock and then sees $uid invalid, so its new products are created invalid. Returns changed,
// and keeps Tally.invalid as mark_subtree_invalid does.
MERGE (dag:Lock {name: 'dag'})
SET dag.tick = coalesce(dag.tick, 0) + 1
WITH dag
MERGE (l:Lock {name: 'tally'})
SET l.tick = coalesce(l.tick, 0) + 1
WITH l
MATCH (:Entity {uid: $uid})<-[:DERIVED_FROM]-*(d:Entity)
WITH DISTINCT d
WHERE d.valid IS NULL OR d.valid <> false
SET d.valid = false
WITH coalesce(d.ensemble, '') AS ensemble, d.kind AS kind, count(*) AS n
CALL (ensemble, kind, n) {
  MERGE (t:Tally {ensemble: ensemble, kind: kind})
  SET t.invalid = coalesce(t.invalid, 0) + n
}
RETURN sum(n) AS changed

// name: settle_subtree_valid
// The last step of a revalidation, like settle_subtree_invalid: under the DAG lock and the tally
// lock, restores what of $uid's subtree is still invalid and not covered by one of $others
// (roots of invalidations that still hold): products a record committed, invalid, while the
// batched restore ran. Returns restored.
MERGE (dag:Lock {name: 'dag'})
SET dag.tick = coalesce(dag.tick, 0) + 1
WITH dag
MERGE (l:Lock {name: 'tally'})
SET l.tick = coalesce(l.tick, 0) + 1
WITH l
MATCH (:Entity {uid: $uid})<-[:DERIVED_FROM]-*(d:Entity)
WITH DISTINCT d
WHERE d.valid = false
  AND NOT (size($others) > 0 AND EXISTS { (d)-[:DERIVED_FROM]->*(a:Entity) WHERE a.uid IN $others })
SET d.valid = true
WITH coalesce(d.ensemble, '') AS ensemble, d.kind AS kind, count(*) AS n
CALL (ensemble, kind, n) {
  MERGE (t:Tally {ensemble: ensemble, kind: kind})
  SET t.invalid = coalesce(t.invalid, 0) - n
}
RETURN sum(n) AS restored
