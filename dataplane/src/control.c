/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "arp.h"
#include "control.h"
#include "ctl.h"
#include "icmp.h"
#include "ip4_util.h"
#include "neigh.h"

#define NEIGH_TIMER_MS 10
#define ICMP_RATE_MAX 1000000

const char *const vr_counter_names[VR_CNT_MAX] = {
#define X(id, name) [VR_CNT_##id] = name,
	VR_COUNTERS(X)
#undef X
};

static unsigned int inject_rr;

/* The control thread's own token buckets, full. */
static void params_buckets_refill(void)
{
	uint64_t now = rte_rdtsc();
	dp.ctl_icmp_tb = (struct token_bucket){.tokens = dp.params.icmp_burst, .last_tsc = now};
	for (unsigned int p = 0; p < VR_MAX_PORTS; p++)
		dp.ctl_arp_tb[p] = (struct token_bucket){.tokens = dp.params.arp_burst,
							 .last_tsc = now};
}

void ctl_inject(struct rte_mbuf *m)
{
	/* Spread over workers; each inject ring has this thread as its only
	 * producer. */
	struct worker *w = dp.workers[inject_rr++ % dp.n_workers];
	if (rte_ring_enqueue(w->inject, m) != 0) {
		struct pkt_meta *meta = pkt_meta(m);
		uint16_t port = meta->action == PKT_TX ? meta->out_port : meta->in_port;
		counter_inc(dp.ctl_stats, port, VR_CNT_DROP_INJECT_RING_FULL);
		rte_pktmbuf_free(m);
	}
}

void ctl_icmp_error(struct rte_mbuf *orig, uint8_t type, uint8_t code, uint32_t info)
{
	uint16_t port = pkt_meta(orig)->in_port;
	enum vr_counter why;

	if (!icmp_error_allowed(orig))
		return;
	if (!token_bucket_take(&dp.ctl_icmp_tb, dp.params.icmp_rate, dp.params.icmp_burst)) {
		counter_inc(dp.ctl_stats, port, VR_CNT_ICMP_ERRORS_RATELIMITED);
		return;
	}
	struct rte_mbuf *e = icmp_error_build(orig, type, code, info, &dp.ctl_ip_id, &why);
	if (e == NULL) {
		counter_inc(dp.ctl_stats, port, why);
		return;
	}
	counter_inc(dp.ctl_stats, port, VR_CNT_ICMP_ERRORS_SENT);
	ctl_inject(e);
}

/* Traffic for the router that the fast path does not answer. Until a
 * control namespace consumes it, UDP gets port unreachable (so traceroute to
 * the router's address completes) and the rest is counted and dropped. */
static void punt_input(struct rte_mbuf *m)
{
	const struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
	uint16_t port = pkt_meta(m)->in_port;

	if (ip->next_proto_id == IPPROTO_UDP)
		ctl_icmp_error(m, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0);
	counter_inc(dp.ctl_stats, port, VR_CNT_DROP_PUNT_NO_CONSUMER);
	rte_pktmbuf_free(m);
}

/* At most this many bursts from each worker ring per pass: under a flood of
 * held or punted packets the control thread still gets back to its socket
 * and timers between passes; what waits fills the ring, and the workers
 * count what no longer fits (drop_ctl_ring_full). */
#define CTL_DRAIN_BURSTS 8

bool control_drain_workers(void)
{
	struct rte_mbuf *pkts[VR_BURST];
	struct arp_event evs[VR_BURST];
	bool more = false;

	for (unsigned int i = 0; i < dp.n_workers; i++) {
		struct worker *w = dp.workers[i];
		unsigned int n, b;
		for (b = 0; b < CTL_DRAIN_BURSTS; b++) {
			n = rte_ring_dequeue_burst_elem(w->events, evs, sizeof(evs[0]), VR_BURST,
							NULL);
			if (n == 0)
				break;
			for (unsigned int k = 0; k < n; k++)
				neigh_event(&evs[k]);
		}
		more |= b == CTL_DRAIN_BURSTS && !rte_ring_empty(w->events);
		for (b = 0; b < CTL_DRAIN_BURSTS; b++) {
			n = rte_ring_dequeue_burst(w->to_ctl, (void **)pkts, VR_BURST, NULL);
			if (n == 0)
				break;
			for (unsigned int k = 0; k < n; k++) {
				if (pkt_meta(pkts[k])->action == PKT_HOLD)
					neigh_hold(pkts[k]);
				else
					punt_input(pkts[k]);
			}
		}
		more |= b == CTL_DRAIN_BURSTS && !rte_ring_empty(w->to_ctl);
	}
	return more;
}

