/*
 * The database ceiling: what the stack's MariaDB takes of the two writes
 * every relayed message costs the service (fcgi_app/db-message.c): the
 * INSERT of send_message, committed on its own before the sender's
 * success, and the delivered_at UPDATE of the written report.  It links
 * the workers' own database layer (fcgi_app/db.c, db-message.c), so the
 * statements are the service's, run under autocommit from as many client
 * connections as the stack has workers, as fast as MariaDB answers; one
 * message is both statements.  The connection settings come from the
 * stack's chat.conf.  Threads, because libmariadb blocks.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mysql.h>

#include "bench.h"
#include "config.h"
#include "../fcgi_app/fcgi_app.h"

#define DBCEIL_MAX_THREADS	256

static const char sql_ids[] =
    "SELECT id FROM users ORDER BY id LIMIT 2";

struct dbthread {
	pthread_t	 th;
	struct config	*cf;
	uint64_t	 src, dst;
	double		 t_end;
	uint64_t	 messages;
	uint64_t	 errors;
	struct lat	*lat;
	char		 err[160];
};

static MYSQL *
dbceil_connect(const struct config *cf, char *err, size_t errlen)
{
	MYSQL	*my;

	if ((my = mysql_init(NULL)) == NULL) {
		snprintf(err, errlen, "mysql_init failed");
		return NULL;
	}
	if (mysql_real_connect(my, cf->db_socket[0] ? NULL : cf->db_host,
	    cf->db_user, cf->db_password, cf->db_name, (unsigned)cf->db_port,
	    cf->db_socket[0] ? cf->db_socket : NULL, 0) == NULL) {
		snprintf(err, errlen, "connect: %s", mysql_error(my));
		mysql_close(my);
		return NULL;
	}
	return my;
}

/* One message: the INSERT, then the UPDATE of its row. */
static int
dbceil_message(struct dbthread *t, struct db *db, const char *body)
{
	struct message	m = { 0, t->src, t->dst, "", body };

	if (db_message_add(db, &m) != 1 ||
	    db_message_delivered(db, t->dst, m.id) == -1)
		return -1;
	return 0;
}

/* send_message stores only between friends: make the two accounts so. */
static int
dbceil_befriend(MYSQL *my, uint64_t a, uint64_t b)
{
	static const char	 sql[] = "INSERT IGNORE INTO friendships"
	    " (account_id, friend_id, status) VALUES (?, ?, 0)";
	MYSQL_STMT		*st;
	MYSQL_BIND		 p[2];
	int			 rc = -1;

	if ((st = mysql_stmt_init(my)) == NULL)
		return -1;
	memset(p, 0, sizeof(p));
	p[0].buffer_type = p[1].buffer_type = MYSQL_TYPE_LONGLONG;
	p[0].is_unsigned = p[1].is_unsigned = 1;
	p[0].buffer = &a;
	p[1].buffer = &b;
	if (mysql_stmt_prepare(st, sql, sizeof(sql) - 1) == 0 &&
	    mysql_stmt_bind_param(st, p) == 0 && mysql_stmt_execute(st) == 0)
		rc = 0;
	mysql_stmt_close(st);
	return rc;
}

static void *
dbceil_thread(void *arg)
{
	struct dbthread	*t = arg;
	struct db	*db;
	char		 body[BENCH_PACKET_MAX];
	uint64_t	 t0;

	memset(body, 'x', sizeof(body));
	body[opts.size < (int)sizeof(body) ? opts.size : 0] = '\0';
	mysql_thread_init();
	if ((db = db_open(t->cf)) == NULL) {
		snprintf(t->err, sizeof(t->err), "out of memory");
		goto done;
	}
	while (now_s() < t->t_end) {
		t0 = now_us();
		if (dbceil_message(t, db, body) == -1) {
			if (t->errors++ == 0)
				snprintf(t->err, sizeof(t->err),
				    "a statement failed (see the log above)");
			continue;
		}
		lat_add(t->lat, now_us() - t0);
		t->messages++;
	}
	db_close(db);
done:
	mysql_thread_end();
	return NULL;
}

