#define _GNU_SOURCE
#include "stats.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "nodes.h"

struct stats stats;

uint64_t stats_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Bucket k holds times in [2^(k/4), 2^((k+1)/4)) ns, roughly: the octave
 * from the highest bit, the quarter from the two bits below it. */
static unsigned bucket_of(uint64_t ns)
{
	if (ns < 4)
		return (unsigned)ns;
	unsigned octave = 63 - (unsigned)__builtin_clzll(ns);
	unsigned quarter = (unsigned)(ns >> (octave - 2)) & 3;
	return octave * 4 + quarter;
}

/* The lower edge of bucket k, in ns. */
static uint64_t bucket_floor(unsigned k)
{
	if (k < 4)
		return k;
	unsigned octave = k / 4, quarter = k % 4;
	return (4ull + quarter) << (octave - 2);
}

static void add(struct latency *l, uint64_t ns)
{
	l->count++;
	l->sum_ns += ns;
	if (ns > l->max_ns)
		l->max_ns = ns;
	l->buckets[bucket_of(ns)]++;
}

void stats_record(enum op op, uint64_t host_ns, uint64_t lua_ns)
{
	add(&stats.host[op], host_ns);
	if (lua_ns)
		add(&stats.lua[op], lua_ns);
}

uint64_t stats_quantile(const struct latency *l, double q)
{
	if (!l->count)
		return 0;
	uint64_t want = (uint64_t)(q * (double)l->count), seen = 0;
	for (unsigned k = 0; k < STATS_BUCKETS; k++) {
		seen += l->buckets[k];
		if (seen > want) {
			uint64_t upper = bucket_floor(k + 1);
			return upper < l->max_ns ? upper : l->max_ns;
		}
	}
	return l->max_ns;
}

/* A table a class can read: which operations reached the host, which
 * reached the script, how many opens went passthrough. */
void stats_log(void)
{
	log_msg("stats %-12s %10s %13s", "operation", "requests", "script calls");
	for (int op = 0; op < OP_COUNT; op++) {
		if (!stats.requests[op] && !stats.lua_calls[op])
			continue;
		char calls[24] = "-";
		if (op_is_handler[op])
			snprintf(calls, sizeof calls, "%llu", (unsigned long long)stats.lua_calls[op]);
		log_msg("stats %-12s %10llu %13s", op_names[op], (unsigned long long)stats.requests[op],
			calls);
	}
	log_msg("stats io_uring: %llu requests came through the kernel's queues",
		(unsigned long long)stats.ring_requests);
	log_msg("stats opens: %llu passthrough, %llu served by the host; backing files now: %llu; "
		"inodes known: %llu",
		(unsigned long long)stats.passthrough_opens, (unsigned long long)stats.fallback_opens,
		(unsigned long long)stats.backing_ids, (unsigned long long)nodes_count());
}

struct out {
	char *buf;
	size_t size, len;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
	if (o->len + 1 >= o->size)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(o->buf + o->len, o->size - o->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n < o->size - o->len ? (size_t)n : o->size - o->len - 1;
}

static double us(uint64_t ns)
{
	return (double)ns / 1000.0;
}

static void json_latency(struct out *o, const char *name, const struct latency *l)
{
	put(o, "\"%s\": {\"count\": %llu, \"mean_us\": %.1f, \"p50_us\": %.1f, \"p99_us\": %.1f, "
	       "\"max_us\": %.1f}", name, (unsigned long long)l->count,
	    l->count ? us(l->sum_ns) / (double)l->count : 0.0, us(stats_quantile(l, 0.5)),
	    us(stats_quantile(l, 0.99)), us(l->max_ns));
}

size_t stats_report(char *buf, size_t size, int json, const char *extra)
{
	struct out o = { buf, size, 0 };
	buf[0] = '\0';
	if (json) {
		put(&o, "{\"operations\": {");
		int first = 1;
		for (int op = 0; op < OP_COUNT; op++) {
			if (!stats.requests[op] && !stats.lua_calls[op])
				continue;
			put(&o, "%s\n  \"%s\": {\"requests\": %llu, \"lua_calls\": %llu, ", first ? "" : ",",
			    op_names[op], (unsigned long long)stats.requests[op],
			    (unsigned long long)stats.lua_calls[op]);
			json_latency(&o, "host", &stats.host[op]);
			put(&o, ", ");
			json_latency(&o, "lua", &stats.lua[op]);
			put(&o, "}");
			first = 0;
		}
		put(&o, "},\n \"passthrough_opens\": %llu, \"fallback_opens\": %llu, "
		       "\"backing_files\": %llu, \"inodes\": %llu, \"ring_requests\": %llu%s%s}\n",
		    (unsigned long long)stats.passthrough_opens, (unsigned long long)stats.fallback_opens,
		    (unsigned long long)stats.backing_ids, (unsigned long long)nodes_count(),
		    (unsigned long long)stats.ring_requests,
		    extra && *extra ? ", " : "", extra ? extra : "");
		return o.len;
	}
	put(&o, "%-16s %9s %9s %9s %9s %9s %9s %9s\n", "operation", "requests", "lua", "mean us",
	    "p50 us", "p99 us", "max us", "lua us");
	for (int op = 0; op < OP_COUNT; op++) {
		const struct latency *h = &stats.host[op], *l = &stats.lua[op];
		if (!stats.requests[op] && !stats.lua_calls[op])
			continue;
		put(&o, "%-16s %9llu %9llu %9.1f %9.1f %9.1f %9.1f %9.1f\n", op_names[op],
		    (unsigned long long)stats.requests[op], (unsigned long long)stats.lua_calls[op],
		    h->count ? us(h->sum_ns) / (double)h->count : 0.0, us(stats_quantile(h, 0.5)),
		    us(stats_quantile(h, 0.99)), us(h->max_ns),
		    l->count ? us(l->sum_ns) / (double)l->count : 0.0);
	}
	put(&o, "opens: %llu passthrough, %llu served by the host; backing files now: %llu; "
	       "inodes known: %llu\nio_uring: %llu requests came through the kernel's queues\n%s",
	    (unsigned long long)stats.passthrough_opens, (unsigned long long)stats.fallback_opens,
	    (unsigned long long)stats.backing_ids, (unsigned long long)nodes_count(),
	    (unsigned long long)stats.ring_requests, extra ? extra : "");
	return o.len;
}
