/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <string.h>
#include <time.h>

#include <rte_bpf.h>
#include <rte_cycles.h>
#include <rte_ring.h>

#include "capture.h"
#include "ctl.h"
#include "filter.h"
#include "port.h"

#define CAPTURE_MAX 8
#define CAPTURE_RING 8192

struct capture {
	bool active;          /* ctl writes; workers read */
	uint16_t port;
	uint8_t dirs;
	uint32_t snaplen;
	struct rte_bpf *bpf;
	int64_t remaining;    /* workers decrement; < 0 after the count */
	bool unbounded;
	struct rte_ring *ring; /* copies, MP (workers) / SC (ctl) */
	struct rte_mbuf *pending; /* ctl: did not fit the last reply */
	uint64_t captured, dropped;
};

static struct capture caps[CAPTURE_MAX];
static uint32_t next_id = 1;
static uint32_t ids[CAPTURE_MAX];
/* wall clock = real0 + (tsc - tsc0) / hz */
static uint64_t tsc0, real0_ns;

static void capture_publish_dirs(void)
{
	uint8_t dirs[VR_MAX_PORTS] = {0};
	for (int i = 0; i < CAPTURE_MAX; i++)
		if (caps[i].active)
			dirs[caps[i].port] |= caps[i].dirs;
	for (int p = 0; p < VR_MAX_PORTS; p++)
		__atomic_store_n(&dp.capture_dirs[p], dirs[p], __ATOMIC_RELEASE);
}

void capture_packets(struct worker *w, uint16_t port, uint8_t dir, struct rte_mbuf **pkts,
		     uint16_t n)
{
	uint64_t now = rte_rdtsc();
	for (int i = 0; i < CAPTURE_MAX; i++) {
		struct capture *c = &caps[i];
		if (!__atomic_load_n(&c->active, __ATOMIC_ACQUIRE) || c->port != port ||
		    !(c->dirs & dir))
			continue;
		for (uint16_t k = 0; k < n; k++) {
			if (!pkt_filter_match(c->bpf, pkts[k]))
				continue;
			if (!c->unbounded && __atomic_sub_fetch(&c->remaining, 1, __ATOMIC_RELAXED) < 0)
				break;
			struct rte_mbuf *cp = rte_pktmbuf_copy(pkts[k], dp.mp, 0,
							       c->snaplen ? c->snaplen : UINT32_MAX);
			if (cp == NULL) {
				__atomic_fetch_add(&c->dropped, 1, __ATOMIC_RELAXED);
				continue;
			}
			struct pkt_meta *m = pkt_meta(cp);
			*m = (struct pkt_meta){.in_port = port, .action = dir,
					       .nh_ip = pkts[k]->pkt_len, .tsc = now};
			if (rte_ring_enqueue(c->ring, cp) != 0) {
				rte_pktmbuf_free(cp);
				__atomic_fetch_add(&c->dropped, 1, __ATOMIC_RELAXED);
			} else {
				__atomic_fetch_add(&c->captured, 1, __ATOMIC_RELAXED);
			}
		}
	}
	(void)w;
}

static struct capture *capture_by_id(uint32_t id, struct ctl_resp *r)
{
	for (int i = 0; i < CAPTURE_MAX; i++)
		if (caps[i].ring != NULL && ids[i] == id)
			return &caps[i];
	ctl_err(r, ENOENT, "capture %u does not exist", id);
	return NULL;
}

