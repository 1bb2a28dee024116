/*
 * The users table: creating an account, reading one for login, locking one
 * for a transaction.
 */
#include <string.h>

#include "db.h"

static const char sql_account_insert[] =
    "INSERT INTO users (username, password_hash) VALUES (?, ?)";

/* Stores a new account; *id is the id it was given. */
int
db_account_create(struct db *db, const char *username, const char *hash,
    uint64_t *id)
{
	MYSQL_BIND	 params[2];
	MYSQL_STMT	*st;
	unsigned long	 ulen, hlen;

	memset(params, 0, sizeof(params));
	db_bind_str(&params[0], username, &ulen);
	db_bind_str(&params[1], hash, &hlen);
	st = db_exec(db, DB_ACCOUNT_INSERT, sql_account_insert, params, NULL);
	if (st == NULL)
		return -1;
	*id = mysql_stmt_insert_id(st);
	db_done(st);
	return 0;
}

static const char sql_account_get[] =
    "SELECT username, password_hash, disabled FROM users WHERE id = ?";

/* 1 and *a filled when the account exists, 0 when not, -1 on error. */
int
db_account_get(struct db *db, uint64_t id, struct account *a)
{
	MYSQL_BIND	 params[1], result[3];
	unsigned long	 ulen = 0, hlen = 0;
	int		 found;

	memset(params, 0, sizeof(params));
	memset(result, 0, sizeof(result));
	db_bind_u64(&params[0], &id);
	db_bind_buf(&result[0], a->username, sizeof(a->username) - 1, &ulen);
	db_bind_buf(&result[1], a->hash, sizeof(a->hash) - 1, &hlen);
	db_bind_int(&result[2], &a->disabled);
	found = db_row(db, DB_ACCOUNT_GET, sql_account_get, params, result);
	if (found != 1)
		return found;
	a->id = id;
	a->username[ulen] = '\0';
	a->hash[hlen] = '\0';
	return 1;
}

static const char sql_account_lock[] =
    "SELECT username FROM users WHERE id = ? FOR UPDATE";

/*
 * Inside a transaction: locks the account's row until the end of it, so
 * that commands touching the same accounts run one after the other.  1 and
 * username (USERNAME_SIZE, may be NULL) when it exists, 0 when not, -1 on
 * error.
 */
int
db_account_lock(struct db *db, uint64_t id, char *username)
{
	MYSQL_BIND	 params[1], result[1];
	char		 name[USERNAME_SIZE];
	unsigned long	 nlen = 0;
	int		 found;

	memset(params, 0, sizeof(params));
	memset(result, 0, sizeof(result));
	db_bind_u64(&params[0], &id);
	db_bind_buf(&result[0], name, sizeof(name) - 1, &nlen);
	found = db_row(db, DB_ACCOUNT_LOCK, sql_account_lock, params, result);
	if (found == 1 && username != NULL) {
		name[nlen] = '\0';
		memcpy(username, name, nlen + 1);
	}
	return found;
}
