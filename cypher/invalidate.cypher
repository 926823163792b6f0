// name: subtrees
// Every entity of $uids and everything derived from them (DERIVED_FROM reversed,
// transitively), each once: uid, kind, ensemble and validity. Used for the impact of an
// invalidation and for what a revalidation may restore.
UNWIND $uids AS u
MATCH (x:Entity {uid: u})
MATCH (x)<-[:DERIVED_FROM]-*(d:Entity)
WITH DISTINCT d
RETURN d.uid AS uid, d.kind AS kind, d.ensemble AS ensemble, d.valid AS valid

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
// $reason, $by, $root, $count; the time is the server's.
CREATE (i:Invalidation {uid: $uid, action: $action, reason: $reason, by: $by, at: datetime(),
                        root: $root, count: $count})
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
// Sets valid=false on $uid and everything derived from it and links each to the event
// $event by INVALIDATED_BY, on the server in transactions of $batch rows (auto-commit only).
// MERGE: re-running after an interruption, or to catch later products, adds nothing twice.
// Returns total (entities in the subtree) and changed (those that were not invalid yet).
MATCH (i:Invalidation {uid: $event})
MATCH (:Entity {uid: $uid})<-[:DERIVED_FROM]-*(d:Entity)
WITH DISTINCT i, d
CALL (i, d) {
  WITH i, d, d.valid AS was
  SET d.valid = false
  MERGE (d)-[:INVALIDATED_BY]->(i)
  RETURN CASE WHEN was = false THEN 0 ELSE 1 END AS changed
} IN TRANSACTIONS OF $batch ROWS
RETURN count(*) AS total, coalesce(sum(changed), 0) AS changed

// name: mark_valid
// One batch of a revalidation: $rows [{uid}] are set valid=true. Returns how many changed.
UNWIND $rows AS r
MATCH (n:Entity {uid: r.uid})
WITH n, n.valid AS was
SET n.valid = true
RETURN sum(CASE WHEN was = false THEN 1 ELSE 0 END) AS changed
