/*
 * The packets a benchmark client sends to get ready (PROTOCOL.md section
 * 4): logon, login, logout, add_friend, add_friend_confirm, and readers
 * for the answers.  Every account has the same password.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static int
session_send(struct bconn *c, cJSON *p)
{
	int	rc;

	if (p == NULL)
		return -1;
	rc = bconn_send_json(c, p);
	cJSON_Delete(p);
	return rc;
}

static cJSON *
session_packet(const char *command)
{
	cJSON	*p;

	if ((p = cJSON_CreateObject()) == NULL)
		return NULL;
	if (cJSON_AddStringToObject(p, "command", command) == NULL) {
		cJSON_Delete(p);
		return NULL;
	}
	return p;
}

static int
session_add_id(cJSON *p, const char *name, uint64_t id)
{
	char	buf[24];

	snprintf(buf, sizeof(buf), "%" PRIu64, id);
	return cJSON_AddStringToObject(p, name, buf) == NULL ? -1 : 0;
}

int
session_logon(struct bconn *c, const char *username)
{
	cJSON	*p;

	if ((p = session_packet("logon")) == NULL ||
	    cJSON_AddStringToObject(p, "username", username) == NULL ||
	    cJSON_AddStringToObject(p, "password", BENCH_PASSWORD) == NULL) {
		cJSON_Delete(p);
		return -1;
	}
	return session_send(c, p);
}

int
session_login(struct bconn *c, uint64_t id)
{
	cJSON	*p;

	if ((p = session_packet("login")) == NULL ||
	    session_add_id(p, "id", id) == -1 ||
	    cJSON_AddStringToObject(p, "password", BENCH_PASSWORD) == NULL) {
		cJSON_Delete(p);
		return -1;
	}
	return session_send(c, p);
}

int
session_logout(struct bconn *c)
{
	cJSON	*p;

	if ((p = session_packet("logout")) == NULL ||
	    session_add_id(p, "id", c->account) == -1) {
		cJSON_Delete(p);
		return -1;
	}
	return session_send(c, p);
}

/* c asks to for friendship. */
int
session_add_friend(struct bconn *c, uint64_t to)
{
	cJSON	*p;

	if ((p = session_packet("add_friend")) == NULL ||
	    session_add_id(p, "src", c->account) == -1 ||
	    session_add_id(p, "dst", to) == -1 ||
	    cJSON_AddStringToObject(p, "status", "0") == NULL) {
		cJSON_Delete(p);
		return -1;
	}
	return session_send(c, p);
}

/* c confirms the request from. */
int
session_confirm(struct bconn *c, uint64_t from)
{
	cJSON	*p;

	if ((p = session_packet("add_friend_confirm")) == NULL ||
	    session_add_id(p, "src", from) == -1 ||
	    session_add_id(p, "dst", c->account) == -1 ||
	    cJSON_AddStringToObject(p, "status", "0") == NULL ||
	    cJSON_AddStringToObject(p, "message", "confirm_two_way") == NULL) {
		cJSON_Delete(p);
		return -1;
	}
	return session_send(c, p);
}

int
session_ok(cJSON *p)
{
	const cJSON	*s = cJSON_GetObjectItemCaseSensitive(p, "status");

	return cJSON_IsString(s) && strcmp(s->valuestring, "success") == 0;
}

const char *
session_detail(cJSON *p)
{
	const cJSON	*d = cJSON_GetObjectItemCaseSensitive(p, "detail");

	return cJSON_IsString(d) ? d->valuestring : "(no detail)";
}

/* Reads the decimal id string p.name. */
int
session_id(cJSON *p, const char *name, uint64_t *id)
{
	const cJSON	*v = cJSON_GetObjectItemCaseSensitive(p, name);
	char		*end;

	if (!cJSON_IsString(v) || v->valuestring[0] == '\0')
		return -1;
	*id = strtoull(v->valuestring, &end, 10);
	return *end == '\0' ? 0 : -1;
}
