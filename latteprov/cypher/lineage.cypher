// name: resolve_id
// The uid of the node whose uid or name is each id of $ids (entities, runs and files), as rows
// (id, uid, name, kind); two rows for one id mean its name is ambiguous, none that nothing has
// it. At most 5 rows per id.
UNWIND $ids AS id
CALL (id) {
  CALL (id) {
    MATCH (n:Entity) WHERE n.uid = id OR n.name = id RETURN n.uid AS uid, n.name AS name, n.kind AS kind
    UNION
    MATCH (n:Run) WHERE n.uid = id OR n.name = id RETURN n.uid AS uid, n.name AS name, 'Run' AS kind
    UNION
    MATCH (n:DataFile) WHERE n.uid = id OR n.path = id RETURN n.uid AS uid, n.name AS name, 'DataFile' AS kind
  }
  RETURN uid, name, kind
  LIMIT 5
}
RETURN id, uid, name, kind

// name: lineage
// Everything each uid of $uids was derived from (transitively), as one row (none when no uid
// names an entity): ``answers``, one per such uid, {root, members: [the root's uid, then its
// ancestors' uids], runs: [uids of the runs that generated them, each once]}; and ``nodes``,
// every node of any answer once, as {props, labels, extra, inputs: [[input uid, role]], runs:
// [uids of its runs]}. Lineages asked together share most ancestors (ensembles, actions,
// configurations, propagators): each is sent once. Ancestors are collected DISTINCT
// (endpoints, not paths), so diamonds cost nothing extra. Property maps rather than nodes and
// timestamps sent as text keep the answer cheap to decode: the Python driver spends ~50 us
// building each DateTime, more than the rest of a node. A timestamp in UTC becomes exactly the
// text of the driver's DateTime.iso_format(); a key absent from a node comes back null. With
// $fields (property names; null: all) props are only uid, name, kind, state, valid and
// exit_state, and extra holds the values of $fields in their order (the lean listing). Depth
// and kind filters are applied by the caller. One uid or thousands: the same query.
UNWIND $uids AS uid
MATCH (root:Entity {uid: uid})
CALL (root) {
  MATCH (root)-[:DERIVED_FROM]->+(a:Entity)
  RETURN collect(DISTINCT a) AS ancestors
}
WITH root, [root] + ancestors AS members
CALL (members) {
  UNWIND members AS n
  MATCH (n)-[:GENERATED_BY]->(run:Run)
  RETURN collect(DISTINCT run) AS runs
}
WITH collect({root: root.uid, members: [m IN members | m.uid], runs: [r IN runs | r.uid]}) AS answers,
     collect(members + runs) AS groups
CALL (groups) {
  UNWIND groups AS nodes
  UNWIND nodes AS x
  RETURN collect(DISTINCT x) AS distinct
}
UNWIND distinct AS x
WITH answers, x, CASE WHEN $fields IS NULL THEN [v IN [x.created_at, x.started_at, x.ended_at] |
  CASE WHEN valueType(v) STARTS WITH 'ZONED DATETIME' AND v.offsetSeconds = 0 AND 1000 <= v.year <= 9999
       THEN toString(date(v)) + 'T' + right('0' + v.hour, 2) + ':' + right('0' + v.minute, 2) + ':'
            + right('0' + v.second, 2) + '.' + right('00000000' + v.nanosecond, 9) + '+00:00'
       ELSE v END] END AS t
RETURN answers,
       collect({props: CASE WHEN $fields IS NULL THEN x {.*, created_at: t[0], started_at: t[1], ended_at: t[2]}
                            ELSE x {.uid, .name, .kind, .state, .valid, .exit_state} END,
                labels: labels(x), extra: [k IN coalesce($fields, []) | x[k]],
                inputs: COLLECT { MATCH (x)-[r:DERIVED_FROM]->(m:Entity) RETURN [m.uid, r.role] },
                runs: COLLECT { MATCH (x)-[:GENERATED_BY]->(run:Run) RETURN run.uid }}) AS nodes

