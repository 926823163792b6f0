// name: resolve_id
// The uid of the node whose uid or name is $id (entities, runs and files); two rows mean
// the name is ambiguous.
CALL () {
  MATCH (n:Entity) WHERE n.uid = $id OR n.name = $id RETURN n.uid AS uid, n.name AS name, n.kind AS kind
  UNION
  MATCH (n:Run) WHERE n.uid = $id OR n.name = $id RETURN n.uid AS uid, n.name AS name, 'Run' AS kind
  UNION
  MATCH (n:DataFile) WHERE n.uid = $id OR n.path = $id RETURN n.uid AS uid, n.name AS name, 'DataFile' AS kind
}
RETURN uid, name, kind
LIMIT 5

// name: lineage
// Everything $uid was derived from (transitively), each node with its direct inputs and the
// runs that generated it. Ancestors are collected DISTINCT (endpoints, not paths), so
// diamonds cost nothing extra; depth and kind filters are applied by the caller.
MATCH (root:Entity {uid: $uid})
CALL (root) {
  OPTIONAL MATCH (root)-[:DERIVED_FROM]->+(a:Entity)
  RETURN collect(DISTINCT a) AS ancestors
}
UNWIND [root] + ancestors AS n
RETURN n AS node, labels(n) AS labels,
       COLLECT { MATCH (n)-[r:DERIVED_FROM]->(m:Entity) RETURN {to: m.uid, role: r.role} } AS inputs,
       COLLECT { MATCH (n)-[:GENERATED_BY]->(run:Run) RETURN run } AS runs

// name: downstream
// Everything derived from $uid (transitively), each node as uid, kind and labels with its
// direct derivatives (``from`` = the derived product). Descendants are collected DISTINCT
// (endpoints, not paths); depth, kind and size limits are applied by the caller over the
// returned edges, which then loads the nodes it keeps (nodes_by_uid): reading every
// property of a 100k-node fan-out only to summarise it by kind costs 5x more.
MATCH (root:Entity {uid: $uid})
CALL (root) {
  OPTIONAL MATCH (root)<-[:DERIVED_FROM]-+(d:Entity)
  RETURN collect(DISTINCT d) AS descendants
}
UNWIND [root] + descendants AS n
RETURN n.uid AS uid, n.kind AS kind, labels(n) AS labels,
       COLLECT { MATCH (n)<-[r:DERIVED_FROM]-(m:Entity) RETURN {from: m.uid, role: r.role} } AS derivatives

// name: nodes_by_uid
// The entities with the given $uids, with their labels (order not kept).
UNWIND $uids AS u
MATCH (n:Entity {uid: u})
RETURN n AS node, labels(n) AS labels

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
// its ancestors: only the root is linked to an event).
CALL () {
  MATCH (n:Entity {uid: $uid}) RETURN n
  UNION
  MATCH (n:Run {uid: $uid}) RETURN n
  UNION
  MATCH (n:DataFile {uid: $uid}) RETURN n
}
RETURN n AS node, labels(n) AS labels,
       COLLECT { MATCH (n)-[r:DERIVED_FROM]->(m:Entity)
                 RETURN {role: r.role, uid: m.uid, name: m.name, kind: m.kind, valid: m.valid} } AS inputs,
       COUNT { (n)<-[:DERIVED_FROM]-(:Entity) } AS derivatives,
       COLLECT { MATCH (n)-[:STORED_AT]->(f:DataFile) RETURN f {.*} } AS files,
       COLLECT { MATCH (n)-[:GENERATED_BY]->(run:Run) RETURN run {.*, relation: 'generated_by'}
                 UNION
                 MATCH (run:Run)-[:USED]->(n) RETURN run {.*, relation: 'used_by'} } AS runs,
       COLLECT { MATCH (n)-[:DERIVED_FROM]->*(a:Entity)-[:INVALIDATED_BY]->(i:Invalidation) WHERE i.root = a.uid
                 RETURN DISTINCT i {.*} } AS invalidations
