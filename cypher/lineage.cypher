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
