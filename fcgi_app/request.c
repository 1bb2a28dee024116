/*
 * The FastCGI side of a request: params and body in, CGI headers and body
 * out.  What kind of request it is depends only on the socket it came in
 * on (docs/ARCHITECTURE.md): a batch of the push daemon on fcgi_socket,
 * which only the service's user can reach, or an HTTP request of nginx on
 * api_socket, which never carries an identity.
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

/*
 * Fills req from fr, an HTTP request from nginx.  Whatever CHAT_* params
 * it carries are never read: the socket nginx reaches serves no session.
 */
int
request_read(FCGX_Request *fr, struct request *req, const char **errstr)
{
	memset(req, 0, sizeof(*req));
	request_param(fr, "REQUEST_METHOD", req->method, sizeof(req->method));
	request_param(fr, "DOCUMENT_URI", req->path, sizeof(req->path));
	if (req->path[0] == '\0')
		request_param(fr, "SCRIPT_NAME", req->path, sizeof(req->path));
	request_param(fr, "REMOTE_ADDR", req->session.remote_addr,
	    sizeof(req->session.remote_addr));
	if (request_body(fr, req) == -1) {
		*errstr = "cannot read the body";
		return -1;
	}
	return 0;
}

/*
 * The body of a batch from the daemon, all of it (at most
 * ENV_BATCH_BODY_MAX bytes).  The caller frees it.
 */
char *
request_read_batch(FCGX_Request *fr, size_t *len, const char **errstr)
{
	const char	*cl;
	char		*buf, *end, extra[64];
	unsigned long	 want;
	int		 n;

	cl = FCGX_GetParam("CONTENT_LENGTH", fr->envp);
	want = cl != NULL ? strtoul(cl, &end, 10) : 0;
	if (cl == NULL || *cl == '\0' || *end != '\0' ||
	    want > ENV_BATCH_BODY_MAX) {
		*errstr = "bad CONTENT_LENGTH";
		return NULL;
	}
	if ((buf = malloc(want + 1)) == NULL) {
		*errstr = "out of memory";
		return NULL;
	}
	for (*len = 0; *len < want; *len += (size_t)n)
		if ((n = FCGX_GetStr(buf + *len, (int)(want - *len),
		    fr->in)) <= 0) {
			free(buf);
			*errstr = "body cut short";
			return NULL;
		}
	/*
	 * Read on to the stream's end (the empty STDIN record): on a kept
	 * connection, a record left unread would be the first thing the next
	 * FCGX_Accept_r() sees, and libfcgi closes a connection whose next
	 * record is not a BEGIN_REQUEST (seen under load, with big batches).
	 */
	if ((n = FCGX_GetStr(extra, sizeof(extra), fr->in)) != 0) {
		free(buf);
		*errstr = n > 0 ? "body longer than CONTENT_LENGTH" :
		    "cannot read the body";
		return NULL;
	}
	buf[*len] = '\0';
	return buf;
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
 * Writes the CGI headers and a body, JSON unless type names another.  The
 * headers are exactly those docs/ARCHITECTURE.md names (plus Allow on a
 * 405, which HTTP requires), so the daemon's parser can stay small.
 */
int
request_answer(FCGX_Request *fr, int status, const char *allow,
    const char *type, const char *body, size_t len)
{
	char	head[256];
	int	n;

	n = snprintf(head, sizeof(head), "Status: %d %s\r\n"
	    "Content-Type: %s\r\n%s%s%s\r\n", status,
	    request_reason(status), type != NULL ? type : "application/json",
	    allow != NULL ? "Allow: " : "",
	    allow != NULL ? allow : "", allow != NULL ? "\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof(head))
		return -1;
	if (FCGX_PutStr(head, n, fr->out) != n)
		return -1;
	if (len > 0 && FCGX_PutStr(body, (int)len, fr->out) != (int)len)
		return -1;
	return 0;
}
