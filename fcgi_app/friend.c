/*
 * What add_friend and add_friend_confirm share: a friendship is made the
 * same way whether B confirms A's request or B asks A while A's request to
 * B is pending.  Both run inside one transaction (cmd_transaction) after
 * friend_lock().
 */
#include <string.h>

#include "fcgi_app.h"

/* A status field: "0" (normal) or "1" (special follow); -1 otherwise. */
int
friend_status_parse(const char *s, int *status)
{
	if (s == NULL || (strcmp(s, "0") != 0 && strcmp(s, "1") != 0))
		return -1;
	*status = s[0] == '1';
	return 0;
}

/*
 * Locks the users rows of a and b, lower id first so that two commands on
 * the same pair cannot deadlock, and makes them wait for each other: two
 * crossing add_friend then see each other's request.  Returns whether a
 * exists (1/0, -1 on error); *found_b whether b does; a's name into
 * username_a (USERNAME_SIZE, may be NULL).
 */
int
friend_lock(struct db *db, uint64_t a, uint64_t b, int *found_b,
    char *username_a)
{
	int	fa, fb;

	if (a < b) {
		if ((fa = db_account_lock(db, a, username_a)) == -1 ||
		    (fb = db_account_lock(db, b, NULL)) == -1)
			return -1;
	} else {
		if ((fb = db_account_lock(db, b, NULL)) == -1 ||
		    (fa = db_account_lock(db, a, username_a)) == -1)
			return -1;
	}
	*found_b = fb;
	return fa;
}

/*
 * Makes q->from and q->to friends, each with its own view of the other
 * (q->status is the asker's), drops any request between them, and stores
 * the confirm result for the asker; *result_id is its id.
 */
int
friend_make(struct db *db, const struct friend_request *q,
    int answer_status, uint64_t *result_id)
{
	struct friend_result	res;

	memset(&res, 0, sizeof(res));
	res.src = q->from;
	res.dst = q->to;
	res.confirmed = 1;
	if (db_friendship_put(db, q->from, q->to, q->status) == -1 ||
	    db_friendship_put(db, q->to, q->from, answer_status) == -1 ||
	    db_request_delete(db, q->from, q->to) == -1 ||
	    db_request_delete(db, q->to, q->from) == -1)
		return -1;
	return db_result_add(db, q->from, &res, result_id);
}

/*
 * Sends the stored result res (its id set) to every connection of the
 * asker, tracked so that its delivery is recorded, and a success with the
 * same src and dst to every connection of the answerer.
 */
int
friend_notify(struct reply *r, const struct friend_result *res,
    uint64_t answerer)
{
	struct friend_result	 ok = *res;
	cJSON			*p;
	int			 rc;

	if ((p = notice_friend_result(res)) == NULL)
		return -1;
	rc = reply_send_tracked(r, res->src, p, 'c', res->id);
	cJSON_Delete(p);
	if (rc == -1)
		return -1;
	ok.confirmed = 1;
	if ((p = notice_friend_result(&ok)) == NULL)
		return -1;
	rc = reply_account(r, answerer, p);
	cJSON_Delete(p);
	return rc;
}

/*
 * The notice {"command":cmd,"src":src,"dst":dst} to every connection of
 * each account in to (n of them, 0 skipped): remove_friend tells both
 * sides, cancel_friend the one who was asked.
 */
int
friend_notice(struct reply *r, const char *cmd, uint64_t src, uint64_t dst,
    const uint64_t *to, size_t n)
{
	cJSON	*p;
	size_t	 i;
	int	 rc = 0;

	if ((p = notice_pair(cmd, src, dst)) == NULL)
		return -1;
	for (i = 0; i < n && rc == 0; i++)
		if (to[i] != 0)
			rc = reply_account(r, to[i], p);
	cJSON_Delete(p);
	return rc;
}

/*
 * Ends the friendship of a and b, both directions, and tells both (the
 * remove_friend notice, src a): remove_friend, and block, which must look
 * the same to b.  0, or -1 on error.
 */
int
friend_end(struct db *db, struct reply *r, uint64_t a, uint64_t b)
{
	const uint64_t	both[2] = { a, b };

	if (db_friendship_delete(db, a, b) == -1)
		return -1;
	return friend_notice(r, "remove_friend", a, b, both, 2);
}
