/*
 * The nodes table (sql/009-nodes.sql) and the questions several nodes ask
 * of presence: which other live nodes hold connections of some accounts
 * (where a live packet must be relayed), and which connections a dead
 * node left behind.
 */
#include <stdlib.h>
#include <string.h>

#include "db.h"

static const char sql_node_beat[] =
    "INSERT INTO nodes (name, heartbeat_at) VALUES (?, UTC_TIMESTAMP(3))"
    " ON DUPLICATE KEY UPDATE heartbeat_at = VALUES(heartbeat_at)";

static const char sql_node_age[] =
    "SELECT TIMESTAMPDIFF(MICROSECOND, heartbeat_at, UTC_TIMESTAMP(3)) DIV 1000"
    " FROM nodes WHERE name = ?";

/*
 * Renews node's heartbeat: 1 when its row was not there (first beat, or
 * another node had taken it for dead and removed its presence rows), 0
 * when renewed, -1 on error.  *age_ms is how old the row was (0 when
 * new).
 */
int
db_node_beat(struct db *db, const char *node, uint64_t *age_ms)
{
	MYSQL_BIND	 params[1], result[1];
	MYSQL_STMT	*st;
	unsigned long	 nlen;
	int		 inserted, found;

	memset(params, 0, sizeof(params));
	memset(result, 0, sizeof(result));
	db_bind_str(&params[0], node, &nlen);
	*age_ms = 0;
	db_bind_u64(&result[0], age_ms);
	if ((found = db_row(db, DB_NODE_AGE, sql_node_age, params,
	    result)) == -1)
		return -1;
	if (found == 0)
		*age_ms = 0;
	if ((st = db_exec(db, DB_NODE_BEAT, sql_node_beat, params, NULL)) ==
	    NULL)
		return -1;
	inserted = mysql_stmt_affected_rows(st) == 1;
	db_done(st);
	return inserted;
}

static const char sql_node_dead[] =
    "SELECT name FROM nodes WHERE name <> ?"
    " AND heartbeat_at < UTC_TIMESTAMP(3) - INTERVAL ? SECOND"
    " ORDER BY heartbeat_at LIMIT 1";

/*
 * A node other than self not heard for timeout seconds, into name
 * (NODE_NAME_SIZE): 1, 0 when every node is alive, -1 on error.
 */
int
db_node_dead(struct db *db, const char *self, int timeout, char *name)
{
	MYSQL_BIND	 params[2], result[1];
	unsigned long	 slen, nlen = 0;
	int		 found;

	memset(params, 0, sizeof(params));
	memset(result, 0, sizeof(result));
	db_bind_str(&params[0], self, &slen);
	db_bind_int(&params[1], &timeout);
	db_bind_buf(&result[0], name, NODE_NAME_SIZE - 1, &nlen);
	found = db_row(db, DB_NODE_DEAD, sql_node_dead, params, result);
	name[found == 1 ? nlen : 0] = '\0';
	return found;
}

static const char sql_node_forget[] =
    "DELETE FROM nodes WHERE name = ?"
    " AND heartbeat_at < UTC_TIMESTAMP(3) - INTERVAL ? SECOND";

/* Removes a dead node's row, unless it has come back meanwhile. */
int
db_node_forget(struct db *db, const char *node, int timeout)
{
	MYSQL_BIND	 params[2];
	MYSQL_STMT	*st;
	unsigned long	 nlen;

	memset(params, 0, sizeof(params));
	db_bind_str(&params[0], node, &nlen);
	db_bind_int(&params[1], &timeout);
	st = db_exec(db, DB_NODE_FORGET, sql_node_forget, params, NULL);
	db_done(st);
	return st == NULL ? -1 : 0;
}

static const char sql_node_conns[] =
    "SELECT conn_id, account_id FROM presence WHERE node = ?"
    " ORDER BY conn_id LIMIT ?";

/*
 * Up to max presence rows of node, each given to fn; the number of rows,
 * or -1 on error (also when fn fails).
 */
int
db_node_conns(struct db *db, const char *node, int max,
    int (*fn)(void *, uint64_t conn_id, uint64_t account), void *arg)
{
	MYSQL_BIND	 params[2], result[2];
	MYSQL_STMT	*st;
	uint64_t	 conn_id = 0, account = 0, *rows;
	unsigned long	 nlen;
	int		 n = 0, i, rc = 0;

	memset(params, 0, sizeof(params));
	memset(result, 0, sizeof(result));
	db_bind_str(&params[0], node, &nlen);
	db_bind_int(&params[1], &max);
	db_bind_u64(&result[0], &conn_id);
	db_bind_u64(&result[1], &account);
	if ((rows = calloc((size_t)max * 2, sizeof(*rows))) == NULL)
		return -1;
	if ((st = db_exec(db, DB_NODE_CONNS, sql_node_conns, params,
	    result)) == NULL) {
		free(rows);
		return -1;
	}
	/* fn runs statements of its own: the result is read out first. */
	while (n < max && (rc = db_fetch(st)) == 1) {
		rows[2 * n] = conn_id;
		rows[2 * n + 1] = account;
		n++;
	}
	db_done(st);
	if (rc == -1)
		n = -1;
	for (i = 0; i < n; i++)
		if (fn(arg, rows[2 * i], rows[2 * i + 1]) == -1) {
			n = -1;
			break;
		}
	free(rows);
	return n;
}

#define NODE_ACCOUNTS_SQL(p) \
    "SELECT DISTINCT p.account_id, p.node FROM presence p" \
    " JOIN nodes n ON n.name = p.node" \
    " WHERE p.node <> ?" \
    " AND n.heartbeat_at >= UTC_TIMESTAMP(3) - INTERVAL ? SECOND" \
    " AND p.account_id IN (" p ")"
static const char sql_node_accounts[] = NODE_ACCOUNTS_SQL(
    "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?");

/*
 * For the n accounts, each (account, node) where a node other than self,
 * alive within timeout seconds, holds a connection of it, given to fn.
 * 0, or -1 on error.
 */
int
db_node_accounts(struct db *db, const char *self, int timeout,
    const uint64_t *accounts, size_t n,
    int (*fn)(void *, uint64_t account, const char *node), void *arg)
{
	MYSQL_BIND	 params[2 + DB_MARKS_PER_STATEMENT], result[2];
	MYSQL_STMT	*st;
	uint64_t	 account = 0;
	char		 node[NODE_NAME_SIZE];
	unsigned long	 slen, nlen = 0;
	size_t		 i, j;
	int		 rc;

	memset(result, 0, sizeof(result));
	db_bind_u64(&result[0], &account);
	db_bind_buf(&result[1], node, sizeof(node) - 1, &nlen);
	for (i = 0; i < n; i += DB_MARKS_PER_STATEMENT) {
		memset(params, 0, sizeof(params));
		db_bind_str(&params[0], self, &slen);
		db_bind_int(&params[1], &timeout);
		/* Short of 16: the last one again, which finds nothing new. */
		for (j = 0; j < DB_MARKS_PER_STATEMENT; j++)
			db_bind_u64(&params[2 + j],
			    &accounts[i + j < n ? i + j : n - 1]);
		if ((st = db_exec(db, DB_NODE_ACCOUNTS, sql_node_accounts,
		    params, result)) == NULL)
			return -1;
		while ((rc = db_fetch(st)) == 1) {
			node[nlen] = '\0';
			if (fn(arg, account, node) == -1) {
				rc = -1;
				break;
			}
		}
		db_done(st);
		if (rc == -1)
			return -1;
	}
	return 0;
}