/* Two existing accounts to write messages between (foreign keys). */
static int
dbceil_ids(const struct config *cf, uint64_t *a, uint64_t *b)
{
	MYSQL		*my;
	MYSQL_RES	*res;
	MYSQL_ROW	 row;
	char		 err[160];
	int		 n = 0;

	if ((my = dbceil_connect(cf, err, sizeof(err))) == NULL) {
		bench_progress("%s", err);
		return -1;
	}
	if (mysql_query(my, sql_ids) == 0 &&
	    (res = mysql_store_result(my)) != NULL) {
		while ((row = mysql_fetch_row(res)) != NULL && n < 2)
			*(n++ == 0 ? a : b) = strtoull(row[0], NULL, 10);
		mysql_free_result(res);
	}
	if (n == 1)
		*b = *a;
	if (n > 0 && dbceil_befriend(my, *a, *b) == -1) {
		bench_progress("cannot make the accounts friends: %s",
		    mysql_error(my));
		n = 0;
	}
	mysql_close(my);
	return n > 0 ? 0 : -1;
}

static int
dbceil_config(struct config *cf)
{
	char		 path[1024];
	const char	*errstr;
	int		 line;

	if (opts.stack_dir == NULL) {
		bench_progress("--stack-dir is required");
		return -1;
	}
	snprintf(path, sizeof(path), "%s/chat.conf", opts.stack_dir);
	config_defaults(cf);
	if (config_load(cf, path, &errstr, &line) == -1) {
		bench_progress("%s:%d: %s", path, line, errstr);
		return -1;
	}
	return 0;
}

int
dbceil_run(void)
{
	static struct dbthread	 th[DBCEIL_MAX_THREADS];
	struct config		 cf;
	struct procstat		*ps0, *ps1;
	struct lat		*all;
	uint64_t		 a, b, msgs = 0, errors = 0;
	double			 t0, t;
	cJSON			*o;
	int			 i, n;
	size_t			 k;

	if (dbceil_config(&cf) == -1 || mysql_library_init(0, NULL, NULL))
		return -1;
	if (dbceil_ids(&cf, &a, &b) == -1) {
		bench_progress("no accounts in the database: run relay first");
		return -1;
	}
	n = opts.threads > 0 ? opts.threads : cf.workers;
	bench_progress("%d connections, %.0f s, %d-byte bodies", n,
	    opts.duration, opts.size);
	ps0 = procstat_take(opts.stack_dir);
	bench_cpu_start();
	t0 = now_s();
	for (i = 0; i < n; i++) {
		th[i].cf = &cf;
		th[i].src = a;
		th[i].dst = b;
		th[i].t_end = t0 + opts.duration;
		th[i].lat = lat_new();
		pthread_create(&th[i].th, NULL, dbceil_thread, &th[i]);
	}
	all = lat_new();
	for (i = 0; i < n; i++) {
		pthread_join(th[i].th, NULL);
		msgs += th[i].messages;
		errors += th[i].errors;
		for (k = 0; k < lat_count(th[i].lat); k++)
			lat_add(all, lat_sample(th[i].lat, k));
		if (th[i].err[0] != '\0')
			bench_progress("connection %d: %s", i, th[i].err);
		lat_free(th[i].lat);
	}
	t = now_s() - t0;
	bench_cpu_stop();
	ps1 = procstat_take(opts.stack_dir);
	bench_progress("%" PRIu64 " messages in %.1f s: %.0f/s", msgs, t,
	    msgs / t);
	o = bench_result_new();
	cJSON_DeleteItemFromObject(o, "transport");
	cJSON_AddNumberToObject(o, "connections", n);
	cJSON_AddNumberToObject(o, "size", opts.size);
	cJSON_AddNumberToObject(o, "duration", t);
	cJSON_AddNumberToObject(o, "messages", (double)msgs);
	cJSON_AddNumberToObject(o, "errors", (double)errors);
	cJSON_AddNumberToObject(o, "messages_per_s", msgs / t);
	cJSON_AddItemToObject(o, "latency", lat_json(all));
	cJSON_AddItemToObject(o, "processes", procstat_diff(ps0, ps1, 0));
	bench_cpu_report(o);
	bench_result_print(o);
	cJSON_Delete(o);
	lat_free(all);
	procstat_free(ps0);
	procstat_free(ps1);
	mysql_library_end();
	return msgs > 0 ? 0 : -1;
}
