/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vrouter-testfwd: a DPDK forwarder that misbehaves on purpose, so the
 * generator's loss, reordering, duplicate, latency and NDR logic can be
 * tested against known answers (tests/loadgen/). Not a benchmark tool.
 *
 *   vrouter-testfwd [EAL args with two ports] [-- --one-way]
 *
 * Forwards port 0 -> port 1 and, unless --one-way, port 1 -> port 0, from
 * one lcore. Prints {"event": "ready"} once both links are up, then takes
 * commands on stdin, one a line, answering each with one JSON line:
 *
 *   reset            no impairment, counters zero
 *   drop_every N     drop every Nth packet (per direction; 0 = off)
 *   dup_every N      send every Nth packet twice
 *   swap_pairs 0|1   exchange the packets of each consecutive pair
 *   rate PPS [DEPTH] token bucket: pass at most PPS packets per second,
 *                    DEPTH packets of burst (default PPS / 500: 2 ms),
 *                    drop the rest; 0 = off
 *   delay_us N       hold every packet N microseconds
 *   stats            the counters
 *   quit
 *
 * Impairments apply in that order (drop, rate, duplicate, swap, delay).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_log.h>
#include <rte_mbuf.h>

#include "ports.h"

#define BURST 32
#define NB_MBUFS 16383
#define DELAY_SLOTS 65536
/* a packet held for swapping goes alone after this (the last of an odd
 * burst): longer than a generator that lost its CPU between the two takes */
#define SWAP_TIMEOUT_MS 50

static volatile sig_atomic_t quit;

static void
on_signal(int sig __rte_unused)
{
	quit = 1;
}

struct impair {
	uint64_t drop_every, dup_every;
	bool swap;
	double rate_pps, depth;
	uint64_t delay_cycles;
};

struct counters {
	uint64_t rx, tx, dropped, rate_dropped, duplicated, swapped, tx_failed;
};

struct delayed {
	struct rte_mbuf *m;
	uint64_t release;
};

struct dir {
	uint16_t in, out;
	uint64_t seen;              /* packets received, for every-Nth */
	double tokens;
	uint64_t tokens_tsc;
	struct rte_mbuf *held;      /* swap: waiting for its partner */
	uint64_t held_tsc;
	struct delayed *q;          /* delay FIFO */
	unsigned int q_head, q_len;
	struct counters c;
};

static struct impair imp;
static uint64_t hz;

static void
send_now(struct dir *d, struct rte_mbuf **pkts, uint16_t n)
{
	uint16_t sent = 0;

	/* Low rates only: keep trying rather than drop, so the only losses
	 * are the ones asked for. */
	for (int tries = 0; sent < n && tries < 100000; tries++)
		sent += rte_eth_tx_burst(d->out, 0, pkts + sent, n - sent);
	d->c.tx += sent;
	if (sent < n) {
		d->c.tx_failed += n - sent;
		rte_pktmbuf_free_bulk(pkts + sent, n - sent);
	}
}

static void
emit(struct dir *d, struct rte_mbuf *m, uint64_t now)
{
	if (imp.delay_cycles == 0) {
		send_now(d, &m, 1);
		return;
	}
	if (d->q_len == DELAY_SLOTS) {
		d->c.tx_failed++;
		rte_pktmbuf_free(m);
		return;
	}
	d->q[(d->q_head + d->q_len) % DELAY_SLOTS] =
		(struct delayed){.m = m, .release = now + imp.delay_cycles};
	d->q_len++;
}

static void
after_swap(struct dir *d, struct rte_mbuf *m, uint64_t now)
{
	if (!imp.swap) {
		emit(d, m, now);
		return;
	}
	if (d->held == NULL) {
		d->held = m;
		d->held_tsc = now;
		return;
	}
	emit(d, m, now);
	emit(d, d->held, now);
	d->held = NULL;
	d->c.swapped++;
}

