// name: web_neighbours
// One hop of the graph browser's bounded neighbourhood around each entity of $uids: per
// entity, direction ('up' = its inputs, 'down' = what was derived from it) and neighbour
// kind, the number of DISTINCT neighbours, and the neighbours themselves only when the
// group is small (<= $fanout) or opened by the user ($open holds 'uid|dir|kind' keys), at most
// $limit per group. Every row also carries the entity itself (an entity without neighbours
// gives one row with a null dir); nodes come with labels, edge roles and file statuses.
UNWIND $uids AS uid
MATCH (c:Entity {uid: uid})
OPTIONAL CALL (c) {
  MATCH (c)-[:DERIVED_FROM]->(m:Entity) RETURN 'up' AS dir, m.kind AS kind, count(DISTINCT m) AS count
  UNION ALL
  MATCH (c)<-[:DERIVED_FROM]-(m:Entity) RETURN 'down' AS dir, m.kind AS kind, count(DISTINCT m) AS count
}
WITH c, dir, kind, count,
     coalesce(count <= $fanout OR (c.uid + '|' + dir + '|' + kind) IN $open, false) AS shown
RETURN c AS node, labels(c) AS labels, COLLECT { MATCH (c)-[:STORED_AT]->(f:DataFile) RETURN f.status } AS files,
       dir, kind, count, shown,
       CASE WHEN NOT shown THEN [] ELSE COLLECT {
         MATCH (c)-[r:DERIVED_FROM]-(m:Entity {kind: kind})
         WHERE (dir = 'up' AND startNode(r) = c) OR (dir = 'down' AND endNode(r) = c)
         WITH m, collect(r.role) AS roles
         ORDER BY m.name
         LIMIT $limit
         RETURN {node: m, labels: labels(m), roles: roles,
                 files: COLLECT { MATCH (m)-[:STORED_AT]->(f:DataFile) RETURN f.status }}
       } END AS neighbours

// name: web_search
// Suggestions for the search box: entities whose name or uid starts with the words of $q
// (a Lucene query built by the caller from escaped words), best matches first, at most $limit.
// `details` are the fields that tell apart products of one file (spin, current, tsep ...).
CALL db.index.fulltext.queryNodes('entity_search', $q) YIELD node, score
RETURN node.uid AS uid, node.name AS name, node.kind AS kind, node.ensemble AS ensemble,
       [key IN ['step', 'config', 'particle', 'spin', 'flav_spin', 'current', 'tsep', 'sources']
        WHERE node[key] IS NOT NULL | key + '=' + toString(node[key])] AS details
ORDER BY score DESC, size(node.name), node.name
LIMIT $limit