int control_init(const char *sock_path)
{
	dp.params = (struct vr_params){
		.arp_reachable_ms = 30000, /* RFC 4861's REACHABLE_TIME, as Linux */
		.arp_retrans_ms = 1000,
		.arp_max_probes = 3,
		.arp_queue_len = 16,
		.icmp_rate = 1000, /* Linux icmp_msgs_per_sec */
		.icmp_burst = 50,
		.idle_sleep_us = 0,
		.punt_rate = 2000, /* enough for ssh, BGP, monitoring; not a flood */
		.punt_burst = 500,
		/* a scan of a connected subnet does not become an ARP storm */
		.arp_rate = 1000,
		.arp_burst = 500,
	};
	params_buckets_refill();
	int rc = ctl_server_init(sock_path);
	if (rc < 0)
		return rc;
	dp.ctl_wake_fd = ctl_server_wake_fd();
	return dp.ctl_wake_fd < 0 ? -errno : 0;
}

void control_loop(void)
{
	uint64_t next_timer = 0;
	uint64_t timer_period = dp.tsc_hz / 1000 * NEIGH_TIMER_MS;

	/* Sleep until a request, a worker's wake-up or the next timer: an idle
	 * control thread costs its CPU (often the worker's too) nothing. */
	bool more = false;
	while (!dp.stop) {
		uint64_t now = rte_rdtsc();
		int wait_ms = more || now >= next_timer
				      ? 0
				      : (int)((next_timer - now) * 1000 / dp.tsc_hz) + 1;
		ctl_server_poll(wait_ms);
		more = control_drain_workers();
		now = rte_rdtsc();
		if (now >= next_timer) {
			neigh_timer();
			next_timer = now + timer_period;
		}
	}
}

void control_fini(void)
{
	ctl_server_close();
}

/* ---------------- session messages ---------------- */

static int hello_handler(const void *req, uint32_t len, struct ctl_resp *r)
{
	const struct vr_hello_req *q = req;
	(void)len;
	if (q->version != VR_CTL_VERSION)
		return ctl_err(r, EPROTO, "control protocol version %u, dataplane speaks %u",
			       q->version, VR_CTL_VERSION);
	struct vr_hello_resp *e = ctl_resp_put(r, sizeof(*e));
	*e = (struct vr_hello_resp){.version = VR_CTL_VERSION, .n_workers = dp.n_workers,
				    .n_counters = VR_CNT_MAX, .max_ports = VR_MAX_PORTS,
				    .max_vrfs = VR_MAX_VRFS, .max_nexthops = dp.max_nexthops,
				    .neigh_table_size = dp.neigh_table_size,
				    .pid = (uint32_t)getpid(), .tsc_hz = dp.tsc_hz};
	return 0;
}
CTL_HANDLER(VR_MSG_HELLO, sizeof(struct vr_hello_req), hello_handler)

static int counter_names_handler(const void *req, uint32_t len, struct ctl_resp *r)
{
	(void)req;
	(void)len;
	const struct vr_counter_names_resp *list = ctl_list_begin(r, sizeof(*list));
	(void)list; /* entries are counted by ctl_list_add() */
	for (int i = 0; i < VR_CNT_MAX; i++) {
		char *e = ctl_list_add(r, VR_NAME_LEN);
		if (e == NULL)
			return -EIO;
		snprintf(e, VR_NAME_LEN, "%s", vr_counter_names[i]);
	}
	return 0;
}
CTL_HANDLER(VR_MSG_COUNTER_NAMES, 0, counter_names_handler)

static int params_get_handler(const void *req, uint32_t len, struct ctl_resp *r)
{
	(void)req;
	(void)len;
	struct vr_params *e = ctl_resp_put(r, sizeof(*e));
	*e = dp.params;
	e->mask = 0;
	return 0;
}
CTL_HANDLER(VR_MSG_PARAMS_GET, 0, params_get_handler)

static int param_check(const char *name, uint32_t v, uint32_t lo, uint32_t hi, struct ctl_resp *r)
{
	if (v < lo || v > hi)
		return ctl_err(r, EINVAL, "%s %u out of range %u..%u", name, v, lo, hi);
	return 0;
}

