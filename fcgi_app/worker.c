/*
 * One worker process: accept a FastCGI request, answer it, repeat.  A
 * worker holds one database connection and serves one request at a time:
 * a batch of the push daemon, which keeps its connection to us open
 * (FCGI_KEEP_CONN: libfcgi then reads the next request from it), or an
 * HTTP request of nginx.  The master (main.c) runs both kinds, each on its
 * own socket, and replaces any that dies.  SIGTERM
 * (libfcgi's handler) makes FCGX_Accept_r fail once the current request is
 * done, and the worker exits.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>

#include "envelope.h"
#include "fcgi_app.h"
#include "log.h"

/*
 * A batch from the daemon.  An answer that cannot be made is a 500: the
 * daemon then tells each of the batch's clients "server error".
 */
static void
worker_batch(struct app *app, FCGX_Request *fr)
{
	const char	*errstr, *node;
	char		*buf, *body = NULL;
	size_t		 len;

	if ((node = FCGX_GetParam(ENV_NODE, fr->envp)) == NULL)
		node = "";
	if ((buf = request_read_batch(fr, &len, &errstr)) == NULL ||
	    (body = batch_run(app, node, buf, len, &errstr)) == NULL) {
		log_warnx("batch: %s", errstr);
		(void)request_answer(fr, buf == NULL ? 400 : 500, NULL, NULL,
		    NULL, 0);
	} else
		(void)request_answer(fr, 200, NULL, NULL, body, strlen(body));
	free(body);
	free(buf);
}

static void
worker_http(struct app *app, FCGX_Request *fr, const struct request *req)
{
	struct api_answer	ans;

	if (api_handle(app, req, &ans) == -1) {
		(void)request_answer(fr, 500, NULL, NULL, NULL, 0);
		free(ans.body);
		return;
	}
	(void)request_answer(fr, ans.status, ans.allow, ans.type, ans.body,
	    ans.len != 0 ? ans.len : strlen(ans.body));
	free(ans.body);
}

static void
worker_serve(struct app *app, FCGX_Request *fr, struct request *req,
    enum worker_role role)
{
	const char	*errstr;

	if (role == WORKER_BATCH)
		worker_batch(app, fr);
	else if (request_read(fr, req, &errstr) == -1) {
		log_warnx("bad request from nginx: %s", errstr);
		(void)request_answer(fr, 400, NULL, NULL, NULL, 0);
	} else
		worker_http(app, fr, req);
	/* A handler that left a transaction open must not leak it on. */
	db_rollback(app->db);
}

/* Runs in the forked child; never returns. */
void
worker_main(const struct config *cf, struct stats *stats, int listen_fd,
    enum worker_role role)
{
	struct app	 app;
	struct request	*req;
	FCGX_Request	 fr;

	memset(&app, 0, sizeof(app));
	app.cf = cf;
	app.stats = stats;
	if ((app.db = db_open(cf)) == NULL ||
	    (role == WORKER_BATCH && ((app.messages = msgqueue_new()) == NULL ||
	    (app.relay = relay_new()) == NULL)))
		fatalx("worker: out of memory");
	db_set_timer(app.db, stats_db_time, stats);
	/* Too big for the stack of a function called per request. */
	if ((req = malloc(sizeof(*req))) == NULL)
		fatalx("worker: out of memory");
	if (FCGX_InitRequest(&fr, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0)
		fatalx("worker: FCGX_InitRequest failed");
	log_debug("worker ready");
	while (FCGX_Accept_r(&fr) >= 0) {
		worker_serve(&app, &fr, req, role);
		FCGX_Finish_r(&fr);
	}
	FCGX_Free(&fr, 1);
	db_close(app.db);
	free(app.marks);
	msgqueue_free(app.messages);
	relay_free(app.relay);
	free(req);
	exit(0);
}
