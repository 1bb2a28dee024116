/*
 * The load generator: one libevent loop drives many client connections
 * through nginx (WebSocket through wslay's client mode, or the native
 * length-prefixed TCP framing), and a few workloads measure what the
 * service does with them.  bench/README.md documents every option and
 * every figure.
 */
#ifndef BENCH_H
#define BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cJSON.h>
#include <event2/event.h>
#include <event2/bufferevent.h>
#include <wslay/wslay.h>

#define BENCH_PASSWORD		"bench password"
#define BENCH_PACKET_MAX	2048
#define BENCH_SOURCES_MAX	64

enum bench_transport {
	TRANSPORT_WS,
	TRANSPORT_TCP
};

enum bconn_state {
	BCONN_CONNECTING,	/* connect(2) in progress */
	BCONN_UPGRADING,	/* WebSocket: waiting for the 101 */
	BCONN_OPEN,		/* packets flow */
	BCONN_CLOSED		/* gone; the owner has been told */
};

struct bconn;

/* What a workload is told about its connections. */
struct bconn_ops {
	void	(*open)(struct bconn *);
	void	(*packet)(struct bconn *, cJSON *, const char *command);
	void	(*closed)(struct bconn *, const char *reason);
};

/* One client connection; owned by the workload that made it. */
struct bconn {
	int			 idx;		/* index in the workload */
	enum bench_transport	 tp;
	enum bconn_state	 state;
	struct bufferevent	*bev;
	wslay_event_context_ptr	 ws;		/* WebSocket: wslay client */
	int			 in_recv;	/* inside wslay_event_recv */
	char			 ws_key[32];	/* Sec-WebSocket-Key sent */
	const struct bconn_ops	*ops;
	void			*arg;		/* the workload's, per conn */
	uint64_t		 account;	/* 0 until logon answered */
	int			 phase;		/* the workload's step */
	uint64_t		 packets_in;
	uint64_t		 packets_out;
};

/* Options shared by every workload (main.c). */
struct bench_opts {
	const char		*workload;
	const char		*label;		/* name in the results */
	const char		*host;		/* nginx's address */
	int			 http_port;
	int			 tcp_port;
	/*
	 * Another node's ports, or 0: the odd-numbered connections (a
	 * relay's receivers) go there, so every message crosses nodes.
	 */
	int			 http_port2;
	int			 tcp_port2;
	enum bench_transport	 tp;
	int			 sources;	/* 127.0.0.2 .. */
	const char		*stack_dir;	/* for /proc and the database */
	int			 pairs;
	double			 rate;		/* messages/s, 0: saturated */
	int			 inflight;	/* saturated: per sender */
	int			 size;		/* message text bytes */
	double			 duration;	/* seconds measured */
	int			 conns;		/* idle */
	int			 procs;		/* idle: 0 is automatic */
	int			 accounts;	/* idle: accounts shared */
	int			 logins;	/* login: how many */
	int			 concurrency;	/* connections setting up */
	int			 threads;	/* db: 0 is the stack's workers */
	const char		*cost;		/* login: label of the cost */
};

/* main.c */
extern struct bench_opts	 opts;
extern struct event_base	*base;
double		 now_s(void);
uint64_t	 now_us(void);
void		 bench_cpu_start(void);
void		 bench_cpu_stop(void);
void		 bench_cpu_add(double);
void		 bench_cpu_report(cJSON *);
cJSON		*bench_result_new(void);
void		 bench_result_print(cJSON *);
void		 bench_progress(const char *, ...)
		    __attribute__((format(printf, 1, 2)));

/* conn.c */
struct bconn	*bconn_new(int, const struct bconn_ops *, void *);
int		 bconn_port(const struct bconn *);
void		 bconn_free(struct bconn *);
void		 bconn_close(struct bconn *, const char *);
int		 bconn_send(struct bconn *, const char *, size_t);
int		 bconn_send_json(struct bconn *, cJSON *);
void		 bconn_deliver(struct bconn *, const char *, size_t);
int		 bconn_open_fds(void);

/* ws.c */
int		 ws_start(struct bconn *);
int		 ws_read(struct bconn *);
int		 ws_send(struct bconn *, const char *, size_t);
void		 ws_free(struct bconn *);

/* session.c: logon, login, friends */
int		 session_logon(struct bconn *, const char *);
int		 session_login(struct bconn *, uint64_t);
int		 session_logout(struct bconn *);
int		 session_add_friend(struct bconn *, uint64_t);
int		 session_confirm(struct bconn *, uint64_t);
int		 session_ok(cJSON *);
const char	*session_detail(cJSON *);
int		 session_id(cJSON *, const char *, uint64_t *);

/* setup.c: connect, logon, login, a window at a time */
struct setup;
struct setup	*setup_start(struct bconn **, int, const uint64_t *,
		    void (*)(void *), void *);
int		 setup_ready(const struct setup *);
void		 setup_handover(struct setup *, const struct bconn_ops *,
		    void *);
cJSON		*setup_json(const struct setup *);
const char	*setup_worst(const struct setup *);
void		 setup_free(struct setup *);

/* procstat.c: the stack's processes from /proc */
struct procstat;
struct procstat	*procstat_take(const char *);
void		 procstat_free(struct procstat *);
cJSON		*procstat_diff(const struct procstat *, const struct procstat *,
		    int);

/* batches.c: the daemon's batch sizes, from its admin socket */
cJSON		*batches_take(const char *stack_dir);
cJSON		*batches_diff(const cJSON *, const cJSON *);
const char	*batches_bucket(int);

/* stats.c */
struct lat;
struct lat	*lat_new(void);
void		 lat_add(struct lat *, uint64_t);
cJSON		*lat_json(struct lat *);
size_t		 lat_count(const struct lat *);
uint64_t	 lat_sample(const struct lat *, size_t);
void		 lat_free(struct lat *);

/* idle-proc.c: one of the idle workload's generator processes */
int		 idle_proc_run(int, int, struct bconn **, const uint64_t *,
		    int);
void		 idle_proc_tell(int, const char *);

/* The workloads, one file each. */
int		 relay_run(void);
int		 idle_run(void);
int		 login_run(void);
int		 dbceil_run(void);
int		 report_run(const char *);

#endif
