/*
 * The HTTP endpoints nginx sends straight to the workers (PROTOCOL.md
 * section 5).  POST /api/logon runs the logon command through the same gate
 * as a packet, as a session with no connection; GET /api/health asks the
 * database.
 */
#include <stdlib.h>
#include <string.h>

#include "fcgi_app.h"
#include "log.h"

static char *
api_json(const char *name, const char *value)
{
	cJSON	*o;
	char	*out = NULL;

	if ((o = cJSON_CreateObject()) == NULL)
		return NULL;
	if (cJSON_AddStringToObject(o, name, value) != NULL)
		out = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return out;
}

/* Copies the one packet the outbox holds for this "connection". */
static int
api_packet(const struct reply *r, struct api_answer *ans)
{
	const char	*data;

	if ((data = reply_self_data(r)) == NULL)
		return -1;
	if ((ans->body = strdup(data)) == NULL)
		return -1;
	return 0;
}

/*
 * 200 with logon_return, success or fail; 400 with the error packet for a
 * body that is not a logon packet; 503 with logon_return "server error"
 * when the database failed (nothing was done, the client may retry).
 */
static int
api_logon(struct app *app, const struct request *req,
    struct api_answer *ans)
{
	struct reply	*r;
	cJSON		*packet = NULL;
	const char	*detail;
	int		 rc = -1;

	if ((r = reply_new()) == NULL)
		return -1;
	/* packet_parse() sets detail when it fails. */
	if (req->body_too_large)
		detail = "packet too large";
	else if ((packet = packet_parse(req->body, req->body_len,
	    &detail)) != NULL)
		detail = strcmp(packet_command(packet), "logon") == 0 ? NULL :
		    "unknown command";

	if (detail != NULL) {
		ans->status = 400;
		if (reply_error(r, detail) == -1)
			goto fail;
	} else {
		switch (cmd_run(app, &req->session, &cmd_logon_entry, packet,
		    r)) {
		case CMD_REJECT:
			ans->status = 400;
			break;
		case CMD_ERROR:
			ans->status = 503;
			break;
		default:
			ans->status = 200;
			break;
		}
	}
	rc = api_packet(r, ans);
fail:
	cJSON_Delete(packet);
	reply_free(r);
	return rc;
}

static int
api_health(struct app *app, struct api_answer *ans)
{
	if (db_ping(app->db) == 0) {
		ans->status = 200;
		ans->body = api_json("status", "ok");
	} else {
		ans->status = 503;
		ans->body = api_json("status", "unavailable");
	}
	return ans->body == NULL ? -1 : 0;
}

/*
 * Answers one HTTP request into ans; -1 when not even an answer could be
 * built (the caller sends a bare 500).
 */
int
api_handle(struct app *app, const struct request *req,
    struct api_answer *ans)
{
	memset(ans, 0, sizeof(*ans));
	if (strcmp(req->path, "/api/logon") == 0) {
		if (strcmp(req->method, "POST") == 0)
			return api_logon(app, req, ans);
		ans->allow = "POST";
	} else if (strcmp(req->path, "/api/health") == 0) {
		if (strcmp(req->method, "GET") == 0 ||
		    strcmp(req->method, "HEAD") == 0)
			return api_health(app, ans);
		ans->allow = "GET, HEAD";
	} else {
		ans->status = 404;
		ans->body = api_json("error", "not found");
		return ans->body == NULL ? -1 : 0;
	}
	ans->status = 405;
	ans->body = api_json("error", "method not allowed");
	return ans->body == NULL ? -1 : 0;
}