static void
process(struct dir *d, struct rte_mbuf *m, uint64_t now)
{
	d->c.rx++;
	d->seen++;
	if (imp.drop_every && d->seen % imp.drop_every == 0) {
		d->c.dropped++;
		rte_pktmbuf_free(m);
		return;
	}
	if (imp.rate_pps > 0) {
		d->tokens += (double)(now - d->tokens_tsc) * imp.rate_pps / (double)hz;
		d->tokens_tsc = now;
		if (d->tokens > imp.depth)
			d->tokens = imp.depth;
		if (d->tokens < 1.0) {
			d->c.rate_dropped++;
			rte_pktmbuf_free(m);
			return;
		}
		d->tokens -= 1.0;
	}
	if (imp.dup_every && d->seen % imp.dup_every == 0) {
		struct rte_mbuf *copy = rte_pktmbuf_copy(m, m->pool, 0, UINT32_MAX);

		if (copy != NULL) {
			after_swap(d, m, now);
			d->c.duplicated++;
			m = copy;
		}
	}
	after_swap(d, m, now);
}

static void
housekeeping(struct dir *d, uint64_t now)
{
	if (d->held != NULL && now - d->held_tsc > hz / 1000 * SWAP_TIMEOUT_MS) {
		struct rte_mbuf *m = d->held;

		d->held = NULL;
		emit(d, m, now);
	}
	while (d->q_len > 0 && d->q[d->q_head].release <= now) {
		send_now(d, &d->q[d->q_head].m, 1);
		d->q_head = (d->q_head + 1) % DELAY_SLOTS;
		d->q_len--;
	}
}

static void
reset(struct dir *dirs, unsigned int n)
{
	memset(&imp, 0, sizeof(imp));
	for (unsigned int i = 0; i < n; i++) {
		memset(&dirs[i].c, 0, sizeof(dirs[i].c));
		dirs[i].seen = 0;
	}
}

static void
print_stats(struct dir *dirs, unsigned int n)
{
	printf("{\"event\": \"stats\", \"dirs\": [");
	for (unsigned int i = 0; i < n; i++) {
		const struct counters *c = &dirs[i].c;

		printf("%s{\"in\": %u, \"out\": %u, \"rx\": %" PRIu64 ", \"tx\": %" PRIu64
		       ", \"dropped\": %" PRIu64 ", \"rate_dropped\": %" PRIu64
		       ", \"duplicated\": %" PRIu64 ", \"swapped\": %" PRIu64
		       ", \"tx_failed\": %" PRIu64 "}", i ? ", " : "", dirs[i].in, dirs[i].out,
		       c->rx, c->tx, c->dropped, c->rate_dropped, c->duplicated, c->swapped,
		       c->tx_failed);
	}
	printf("]}\n");
}

/* One command line; returns false on quit. */
static bool
command(char *line, struct dir *dirs, unsigned int n)
{
	char cmd[32] = "";
	double a = 0, b = 0;
	int got = sscanf(line, "%31s %lf %lf", cmd, &a, &b);

	if (got < 1)
		return true;
	if (strcmp(cmd, "quit") == 0)
		return false;
	if (strcmp(cmd, "reset") == 0) {
		reset(dirs, n);
	} else if (strcmp(cmd, "drop_every") == 0 && got >= 2 && a >= 0) {
		imp.drop_every = (uint64_t)a;
	} else if (strcmp(cmd, "dup_every") == 0 && got >= 2 && a >= 0) {
		imp.dup_every = (uint64_t)a;
	} else if (strcmp(cmd, "swap_pairs") == 0 && got >= 2) {
		imp.swap = a != 0;
	} else if (strcmp(cmd, "rate") == 0 && got >= 2 && a >= 0) {
		imp.rate_pps = a;
		imp.depth = got >= 3 && b >= 1 ? b : (a / 500 > 1 ? a / 500 : 1);
		for (unsigned int i = 0; i < n; i++) {
			dirs[i].tokens = imp.depth;
			dirs[i].tokens_tsc = rte_rdtsc();
		}
	} else if (strcmp(cmd, "delay_us") == 0 && got >= 2 && a >= 0) {
		imp.delay_cycles = (uint64_t)(a * (double)hz / 1e6);
	} else if (strcmp(cmd, "stats") == 0) {
		print_stats(dirs, n);
		fflush(stdout);
		return true;
	} else {
		printf("{\"event\": \"error\", \"message\": \"bad command: %s\"}\n", cmd);
		fflush(stdout);
		return true;
	}
	printf("{\"event\": \"ok\", \"command\": \"%s\"}\n", cmd);
	fflush(stdout);
	return true;
}

