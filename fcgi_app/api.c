/*
 * The HTTP endpoints nginx sends straight to the workers (PROTOCOL.md
 * section 5).  POST /api/logon runs the logon command through the same gate
 * as a packet, as a session with no connection; GET /api/health asks the
 * database, the push daemon and, through the daemon, its workers; GET
 * /metrics (metrics.c) is for a scraper on the host.
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

/*
 * The daemon's "health" answer: a line "LANE idle N busy N down N" per
 * lane.  Its workers are ok when every lane has a connection up (idle or
 * busy): a lane with none cannot run a single packet, while one worker
 * lost of several only slows it.  -1 when the answer makes no sense.
 */
static int
api_workers_ok(const char *answer)
{
	const char	*line;
	char		 lane[16];
	int		 idle, busy, down, lanes = 0, ok = 1;

	for (line = answer; *line != '\0' && strncmp(line, "ok", 2) != 0;
	    line = strchr(line, '\n') + 1) {
		if (sscanf(line, "%15s idle %d busy %d down %d", lane, &idle,
		    &busy, &down) != 4 || strchr(line, '\n') == NULL)
			return -1;
		if (idle + busy == 0) {
			log_warnx("health: no worker connection of the %s lane "
			    "is up (%d down)", lane, down);
			ok = 0;
		}
		lanes++;
	}
	return lanes > 0 ? ok : -1;
}

/*
 * 200 when every part answers, else 503; the body names each part.  When
 * the daemon does not answer, nothing is known of its workers: "unknown".
 */
static int
api_health(struct app *app, struct api_answer *ans)
{
	const char	*errstr, *workers = "unknown";
	char		*answer;
	cJSON		*o;
	int		 db_ok, daemon_ok, rc;

	db_ok = db_ping(app->db) == 0;
	if ((answer = daemon_ask(app->cf, "health", 4096, &errstr)) == NULL)
		log_warnx("health: push daemon: %s", errstr);
	daemon_ok = answer != NULL;
	if (daemon_ok) {
		rc = api_workers_ok(answer);
		workers = rc == 1 ? "ok" : rc == 0 ? "unavailable" : "unknown";
	}
	free(answer);

	ans->status = db_ok && daemon_ok && strcmp(workers, "ok") == 0 ?
	    200 : 503;
	if ((o = cJSON_CreateObject()) == NULL)
		return -1;
	if (cJSON_AddStringToObject(o, "status", ans->status == 200 ? "ok" :
	    "unavailable") != NULL &&
	    cJSON_AddStringToObject(o, "database", db_ok ? "ok" :
	    "unavailable") != NULL &&
	    cJSON_AddStringToObject(o, "push_daemon", daemon_ok ? "ok" :
	    "unavailable") != NULL &&
	    cJSON_AddStringToObject(o, "workers", workers) != NULL)
		ans->body = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return ans->body == NULL ? -1 : 0;
}

static int
api_metrics(struct app *app, struct api_answer *ans)
{
	if ((ans->body = metrics_render(app, &ans->len)) == NULL)
		return -1;
	ans->status = 200;
	ans->type = "text/plain; version=0.0.4; charset=utf-8";
	return 0;
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
	} else if (strcmp(req->path, "/api/health") == 0 ||
	    strcmp(req->path, "/metrics") == 0) {
		if (strcmp(req->method, "GET") == 0 ||
		    strcmp(req->method, "HEAD") == 0)
			return strcmp(req->path, "/metrics") == 0 ?
			    api_metrics(app, ans) : api_health(app, ans);
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
