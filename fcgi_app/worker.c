/*
 * One worker process: accept a FastCGI request, answer it, repeat.  A
 * worker holds one database connection and serves one request at a time;
 * the master (main.c) runs several and replaces any that dies.  SIGTERM
 * (libfcgi's handler) makes FCGX_Accept_r fail once the current request is
 * done, and the worker exits.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>

#include "fcgi_app.h"
#include "log.h"

/* A packet from the daemon: the gate's answer as a list of actions. */
static void
worker_packet(struct app *app, FCGX_Request *fr, const struct request *req)
{
	struct reply	*r;
	char		*body = NULL;

	if ((r = reply_new()) == NULL)
		goto fail;
	if (req->body_too_large) {
		if (reply_error(r, "packet too large") == -1)
			goto fail;
	} else
		(void)cmd_dispatch(app, &req->session, req->body,
		    req->body_len, r);
	if ((body = reply_render(r)) == NULL)
		goto fail;
	reply_free(r);
	(void)request_answer(fr, 200, NULL, body, strlen(body));
	free(body);
	return;
fail:
	/* The daemon answers "server error" to a request that fails. */
	log_warnx("conn %" PRIu64 ": cannot build the answer",
	    req->session.conn_id);
	reply_free(r);
	(void)request_answer(fr, 500, NULL, NULL, 0);
}

/*
 * A connection event (event.c).  One that fails answers 500: the daemon
 * logs it, and whatever it was about stays waiting in the database.
 */
static void
worker_event(struct app *app, FCGX_Request *fr, const struct request *req)
{
	struct reply	*r;
	char		*body = NULL;

	if ((r = reply_new()) == NULL ||
	    event_handle(app, req, r) == -1 ||
	    (body = reply_render(r)) == NULL) {
		log_warnx("conn %" PRIu64 ": %s event failed",
		    req->session.conn_id, req->event);
		reply_free(r);
		(void)request_answer(fr, 500, NULL, NULL, 0);
		return;
	}
	reply_free(r);
	(void)request_answer(fr, 200, NULL, body, strlen(body));
	free(body);
}

static void
worker_http(struct app *app, FCGX_Request *fr, const struct request *req)
{
	struct api_answer	ans;

	if (api_handle(app, req, &ans) == -1) {
		(void)request_answer(fr, 500, NULL, NULL, 0);
		free(ans.body);
		return;
	}
	(void)request_answer(fr, ans.status, ans.allow, ans.body,
	    strlen(ans.body));
	free(ans.body);
}

static void
worker_serve(struct app *app, FCGX_Request *fr, struct request *req)
{
	const char	*errstr;

	if (request_read(fr, req, &errstr) == -1) {
		log_warnx("bad request from the daemon: %s", errstr);
		(void)request_answer(fr, 400, NULL, NULL, 0);
		return;
	}
	switch (req->kind) {
	case REQUEST_PACKET:
		worker_packet(app, fr, req);
		break;
	case REQUEST_EVENT:
		worker_event(app, fr, req);
		break;
	case REQUEST_HTTP:
		worker_http(app, fr, req);
		break;
	}
	/* A handler that left a transaction open must not leak it on. */
	db_rollback(app->db);
}

/* Runs in the forked child; never returns. */
void
worker_main(const struct config *cf, int listen_fd)
{
	struct app	 app;
	struct request	*req;
	FCGX_Request	 fr;

	memset(&app, 0, sizeof(app));
	app.cf = cf;
	if ((app.db = db_open(cf)) == NULL)
		fatalx("worker: out of memory");
	/* Too big for the stack of a function called per request. */
	if ((req = malloc(sizeof(*req))) == NULL)
		fatalx("worker: out of memory");
	if (FCGX_InitRequest(&fr, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0)
		fatalx("worker: FCGX_InitRequest failed");
	log_debug("worker ready");
	while (FCGX_Accept_r(&fr) >= 0) {
		worker_serve(&app, &fr, req);
		FCGX_Finish_r(&fr);
	}
	FCGX_Free(&fr, 1);
	db_close(app.db);
	free(req);
	exit(0);
}
