/* SPDX-License-Identifier: BSD-3-Clause
 * vrouter-dataplane: EAL setup, workers on their lcores, the control thread
 * on the main lcore.
 *
 *   vrouter-dataplane [EAL options] -- --socket PATH [options]
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "control.h"
#include "fib.h"
#include "nat.h"
#include "neigh.h"
#include "port.h"
#include "worker.h"

struct dp dp;

struct app_opts {
	const char *socket;
	uint32_t mbufs;
	uint32_t nexthops;
	uint32_t neigh_table;
	uint32_t vrf0_routes;
	uint32_t vrf0_tbl8;
	uint32_t nat_sessions;
};

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [EAL options] -- --socket PATH [options]\n"
		"  --socket PATH        control channel unix socket (required)\n"
		"  --mbufs N            packet buffers in the pool (default 32768)\n"
		"  --nexthops N         next-hop table size (default 65536)\n"
		"  --neigh-table N      ARP table size (default 4096)\n"
		"  --vrf0-routes N      route capacity of the default VRF (default 65536)\n"
		"  --vrf0-tbl8 N        /25-/32 groups of the default VRF (default 4096)\n"
		"  --nat-sessions N     NAT sessions, all workers together (default 65536)\n",
		prog);
}

static int parse_u32(const char *opt, const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 0);
	if (errno != 0 || *end != '\0' || *s == '\0' || v < min || v > max) {
		fprintf(stderr, "--%s: '%s' is not a number in %u..%u\n", opt, s, min, max);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

static int parse_args(int argc, char **argv, struct app_opts *o)
{
	static const struct option longopts[] = {
		{"socket", required_argument, NULL, 's'},
		{"mbufs", required_argument, NULL, 'm'},
		{"nexthops", required_argument, NULL, 'n'},
		{"neigh-table", required_argument, NULL, 'a'},
		{"vrf0-routes", required_argument, NULL, 'r'},
		{"vrf0-tbl8", required_argument, NULL, 't'},
		{"nat-sessions", required_argument, NULL, 'N'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	*o = (struct app_opts){.mbufs = 32768, .nexthops = 65536, .neigh_table = 4096,
			       .vrf0_routes = 0, .vrf0_tbl8 = 0, .nat_sessions = 65536};
	int c, rc = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 's': o->socket = optarg; break;
		case 'm': rc |= parse_u32("mbufs", optarg, 1024, 1u << 24, &o->mbufs); break;
		case 'n': rc |= parse_u32("nexthops", optarg, 16, 1u << 24, &o->nexthops); break;
		case 'a': rc |= parse_u32("neigh-table", optarg, 8, 1u << 20, &o->neigh_table); break;
		case 'r': rc |= parse_u32("vrf0-routes", optarg, 16, 1u << 26, &o->vrf0_routes); break;
		case 't': rc |= parse_u32("vrf0-tbl8", optarg, 16, 1u << 20, &o->vrf0_tbl8); break;
		case 'N': rc |= parse_u32("nat-sessions", optarg, 64, 1u << 26, &o->nat_sessions); break;
		default: usage(argv[0]); return -1;
		}
	}
	if (rc != 0)
		return -1;
	if (optind < argc) {
		fprintf(stderr, "unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (o->socket == NULL) {
		fprintf(stderr, "--socket is required\n");
		usage(argv[0]);
		return -1;
	}
	return 0;
}

static void on_signal(int sig)
{
	(void)sig;
	dp.stop = true;
}

static struct worker *worker_create(unsigned int id, unsigned int lcore)
{
	char name[RTE_RING_NAMESIZE];
	int socket = (int)rte_lcore_to_socket_id(lcore);
	struct worker *w = rte_zmalloc_socket("worker", sizeof(*w), RTE_CACHE_LINE_SIZE, socket);
	if (w == NULL)
		return NULL;
	w->id = id;
	w->lcore = lcore;
	w->params_changed = true; /* fills the token buckets */
	snprintf(name, sizeof(name), "w%u_to_ctl", id);
	w->to_ctl = rte_ring_create(name, 4096, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
	snprintf(name, sizeof(name), "w%u_events", id);
	w->events = rte_ring_create_elem(name, sizeof(struct arp_event), 1024, socket,
					 RING_F_SP_ENQ | RING_F_SC_DEQ);
	snprintf(name, sizeof(name), "w%u_inject", id);
	w->inject = rte_ring_create(name, 4096, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
	snprintf(name, sizeof(name), "w%u_handoff", id); /* from any other worker */
	w->handoff = rte_ring_create(name, 4096, socket, RING_F_SC_DEQ);
	w->rxqs = calloc(1, sizeof(struct rxq_list));
	if (w->to_ctl == NULL || w->events == NULL || w->inject == NULL || w->handoff == NULL ||
	    w->rxqs == NULL || nat_worker_init(w) < 0)
		return NULL;
	return w;
}

static int setup(const struct app_opts *o)
{
	int socket = (int)rte_socket_id();

	dp.tsc_hz = rte_get_tsc_hz();
	dp.n_workers = rte_lcore_count() - 1;
	if (dp.n_workers == 0 || dp.n_workers > VR_MAX_WORKERS) {
		fprintf(stderr, "need 1..%d worker lcores besides the main one (e.g. -l 0,1), got %u\n",
			VR_MAX_WORKERS, dp.n_workers);
		return -1;
	}
	dp.mp = rte_pktmbuf_pool_create("mbufs", o->mbufs, 256,
					RTE_ALIGN(sizeof(struct pkt_meta), RTE_MBUF_PRIV_ALIGN),
					RTE_MBUF_DEFAULT_BUF_SIZE, socket);
	if (dp.mp == NULL) {
		fprintf(stderr, "cannot create a pool of %u mbufs: %s\n", o->mbufs,
			rte_strerror(rte_errno));
		return -1;
	}
	size_t qs_size = rte_rcu_qsbr_get_memsize(dp.n_workers);
	dp.qs = rte_zmalloc("rcu", qs_size, RTE_CACHE_LINE_SIZE);
	if (dp.qs == NULL || rte_rcu_qsbr_init(dp.qs, dp.n_workers) != 0)
		return -1;
	if (fib_init(o->nexthops) < 0 || neigh_init(o->neigh_table) < 0 ||
	    nat_init(o->nat_sessions) < 0) {
		fprintf(stderr, "cannot allocate the next-hop or neighbour tables\n");
		return -1;
	}
	if (control_init(o->socket) < 0)
		return -1;
	struct ctl_resp *none = NULL;
	if (vrf_create(0, o->vrf0_routes, o->vrf0_tbl8, none) < 0) {
		fprintf(stderr, "cannot create the default VRF\n");
		return -1;
	}
	unsigned int lcore, id = 0;
	RTE_LCORE_FOREACH_WORKER(lcore) {
		dp.workers[id] = worker_create(id, lcore);
		if (dp.workers[id] == NULL) {
			fprintf(stderr, "cannot set up worker %u\n", id);
			return -1;
		}
		id++;
	}
	for (id = 0; id < dp.n_workers; id++)
		rte_eal_remote_launch(worker_main, dp.workers[id], dp.workers[id]->lcore);
	return 0;
}

int main(int argc, char **argv)
{
	struct app_opts opts;

	int n = rte_eal_init(argc, argv);
	if (n < 0) {
		fprintf(stderr, "EAL init failed: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	argv[n] = argv[0];
	if (parse_args(argc - n, argv + n, &opts) < 0) {
		rte_eal_cleanup();
		return 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN); /* a peer closing a socket (vhost-user, control) is not fatal */
	if (setup(&opts) < 0) {
		rte_eal_cleanup();
		return 1;
	}
	printf("vrouter-dataplane ready: socket %s, %u worker(s), pid %d\n", opts.socket,
	       dp.n_workers, getpid());
	fflush(stdout);

	control_loop();

	for (unsigned int i = 0; i < dp.n_workers; i++)
		dp.workers[i]->stop = true;
	rte_eal_mp_wait_lcore();
	ports_close_all();
	control_fini();
	vrf_destroy_all();
	rte_eal_cleanup();
	return 0;
}
