/*
 * bench: the load generator's entry point.  `bench WORKLOAD [options]`
 * runs one workload against a running stack and prints one JSON object
 * on stdout (progress goes to stderr); `bench report FILE` prints the
 * markdown table of a results file.  bench/README.md lists the options.
 */
#include <sys/resource.h>
#include <sys/time.h>

#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

struct bench_opts	 opts = {
	.label = NULL,
	.host = "127.0.0.1",
	.http_port = 8080,
	.tcp_port = 9000,
	.tp = TRANSPORT_WS,
	.sources = 8,
	.pairs = 200,
	.rate = 0,
	.inflight = 8,
	.size = 64,
	.duration = 10,
	.conns = 1000,
	.accounts = 100,
	.logins = 200,
	.concurrency = 64,
	.threads = 0,
	.cost = "",
};
struct event_base	*base;

static struct rusage	 cpu_ru;
static double		 cpu_t;
static double		 cpu_cores;

static const struct option long_opts[] = {
	{ "label", required_argument, NULL, 'L' },
	{ "host", required_argument, NULL, 'H' },
	{ "http-port", required_argument, NULL, 'h' },
	{ "tcp-port", required_argument, NULL, 't' },
	{ "http-port2", required_argument, NULL, 'x' },
	{ "tcp-port2", required_argument, NULL, 'y' },
	{ "transport", required_argument, NULL, 'T' },
	{ "sources", required_argument, NULL, 'S' },
	{ "stack-dir", required_argument, NULL, 'd' },
	{ "pairs", required_argument, NULL, 'p' },
	{ "rate", required_argument, NULL, 'r' },
	{ "inflight", required_argument, NULL, 'w' },
	{ "size", required_argument, NULL, 's' },
	{ "duration", required_argument, NULL, 'D' },
	{ "conns", required_argument, NULL, 'c' },
	{ "procs", required_argument, NULL, 'P' },
	{ "accounts", required_argument, NULL, 'a' },
	{ "logins", required_argument, NULL, 'l' },
	{ "concurrency", required_argument, NULL, 'C' },
	{ "threads", required_argument, NULL, 'j' },
	{ "cost", required_argument, NULL, 'k' },
	{ NULL, 0, NULL, 0 }
};

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
	    "usage: bench relay|idle|login|db [--label L] [--host A]\n"
	    "\t[--http-port P] [--tcp-port Q] [--transport ws|tcp]\n"
	    "\t[--http-port2 P2 --tcp-port2 Q2]\n"
	    "\t[--sources N] [--stack-dir DIR] [--pairs P] [--rate R]\n"
	    "\t[--inflight W] [--size S] [--duration T] [--conns C]\n"
	    "\t[--procs P] [--accounts A] [--logins N] [--concurrency K]\n"
	    "\t[--threads J] [--cost LABEL]\n"
	    "       bench report RESULTS.json\n");
	exit(2);
}

