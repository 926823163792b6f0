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
// Suggestions for the search box and the search results: entities whose name contains every
// word of $words anywhere (a fragment of a name: x29y20z7t28, e_305, proton_np; any script),
// or whose uid starts with the first word. $words: the lower-cased words; $first: the first
// word as typed (uids are case-sensitive). Names are matched in lower case (search_name, kept by
// the write path, through its text index), so SS_A3 and ss_a3 are one fragment. Best first: a
// name that starts with the first word, then shorter names; at most $limit. `details` are the
// fields that tell apart products of one file (spin, current, tsep ...); state and valid as on
// the node.
CALL () {
  MATCH (n:Entity) WHERE n.search_name CONTAINS $words[0] RETURN n
  UNION
  MATCH (n:Entity) WHERE n.uid STARTS WITH $first RETURN n
}
WITH n
WHERE all(w IN $words WHERE n.search_name CONTAINS w OR toLower(n.uid) STARTS WITH w)
RETURN n.uid AS uid, n.name AS name, n.kind AS kind, n.ensemble AS ensemble, n.state AS state,
       n.valid AS valid,
       [key IN ['step', 'config', 'particle', 'spin', 'flav_spin', 'current', 'tsep', 'sources']
        WHERE n[key] IS NOT NULL | key + '=' + toString(n[key])] AS details
ORDER BY NOT n.search_name STARTS WITH $words[0], size(n.name), n.name
LIMIT $limit

// name: web_missing_not_made
// Of the files counted missing on the dashboard, those of products not made yet (in one of
// the states $not_started, model.NOT_STARTED: nothing expects their file yet), per (ensemble,
// kind); the rest are lost. $missing is the file status 'missing'; $ensemble for one
// ensemble, null for all.
MATCH (n:Entity)
WHERE n.state IN $not_started AND $missing IN n.file_statuses
  AND ($ensemble IS NULL OR n.ensemble = $ensemble)
RETURN coalesce(n.ensemble, '') AS ensemble, n.kind AS kind,
       sum(size([s IN n.file_statuses WHERE s = $missing])) AS files

// name: web_health
// The cheapest question: whether the database answers a read (the web app's /healthz).
RETURN 1 AS ok