static int capture_start_handler(const void *req, uint32_t len, struct ctl_resp *r)
{
	const struct vr_capture_start_req *q = req;
	char filter[VR_FILTER_LEN + 1], err[VR_ERR_LEN];
	bool ok;
	(void)len;
	if (!port_valid(q->port))
		return ctl_err(r, ENOENT, "port %u does not exist", q->port);
	if (q->dirs == 0 || (q->dirs & ~(VR_DIR_RX | VR_DIR_TX)))
		return ctl_err(r, EINVAL, "direction 0x%x: rx, tx or both", q->dirs);
	int slot = -1;
	for (int i = 0; i < CAPTURE_MAX && slot < 0; i++)
		if (caps[i].ring == NULL)
			slot = i;
	if (slot < 0)
		return ctl_err(r, EBUSY, "%d captures already running", CAPTURE_MAX);
	snprintf(filter, sizeof(filter), "%.*s", VR_FILTER_LEN, q->filter);
	struct rte_bpf *bpf = pkt_filter_compile(filter, &ok, err, sizeof(err));
	if (!ok)
		return ctl_err(r, EINVAL, "%s", err);
	char name[RTE_RING_NAMESIZE];
	snprintf(name, sizeof(name), "capture%u", next_id);
	struct rte_ring *ring = rte_ring_create(name, CAPTURE_RING, (int)rte_socket_id(),
						RING_F_SC_DEQ);
	if (ring == NULL) {
		rte_bpf_destroy(bpf);
		return ctl_err(r, ENOMEM, "no memory for a capture ring");
	}
	if (tsc0 == 0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		tsc0 = rte_rdtsc();
		real0_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	}
	caps[slot] = (struct capture){.port = q->port, .dirs = q->dirs, .snaplen = q->snaplen,
				      .bpf = bpf, .remaining = q->count,
				      .unbounded = q->count == 0, .ring = ring};
	ids[slot] = next_id++;
	__atomic_store_n(&caps[slot].active, true, __ATOMIC_RELEASE);
	capture_publish_dirs();
	struct vr_capture_id *e = ctl_resp_put(r, sizeof(*e));
	e->id = ids[slot];
	return 0;
}
CTL_HANDLER(VR_MSG_CAPTURE_START, sizeof(struct vr_capture_start_req), capture_start_handler)

static int capture_read_handler(const void *req, uint32_t len, struct ctl_resp *r)
{
	const struct vr_capture_id *q = req;
	(void)len;
	struct capture *c = capture_by_id(q->id, r);
	if (c == NULL)
		return -ENOENT;
	struct vr_capture_list_resp *list = ctl_list_begin(r, sizeof(*list));
	struct rte_mbuf *m;
	/* one datagram per read: what does not fit waits, in order, for the next */
	while ((m = c->pending) != NULL || rte_ring_dequeue(c->ring, (void **)&m) == 0) {
		c->pending = NULL;
		const struct pkt_meta *meta = pkt_meta(m);
		uint16_t caplen = (uint16_t)RTE_MIN(m->pkt_len, 16384u);
		uint32_t size = (uint32_t)sizeof(struct vr_captured) + RTE_ALIGN(caplen, 8);
		struct vr_captured *e = ctl_resp_put(r, size);
		if (e == NULL) {
			c->pending = m;
			break;
		}
		list->n++;
		e->time_ns = real0_ns + (meta->tsc - tsc0) * 1000000000ull / dp.tsc_hz;
		e->orig_len = meta->nh_ip;
		e->caplen = caplen;
		e->port = meta->in_port;
		e->dir = meta->action;
		const void *d = rte_pktmbuf_read(m, 0, caplen, e->data);
		if (d != e->data)
			memcpy(e->data, d, caplen);
		rte_pktmbuf_free(m);
	}
	return 0;
}
CTL_HANDLER(VR_MSG_CAPTURE_READ, sizeof(struct vr_capture_id), capture_read_handler)

static int capture_stop_handler(const void *req, uint32_t len, struct ctl_resp *r)
{
	const struct vr_capture_id *q = req;
	(void)len;
	struct capture *c = capture_by_id(q->id, r);
	if (c == NULL)
		return -ENOENT;
	__atomic_store_n(&c->active, false, __ATOMIC_RELEASE);
	capture_publish_dirs();
	rcu_sync(); /* no worker is copying into the ring or running the filter */
	struct rte_mbuf *m;
	rte_pktmbuf_free(c->pending);
	while (rte_ring_dequeue(c->ring, (void **)&m) == 0)
		rte_pktmbuf_free(m);
	struct vr_capture_stop_resp *e = ctl_resp_put(r, sizeof(*e));
	e->captured = c->captured;
	e->dropped = c->dropped;
	rte_ring_free(c->ring);
	rte_bpf_destroy(c->bpf);
	*c = (struct capture){0};
	return 0;
}
CTL_HANDLER(VR_MSG_CAPTURE_STOP, sizeof(struct vr_capture_id), capture_stop_handler)
