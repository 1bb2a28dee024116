/*
 * The presence notice (PROTOCOL.md section 7): when an account's first
 * connection logs in, or its last one logs out or closes, every online
 * connection of each of its friends is told.  "First" and "last" count the
 * presence rows of every node, and both ends run with the account's users
 * row locked (the login fetch already holds it), so two connections that
 * come or go at once are counted one after the other and exactly one of
 * them tells.  Not stored: list_friend's "online" is the truth, and a
 * notice that fails to go out leaves it right.
 */
#include <inttypes.h>
#include <stdlib.h>

#include "fcgi_app.h"
#include "log.h"

/* {"command":"presence","id":account,"online":...} to its online friends. */
static int
presence_tell(struct app *app, uint64_t account, struct reply *r, int online)
{
	struct friend	*list;
	cJSON		*p;
	char		 id[ID_STR_MAX];
	size_t		 i, n;
	int		 rc = 0;

	if (db_friends_list(app->db, account, &list, &n) == -1)
		return -1;
	snprintf(id, sizeof(id), "%" PRIu64, account);
	if ((p = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(p, "command", "presence") == NULL ||
	    cJSON_AddStringToObject(p, "id", id) == NULL ||
	    cJSON_AddBoolToObject(p, "online", online) == NULL)
		rc = -1;
	for (i = 0; i < n && rc == 0; i++)
		if (list[i].online)
			rc = reply_account(r, list[i].id, p);
	cJSON_Delete(p);
	free(list);
	return rc;
}

static int	presence_arrived(struct app *, const struct session *,
		    struct reply *);

/*
 * Records s's connection in presence, with its account's users row
 * locked; a new row that is the account's first tells its friends.  The
 * login does it, committed before the fetch reads what waits: a worker
 * of another node that stores a message for the account then either sees
 * the row (and relays the message live) or committed before the row, so
 * that the fetch sees the message.  The fetch does it again (the row is
 * there: nobody is told twice), for a node whose rows were taken for
 * dead.  Connections of /api/ (no conn id) have no row.
 */
int
presence_record(struct app *app, const struct session *s, struct reply *r)
{
	struct presence	p = { s->node, s->conn_id, s->account, s->ack_mode,
			    s->transport };
	int		inserted;

	if (s->conn_id == 0)
		return 0;
	if (db_account_lock(app->db, s->account, NULL) != 1 ||
	    (inserted = db_presence_put(app->db, &p)) == -1)
		return -1;
	return inserted ? presence_arrived(app, s, r) : 0;
}

/* After s's presence row went in, with its account's users row locked. */
static int
presence_arrived(struct app *app, const struct session *s, struct reply *r)
{
	int	count;

	if (db_presence_count(app->db, s->account, &count) == -1)
		return -1;
	if (count == 1 && presence_tell(app, s->account, r, 1) == -1)
		log_warnx("%s: account %" PRIu64 ": friends not told",
		    __func__, s->account);
	return 0;
}

/*
 * s's connection logs out or has closed: its presence row goes and, if it
 * was the account's last, its friends are told.  -1 if the row could not
 * be removed.
 */
int
presence_left(struct app *app, const struct session *s, struct reply *r)
{
	int	found, count;

	if (s->account != 0 && db_account_lock(app->db, s->account, NULL) == -1)
		return -1;
	if ((found = db_presence_delete(app->db, s->node, s->conn_id)) == -1)
		return -1;
	if (!found || s->account == 0)
		return 0;
	if (db_presence_count(app->db, s->account, &count) == -1)
		return -1;
	if (count == 0 && presence_tell(app, s->account, r, 0) == -1)
		log_warnx("%s: account %" PRIu64 ": friends not told",
		    __func__, s->account);
	return 0;
}
