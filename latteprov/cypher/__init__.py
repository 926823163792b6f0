"""Named Cypher queries, shipped as package data (see latteprov.queries)."""