// name: downstream
// Everything derived from each uid of $uids (transitively), one row per uid that names an
// entity (none for the others): the root's uid; the descendants within $depth hops (null: any)
// having a label in $kinds (lower case; null: any) counted by kind (root excluded) as [kind,
// count] pairs; whether the answer is cut (more than $limit nodes and not $all); and the nodes
// shown, root first, then nearest first (the $limit nearest when cut), each as {props, labels,
// extra, inputs: [[input uid, role]]}, timestamps as text and $fields as in ``lineage``. Hop
// distances (ANY SHORTEST, ~3x the cost of the DISTINCT endpoints) are computed only when a
// depth is given or the answer may be cut, and only the shown nodes' properties travel.
UNWIND $uids AS uid
MATCH (root:Entity {uid: uid})
CALL (root) {
  CALL (root) {
    MATCH (root)<-[:DERIVED_FROM]-+(d:Entity)
    RETURN collect(DISTINCT d) AS descendants
  }
  WITH root, descendants, $depth IS NOT NULL OR (NOT $all AND size(descendants) >= $limit) AS ranked
  CALL (root, descendants, ranked) {
    RETURN root AS node, 0 AS hops
    UNION ALL
    WITH root WHERE ranked
    MATCH p = ANY SHORTEST (root)<-[:DERIVED_FROM]-+(d:Entity)
    RETURN d AS node, length(p) AS hops
    UNION ALL
    UNWIND CASE WHEN ranked THEN [] ELSE descendants END AS node
    RETURN node, null AS hops
  }
  WITH root, node, hops
  WHERE node = root OR (($depth IS NULL OR hops <= $depth)
                        AND ($kinds IS NULL OR any(label IN labels(node) WHERE toLower(label) IN $kinds)))
  WITH root, node ORDER BY hops, node.kind, node.uid
  WITH root, collect(node) AS kept
  WITH root, kept, NOT $all AND size(kept) > $limit AS truncated
  WITH truncated,
       COLLECT { UNWIND kept AS n WITH n WHERE n <> root WITH n.kind AS kind, count(*) AS count
                 RETURN [kind, count] } AS summary,
       CASE WHEN truncated THEN kept[..$limit] ELSE kept END AS shown
  UNWIND shown AS x
  WITH truncated, summary, x, CASE WHEN $fields IS NULL THEN [v IN [x.created_at] |
    CASE WHEN valueType(v) STARTS WITH 'ZONED DATETIME' AND v.offsetSeconds = 0 AND 1000 <= v.year <= 9999
         THEN toString(date(v)) + 'T' + right('0' + v.hour, 2) + ':' + right('0' + v.minute, 2) + ':'
              + right('0' + v.second, 2) + '.' + right('00000000' + v.nanosecond, 9) + '+00:00'
         ELSE v END] END AS t
  RETURN truncated, summary,
         collect({props: CASE WHEN $fields IS NULL THEN x {.*, created_at: t[0]}
                              ELSE x {.uid, .name, .kind, .state, .valid} END,
                  labels: labels(x), extra: [k IN coalesce($fields, []) | x[k]],
                  inputs: COLLECT { MATCH (x)-[r:DERIVED_FROM]->(m:Entity) RETURN [m.uid, r.role] }}) AS nodes
}
RETURN root.uid AS root, truncated, summary, nodes

// name: derivation_path
// How $b feeds $a: the nodes lying on some DERIVED_FROM path from $a down to $b (both
// included), each with its inputs among those nodes. No rows when $b does not feed $a.
MATCH (a:Entity {uid: $a})
MATCH (b:Entity {uid: $b})
CALL (a) {
  OPTIONAL MATCH (a)-[:DERIVED_FROM]->+(x:Entity)
  RETURN collect(DISTINCT x) AS ancestors
}
UNWIND [a] + ancestors AS n
WITH b, n WHERE n = b OR EXISTS { (n)-[:DERIVED_FROM]->+(b) }
WITH b, collect(n) AS onpath
WHERE b IN onpath
UNWIND onpath AS n
RETURN n AS node, labels(n) AS labels,
       COLLECT { MATCH (n)-[r:DERIVED_FROM]->(m:Entity) WHERE m IN onpath RETURN {to: m.uid, role: r.role} } AS inputs

