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
#include "setup.h"
#include "worker.h"

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
		"  --nat-sessions N     NAT sessions, all workers together (default 65536)\n"
		"  --queue-size N       entries of each queue between threads: to the control\n"
		"                       thread, from it, between workers (default 4096)\n",
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
		{"queue-size", required_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	*o = (struct app_opts){.mbufs = 32768, .nexthops = 65536, .neigh_table = 4096,
			       .vrf0_routes = 0, .vrf0_tbl8 = 0, .nat_sessions = 65536,
			       .queue_size = 4096};
	int c, rc = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 's': o->socket = optarg; break;
		case 'm': rc |= parse_u32("mbufs", optarg, 256, 1u << 24, &o->mbufs); break;
		case 'n': rc |= parse_u32("nexthops", optarg, 16, 1u << 24, &o->nexthops); break;
		case 'a': rc |= parse_u32("neigh-table", optarg, 8, 1u << 20, &o->neigh_table); break;
		case 'r': rc |= parse_u32("vrf0-routes", optarg, 16, 1u << 26, &o->vrf0_routes); break;
		case 't': rc |= parse_u32("vrf0-tbl8", optarg, 16, 1u << 20, &o->vrf0_tbl8); break;
		case 'N': rc |= parse_u32("nat-sessions", optarg, 32, 1u << 26, &o->nat_sessions); break;
		case 'q': rc |= parse_u32("queue-size", optarg, 32, 1u << 20, &o->queue_size); break;
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

static int setup(const struct app_opts *o)
{
	if (dp_setup(o) < 0)
		return -1;
	for (unsigned int id = 0; id < dp.n_workers; id++)
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
