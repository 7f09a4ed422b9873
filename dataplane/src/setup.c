/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <stdlib.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "arp.h"
#include "control.h"
#include "fib.h"
#include "nat.h"
#include "neigh.h"
#include "setup.h"

struct dp dp;

#define QUEUE_SIZE_DEFAULT 4096
#define EVENTS_MAX 1024 /* ARP events are small and few */

static struct worker *worker_create(unsigned int id, unsigned int lcore, uint32_t qsize)
{
	char name[RTE_RING_NAMESIZE];
	/* exact sizes: a queue of 32 holds 32, so limits tests know what fits */
	const unsigned int exact = RING_F_EXACT_SZ;
	int socket = (int)rte_lcore_to_socket_id(lcore);
	struct worker *w = rte_zmalloc_socket("worker", sizeof(*w), RTE_CACHE_LINE_SIZE, socket);
	if (w == NULL)
		return NULL;
	w->id = id;
	w->lcore = lcore;
	w->params_changed = true; /* fills the token buckets */
	snprintf(name, sizeof(name), "w%u_to_ctl", id);
	w->to_ctl = rte_ring_create(name, qsize, socket, RING_F_SP_ENQ | RING_F_SC_DEQ | exact);
	snprintf(name, sizeof(name), "w%u_events", id);
	w->events = rte_ring_create_elem(name, sizeof(struct arp_event),
					 RTE_MIN(qsize, (uint32_t)EVENTS_MAX), socket,
					 RING_F_SP_ENQ | RING_F_SC_DEQ | exact);
	snprintf(name, sizeof(name), "w%u_inject", id);
	w->inject = rte_ring_create(name, qsize, socket, RING_F_SP_ENQ | RING_F_SC_DEQ | exact);
	snprintf(name, sizeof(name), "w%u_handoff", id); /* from any other worker */
	w->handoff = rte_ring_create(name, qsize, socket, RING_F_SC_DEQ | exact);
	w->rxqs = calloc(1, sizeof(struct rxq_list));
	if (w->to_ctl == NULL || w->events == NULL || w->inject == NULL || w->handoff == NULL ||
	    w->rxqs == NULL || nat_worker_init(w) < 0)
		return NULL;
	return w;
}

int dp_setup(const struct app_opts *o)
{
	int socket = (int)rte_socket_id();

	dp.tsc_hz = rte_get_tsc_hz();
	dp.n_workers = rte_lcore_count() - 1;
	if (dp.n_workers == 0 || dp.n_workers > VR_MAX_WORKERS) {
		fprintf(stderr, "need 1..%d worker lcores besides the main one (e.g. -l 0,1), got %u\n",
			VR_MAX_WORKERS, dp.n_workers);
		return -1;
	}
	/* a small pool gets small per-lcore caches: mbufs resting in the
	 * caches of idle lcores are mbufs a busy one cannot have */
	unsigned int cache = RTE_MIN(256u, o->mbufs / 8);
	dp.mp = rte_pktmbuf_pool_create("mbufs", o->mbufs, cache,
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
		dp.workers[id] = worker_create(id, lcore,
					       o->queue_size ? o->queue_size : QUEUE_SIZE_DEFAULT);
		if (dp.workers[id] == NULL) {
			fprintf(stderr, "cannot set up worker %u\n", id);
			return -1;
		}
		id++;
	}
	return 0;
}