// name: node_details
// One node with its neighbourhood for ``latteprov show``: direct inputs (with roles), the
// number of direct derivatives, its files, the runs that generated it or used it, and the
// invalidation and revalidation events that cover it (those whose root is the node or one of
// its ancestors: only the root is linked to an event), each with ``active``: an invalidation
// that no later revalidation of the same root undid (as in active_invalidations). For a run, what
// it used and what it generated; for a data file, the products stored in it: the first $listed
// by name of each, with their counts. One row per uid of $uids that names a node (one uid or
// thousands: the same query).
UNWIND $uids AS uid
CALL (uid) {
  MATCH (n:Entity {uid: uid}) RETURN n
  UNION
  MATCH (n:Run {uid: uid}) RETURN n
  UNION
  MATCH (n:DataFile {uid: uid}) RETURN n
}
RETURN uid, n AS node, labels(n) AS labels,
       COLLECT { MATCH (n)-[r:DERIVED_FROM]->(m:Entity)
                 RETURN {role: r.role, uid: m.uid, name: m.name, kind: m.kind, valid: m.valid} } AS inputs,
       COUNT { (n)<-[:DERIVED_FROM]-(:Entity) } AS derivatives,
       COLLECT { MATCH (n)-[:STORED_AT]->(f:DataFile) RETURN f {.*} } AS files,
       COLLECT { MATCH (n)-[:GENERATED_BY]->(run:Run) RETURN run {.*, relation: 'generated_by'}
                 UNION
                 MATCH (run:Run)-[:USED]->(n) RETURN run {.*, relation: 'used_by'} } AS runs,
       COLLECT { MATCH (n)-[:DERIVED_FROM]->*(a:Entity)-[:INVALIDATED_BY]->(i:Invalidation) WHERE i.root = a.uid
                 WITH DISTINCT i
                 RETURN i {.*, active: i.action = 'invalidate' AND NOT EXISTS {
                   MATCH (r:Invalidation {action: 'revalidate', root: i.root}) WHERE r.at > i.at } } } AS invalidations,
       COLLECT { MATCH (n)-[:USED]->(m:Entity) WITH m ORDER BY m.name LIMIT $listed
                 RETURN {uid: m.uid, name: m.name, kind: m.kind, state: m.state, valid: m.valid} } AS used,
       COUNT { (n)-[:USED]->(:Entity) } AS used_count,
       COLLECT { MATCH (m:Entity)-[:GENERATED_BY]->(n) WITH m ORDER BY m.name LIMIT $listed
                 RETURN {uid: m.uid, name: m.name, kind: m.kind, state: m.state, valid: m.valid} } AS generated,
       COUNT { (:Entity)-[:GENERATED_BY]->(n) } AS generated_count,
       COLLECT { MATCH (m:Entity)-[:STORED_AT]->(n) WITH m ORDER BY m.name LIMIT $listed
                 RETURN {uid: m.uid, name: m.name, kind: m.kind, state: m.state, valid: m.valid} } AS stored,
       COUNT { (:Entity)-[:STORED_AT]->(n) } AS stored_count

// name: resolve_location
// The product stored at dataset $dataset of the file $path (absolute), or of any file whose
// DataFile is named $location ('<file name>:<dataset>').
CALL () {
  MATCH (f:DataFile {name: $location}) RETURN f
  UNION
  MATCH (f:DataFile {path: $path, dataset: $dataset}) RETURN f
}
MATCH (f)<-[:STORED_AT]-(n:Entity)
RETURN DISTINCT n.uid AS uid, n.name AS name, n.kind AS kind
LIMIT 5