int
main(int argc, char **argv)
{
	static struct dir dirs[2];
	uint16_t ports[2] = {0, 1};
	struct rte_mempool *pool;
	char buf[4096];
	size_t used = 0;
	unsigned int n_dirs = 2;
	uint64_t next_poll;
	int ret;

	rte_openlog_stream(stderr);
	ret = rte_eal_init(argc, argv);
	if (ret < 0) {
		fprintf(stderr, "vrouter-testfwd: EAL init: %s\n", rte_strerror(rte_errno));
		return 2;
	}
	for (int i = ret + 1; i < argc; i++) {
		if (strcmp(argv[i], "--one-way") == 0)
			n_dirs = 1;
		else if (strcmp(argv[i], "--") != 0) {
			fprintf(stderr, "vrouter-testfwd: unknown argument %s\n", argv[i]);
			return 2;
		}
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	hz = rte_get_tsc_hz();
	if (rte_eth_dev_count_avail() < 2) {
		fprintf(stderr, "vrouter-testfwd: needs two ports\n");
		return 2;
	}
	pool = rte_pktmbuf_pool_create("fwd", NB_MBUFS, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				       rte_socket_id());
	if (pool == NULL || port_setup(0, pool, 1) < 0 || port_setup(1, pool, 1) < 0) {
		fprintf(stderr, "vrouter-testfwd: setup failed\n");
		return 1;
	}
	if (ports_start(ports, 2, 30, &quit) < 0)
		return 1;
	for (unsigned int i = 0; i < 2; i++) {
		dirs[i].in = ports[i];
		dirs[i].out = ports[1 - i];
		dirs[i].q = calloc(DELAY_SLOTS, sizeof(struct delayed));
		if (dirs[i].q == NULL)
			return 1;
	}
	fcntl(STDIN_FILENO, F_SETFL, fcntl(STDIN_FILENO, F_GETFL) | O_NONBLOCK);
	printf("{\"event\": \"ready\"}\n");
	fflush(stdout);

	next_poll = rte_rdtsc();
	while (!quit) {
		uint64_t now = rte_rdtsc();

		for (unsigned int i = 0; i < n_dirs; i++) {
			struct rte_mbuf *pkts[BURST];
			uint16_t nb = rte_eth_rx_burst(dirs[i].in, 0, pkts, BURST);

			/* A fresh time for the delay: the loop's may be old if
			 * we lost the CPU after taking it, and a packet must
			 * never be held less than asked. */
			if (nb > 0)
				now = rte_rdtsc();
			for (uint16_t k = 0; k < nb; k++)
				process(&dirs[i], pkts[k], now);
			housekeeping(&dirs[i], now);
		}
		if (now < next_poll)
			continue;
		/* Commands, every millisecond: between packets, so a change
		 * applies from one packet to the next. */
		next_poll = now + hz / 1000;
		for (;;) {
			ssize_t r = read(STDIN_FILENO, buf + used, sizeof(buf) - 1 - used);
			char *nl;

			if (r == 0) {
				quit = 1; /* stdin closed */
				break;
			}
			if (r < 0)
				break; /* EAGAIN */
			used += (size_t)r;
			buf[used] = '\0';
			while ((nl = strchr(buf, '\n')) != NULL) {
				*nl = '\0';
				if (!command(buf, dirs, n_dirs))
					quit = 1;
				used -= (size_t)(nl + 1 - buf);
				memmove(buf, nl + 1, used + 1);
			}
			if (used == sizeof(buf) - 1)
				used = 0; /* a line too long: drop it */
		}
	}
	ports_stop(ports, 2);
	rte_eal_cleanup();
	return 0;
}
