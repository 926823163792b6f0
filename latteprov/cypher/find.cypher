// name: find_nodes
// Nodes of one class matching filters, in the shape of lineage.node_json. A template filled
// by latteprov.find: `LABEL` and the property names in CONDITIONS and ORDER_KEY are taken
// only from the model classes (checked against them); every value is a parameter
// ($v0, $v1 ...). $offset rows are skipped, at most $limit returned (null: all).
MATCH (n:LABEL)
WHERE CONDITIONS
RETURN n AS node, labels(n) AS labels
ORDER BY ORDER_KEY
SKIP $offset
LIMIT coalesce($limit, 9223372036854775807)

// name: count_nodes
// How many nodes of one class match the filters (the same template as find_nodes).
MATCH (n:LABEL)
WHERE CONDITIONS
RETURN count(n) AS count
