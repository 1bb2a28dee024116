/*
 * The FastCGI side of a request: params and body in, CGI headers and body
 * out.  What kind of request it is follows docs/ARCHITECTURE.md: a
 * non-empty CHAT_CONN_ID is the push daemon (a packet or a connection
 * event); anything else is an HTTP request from nginx.  The CHAT_* params
 * are trusted because only the daemon can set them (nginx's /api/
 * location sets them all to "").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>

#include "envelope.h"
#include "fcgi_app.h"
#include "log.h"

/* Copies param name into buf; "" when it is not set. */
static void
request_param(FCGX_Request *fr, const char *name, char *buf, size_t size)
{
	const char	*v;

	if ((v = FCGX_GetParam(name, fr->envp)) == NULL)
		v = "";
	snprintf(buf, size, "%s", v);
}

/*
 * Reads the body, keeping at most PACKET_MAX + 1 bytes: one more than any
 * packet may hold is enough to know it is too large.  The rest is read and
 * dropped, so that nginx is not cut off while still sending it and can
 * pass on our 400 (its client_max_body_size bounds the work).
 */
static int
request_body(FCGX_Request *fr, struct request *req)
{
	char	scratch[4096];
	int	n;

	n = FCGX_GetStr(req->body, PACKET_MAX + 1, fr->in);
	if (n < 0)
		return -1;
	req->body_len = (size_t)n;
	req->body[n] = '\0';
	req->body_too_large = n > PACKET_MAX;
	while (req->body_too_large &&
	    FCGX_GetStr(scratch, sizeof(scratch), fr->in) > 0)
		;
	return 0;
}

/* The session the daemon describes; -1 for a param it cannot have sent. */
static int
request_session(FCGX_Request *fr, struct request *req, const char **errstr)
{
	struct session	*s = &req->session;
	char		 buf[ID_STR_MAX + 1], ack[4];

	request_param(fr, ENV_CONN_ID, buf, sizeof(buf));
	if (packet_id_parse(buf, &s->conn_id) == -1) {
		*errstr = "bad " ENV_CONN_ID;
		return -1;
	}
	request_param(fr, ENV_ACCOUNT, buf, sizeof(buf));
	if (buf[0] != '\0' && packet_id_parse(buf, &s->account) == -1) {
		*errstr = "bad " ENV_ACCOUNT;
		return -1;
	}
	request_param(fr, ENV_ACK_MODE, ack, sizeof(ack));
	s->ack_mode = strcmp(ack, "1") == 0;
	request_param(fr, ENV_REMOTE_ADDR, s->remote_addr,
	    sizeof(s->remote_addr));
	request_param(fr, ENV_NODE, s->node, sizeof(s->node));
	request_param(fr, ENV_TRANSPORT, s->transport, sizeof(s->transport));
	request_param(fr, ENV_EVENT, req->event, sizeof(req->event));
	/* The envelope always names the event; a missing one is a packet. */
	if (req->event[0] == '\0' ||
	    strcmp(req->event, ENV_EVENT_PACKET) == 0)
		req->kind = REQUEST_PACKET;
	else
		req->kind = REQUEST_EVENT;
	return 0;
}

/* Fills req from fr; -1 with *errstr for a request that makes no sense. */
int
request_read(FCGX_Request *fr, struct request *req, const char **errstr)
{
	const char	*id;

	memset(req, 0, sizeof(*req));
	request_param(fr, "REQUEST_METHOD", req->method, sizeof(req->method));
	request_param(fr, "DOCUMENT_URI", req->path, sizeof(req->path));
	if (req->path[0] == '\0')
		request_param(fr, "SCRIPT_NAME", req->path, sizeof(req->path));

	id = FCGX_GetParam(ENV_CONN_ID, fr->envp);
	if (id != NULL && *id != '\0') {
		if (request_session(fr, req, errstr) == -1)
			return -1;
	} else {
		req->kind = REQUEST_HTTP;
		request_param(fr, "REMOTE_ADDR", req->session.remote_addr,
		    sizeof(req->session.remote_addr));
	}
	if (request_body(fr, req) == -1) {
		*errstr = "cannot read the body";
		return -1;
	}
	return 0;
}

static const char *
request_reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	}
	return "Unknown";
}

/*
 * Writes the CGI headers and a JSON body.  The headers are exactly those
 * docs/ARCHITECTURE.md names (plus Allow on a 405, which HTTP requires),
 * so the daemon's parser can stay small.
 */
int
request_answer(FCGX_Request *fr, int status, const char *allow,
    const char *body, size_t len)
{
	char	head[256];
	int	n;

	n = snprintf(head, sizeof(head), "Status: %d %s\r\n"
	    "Content-Type: application/json\r\n%s%s%s\r\n", status,
	    request_reason(status), allow != NULL ? "Allow: " : "",
	    allow != NULL ? allow : "", allow != NULL ? "\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof(head))
		return -1;
	if (FCGX_PutStr(head, n, fr->out) != n)
		return -1;
	if (len > 0 && FCGX_PutStr(body, (int)len, fr->out) != (int)len)
		return -1;
	return 0;
}