double
now_s(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

uint64_t
now_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* One write per line: the idle workload's processes share stderr. */
void
bench_progress(const char *fmt, ...)
{
	va_list	ap;
	char	line[512];
	int	n;

	n = snprintf(line, sizeof(line), "bench %s: ", opts.label);
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s\n", line);
}

/* The measured phase starts: the generator's own CPU from here. */
void
bench_cpu_start(void)
{
	getrusage(RUSAGE_SELF, &cpu_ru);
	cpu_t = now_s();
}

static double
tv_s(const struct timeval *tv)
{
	return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

/* The measured phase ends. */
void
bench_cpu_stop(void)
{
	struct rusage	ru;
	double		wall;

	getrusage(RUSAGE_SELF, &ru);
	wall = now_s() - cpu_t;
	cpu_cores = wall <= 0 ? 0 : (tv_s(&ru.ru_utime) -
	    tv_s(&cpu_ru.ru_utime) + tv_s(&ru.ru_stime) -
	    tv_s(&cpu_ru.ru_stime)) / wall;
}

/* CPU the idle workload's generator processes used, added to ours. */
void
bench_cpu_add(double cores)
{
	cpu_cores += cores;
}

/* The generator's CPU in the measured phase, in cores; a warning in o. */
void
bench_cpu_report(cJSON *o)
{
	char	warning[128];

	cJSON_AddNumberToObject(o, "generator_cpu_cores", cpu_cores);
	if (cpu_cores > 0.5) {
		snprintf(warning, sizeof(warning), "the generator used more "
		    "than half a core: it competed with the stack for the "
		    "machine's %ld cores", sysconf(_SC_NPROCESSORS_ONLN));
		cJSON_AddStringToObject(o, "warning", warning);
	}
}

cJSON *
bench_result_new(void)
{
	cJSON	*o;

	if ((o = cJSON_CreateObject()) == NULL) {
		fprintf(stderr, "bench: out of memory\n");
		exit(1);
	}
	cJSON_AddStringToObject(o, "label", opts.label);
	cJSON_AddStringToObject(o, "workload", opts.workload);
	cJSON_AddStringToObject(o, "transport",
	    opts.tp == TRANSPORT_WS ? "ws" : "tcp");
	if (opts.http_port2 != 0 || opts.tcp_port2 != 0)
		cJSON_AddStringToObject(o, "nodes", "split");
	return o;
}

void
bench_result_print(cJSON *o)
{
	char	*s;

	if ((s = cJSON_PrintUnformatted(o)) == NULL) {
		fprintf(stderr, "bench: out of memory\n");
		exit(1);
	}
	printf("%s\n", s);
	fflush(stdout);
	free(s);
}

static int
opt_int(const char *v, int lo, int hi)
{
	char	*end;
	long	 n;

	n = strtol(v, &end, 10);
	if (*v == '\0' || *end != '\0' || n < lo || n > hi) {
		fprintf(stderr, "bench: %s: want a number in %d..%d\n", v, lo,
		    hi);
		exit(2);
	}
	return (int)n;
}

static double
opt_double(const char *v, double lo)
{
	char	*end;
	double	 d;

	d = strtod(v, &end);
	if (*v == '\0' || *end != '\0' || d < lo) {
		fprintf(stderr, "bench: %s: want a number >= %g\n", v, lo);
		exit(2);
	}
	return d;
}

static void
parse_opt(int ch, const char *v)
{
	switch (ch) {
	case 'L': opts.label = v; break;
	case 'H': opts.host = v; break;
	case 'h': opts.http_port = opt_int(v, 1, 65535); break;
	case 't': opts.tcp_port = opt_int(v, 1, 65535); break;
	case 'x': opts.http_port2 = opt_int(v, 1, 65535); break;
	case 'y': opts.tcp_port2 = opt_int(v, 1, 65535); break;
	case 'T':
		if (strcmp(v, "ws") == 0)
			opts.tp = TRANSPORT_WS;
		else if (strcmp(v, "tcp") == 0)
			opts.tp = TRANSPORT_TCP;
		else
			usage();
		break;
	case 'S': opts.sources = opt_int(v, 1, BENCH_SOURCES_MAX); break;
	case 'd': opts.stack_dir = v; break;
	case 'p': opts.pairs = opt_int(v, 1, 10000); break;
	case 'r': opts.rate = opt_double(v, 0); break;
	case 'w': opts.inflight = opt_int(v, 1, 1000); break;
	case 's': opts.size = opt_int(v, 32, 1800); break;
	case 'D': opts.duration = opt_double(v, 0.1); break;
	case 'c': opts.conns = opt_int(v, 1, 100000); break;
	case 'P': opts.procs = opt_int(v, 0, 64); break;
	case 'a': opts.accounts = opt_int(v, 1, 100000); break;
	case 'l': opts.logins = opt_int(v, 1, 1000000); break;
	case 'C': opts.concurrency = opt_int(v, 1, 10000); break;
	case 'j': opts.threads = opt_int(v, 0, 256); break;
	case 'k': opts.cost = v; break;
	default: usage();
	}
}

int
main(int argc, char **argv)
{
	int	ch, rc;

	if (argc < 2)
		usage();
	opts.workload = argv[1];
	if (strcmp(opts.workload, "report") == 0) {
		if (argc != 3)
			usage();
		return report_run(argv[2]) == 0 ? 0 : 1;
	}
	optind = 2;
	while ((ch = getopt_long(argc, argv, "", long_opts, NULL)) != -1)
		parse_opt(ch, optarg);
	if (optind != argc)
		usage();
	if (opts.label == NULL)
		opts.label = opts.workload;
	signal(SIGPIPE, SIG_IGN);
	if ((base = event_base_new()) == NULL) {
		fprintf(stderr, "bench: event_base_new failed\n");
		return 1;
	}
	if (strcmp(opts.workload, "relay") == 0)
		rc = relay_run();
	else if (strcmp(opts.workload, "idle") == 0)
		rc = idle_run();
	else if (strcmp(opts.workload, "login") == 0)
		rc = login_run();
	else if (strcmp(opts.workload, "db") == 0)
		rc = dbceil_run();
	else
		usage();
	event_base_free(base);
	return rc == 0 ? 0 : 1;
}
