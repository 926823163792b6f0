// name: user_add
// Creates a web user unless the name is taken; returns {username, role}, no row when it exists.
// $username, $password_hash, $role
OPTIONAL MATCH (existing:WebUser {username: $username})
WITH existing WHERE existing IS NULL
CREATE (u:WebUser {username: $username, password_hash: $password_hash, role: $role,
                   created_at: datetime()})
RETURN u.username AS username, u.role AS role

// name: user_remove
// Deletes the web user $username; returns how many were deleted (0 or 1).
OPTIONAL MATCH (u:WebUser {username: $username})
WITH u, count(u) AS found
DETACH DELETE u
RETURN found AS removed

// name: user_get
// The web user $username with its password hash (for login); no row when unknown.
MATCH (u:WebUser {username: $username})
RETURN u.username AS username, u.role AS role, u.password_hash AS password_hash

// name: user_list
// Every web user, by name: {username, role, created_at}. Never the hash.
MATCH (u:WebUser)
RETURN u.username AS username, u.role AS role, toString(u.created_at) AS created_at
ORDER BY username