static int params_set_handler(const void *req, uint32_t len, struct ctl_resp *r)
{
	const struct vr_params *q = req;
	struct vr_params p = dp.params;
	(void)len;

#define SET(bit, field, lo, hi)                                                            \
	if ((q->mask & (bit)) && param_check(#field, q->field, lo, hi, r) < 0)             \
		return -EINVAL;                                                            \
	if (q->mask & (bit))                                                               \
		p.field = q->field;
	SET(VR_PARAM_ARP_REACHABLE_MS, arp_reachable_ms, 10, 3600000)
	SET(VR_PARAM_ARP_RETRANS_MS, arp_retrans_ms, 10, 60000)
	SET(VR_PARAM_ARP_MAX_PROBES, arp_max_probes, 1, 100)
	SET(VR_PARAM_ARP_QUEUE_LEN, arp_queue_len, 0, 256)
	SET(VR_PARAM_ICMP_RATE, icmp_rate, 0, ICMP_RATE_MAX)
	SET(VR_PARAM_ICMP_BURST, icmp_burst, 0, 100000)
	SET(VR_PARAM_IDLE_SLEEP_US, idle_sleep_us, 0, 100000)
	SET(VR_PARAM_PUNT_RATE, punt_rate, 0, 10000000)
	SET(VR_PARAM_PUNT_BURST, punt_burst, 0, 100000)
	SET(VR_PARAM_ARP_RATE, arp_rate, 0, 1000000)
	SET(VR_PARAM_ARP_BURST, arp_burst, 1, 100000)
#undef SET
	if (q->mask & ~(VR_PARAM_ARP_BURST * 2 - 1))
		return ctl_err(r, EINVAL, "unknown parameter bits 0x%x in mask", q->mask);
	p.mask = 0;
	dp.params = p;
	/* Refill the buckets so a new rate applies from now on. */
	params_buckets_refill();
	for (unsigned int i = 0; i < dp.n_workers; i++)
		dp.workers[i]->params_changed = true;
	return 0;
}
CTL_HANDLER(VR_MSG_PARAMS_SET, sizeof(struct vr_params), params_set_handler)

static int worker_stats_handler(const void *req, uint32_t len, struct ctl_resp *r)
{
	(void)req;
	(void)len;
	struct vr_worker_stats_resp *e = ctl_list_begin(r, sizeof(*e));
	e->tsc_hz = dp.tsc_hz;
	for (unsigned int i = 0; i < dp.n_workers; i++) {
		struct vr_worker_stats *ws = ctl_list_add(r, sizeof(*ws));
		if (ws == NULL)
			return -EIO;
		const struct vr_worker_stats *src = &dp.workers[i]->cycles;
		ws->busy_tsc = __atomic_load_n(&src->busy_tsc, __ATOMIC_RELAXED);
		ws->packets = __atomic_load_n(&src->packets, __ATOMIC_RELAXED);
		ws->loops = __atomic_load_n(&src->loops, __ATOMIC_RELAXED);
		ws->idle_loops = __atomic_load_n(&src->idle_loops, __ATOMIC_RELAXED);
	}
	return 0;
}
CTL_HANDLER(VR_MSG_WORKER_STATS, 0, worker_stats_handler)

/* ---------------- resources ---------------- */

struct mempool_walk {
	struct ctl_resp *r;
	bool failed;
};

static void mempool_add(struct rte_mempool *mp, void *arg)
{
	struct mempool_walk *wk = arg;
	/* packet buffer pools only (rte_pktmbuf_pool_create()'s), not the
	 * FIB's node pools */
	if (wk->failed || mp->private_data_size < sizeof(struct rte_pktmbuf_pool_private))
		return;
	struct vr_mempool_info *e = ctl_list_add(wk->r, sizeof(*e));
	if (e == NULL) {
		wk->failed = true;
		return;
	}
	snprintf(e->name, sizeof(e->name), "%s", mp->name);
	e->size = mp->size;
	e->in_use = rte_mempool_in_use_count(mp);
	e->cache_size = mp->cache_size;
}

static int mempool_list_handler(const void *req, uint32_t len, struct ctl_resp *r)
{
	(void)req;
	(void)len;
	const struct vr_mempool_list_resp *list = ctl_list_begin(r, sizeof(*list));
	(void)list; /* entries are counted by ctl_list_add() */
	struct mempool_walk wk = {.r = r};
	rte_mempool_walk(mempool_add, &wk);
	return wk.failed ? -EIO : 0;
}
CTL_HANDLER(VR_MSG_MEMPOOL_LIST, 0, mempool_list_handler)
