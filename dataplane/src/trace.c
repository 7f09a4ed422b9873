/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdio.h>

#include <rte_bpf.h>
#include <rte_cycles.h>
#include <rte_ring.h>

#include "ctl.h"
#include "filter.h"
#include "port.h"
#include "trace.h"

#define TRACE_RING 16384

/* One trace at a time: the control thread writes, workers read after
 * trace_active is set and until it is cleared (then an RCU grace period). */
static struct {
	uint32_t id;
	uint16_t port;
	struct rte_bpf *bpf;
	int64_t remaining;
	uint32_t picked;     /* packets marked so far (their numbers) */
	struct rte_ring *ring;
	uint64_t lost;       /* records that did not fit */
} tr;
static uint32_t next_id = 1;

void trace_pick(struct worker *w, uint16_t port, struct rte_mbuf **pkts, uint16_t n)
{
	(void)w;
	if (tr.port != VR_PORT_NONE && tr.port != port)
		return;
	for (uint16_t i = 0; i < n; i++) {
		if (__atomic_load_n(&tr.remaining, __ATOMIC_RELAXED) <= 0)
			return;
		if (!pkt_filter_match(tr.bpf, pkts[i]))
			continue;
		if (__atomic_sub_fetch(&tr.remaining, 1, __ATOMIC_RELAXED) < 0)
			return;
		struct pkt_meta *meta = pkt_meta(pkts[i]);
		meta->flags |= PKT_F_TRACE;
		meta->trace = __atomic_add_fetch(&tr.picked, 1, __ATOMIC_RELAXED);
		trace_record(pkts[i], VR_TRACE_RX, pkts[i]->pkt_len, 0);
	}
}

void trace_record(const struct rte_mbuf *m, uint8_t stage, uint32_t a, uint32_t b)
{
	const struct pkt_meta *meta = pkt_meta((struct rte_mbuf *)m);
	struct vr_trace_rec rec = {.packet = meta->trace, .stage = stage, .port = meta->in_port,
				   .a = a, .b = b, .tsc = rte_rdtsc()};
	if (tr.ring == NULL || rte_ring_enqueue_elem(tr.ring, &rec, sizeof(rec)) != 0)
		__atomic_fetch_add(&tr.lost, 1, __ATOMIC_RELAXED);
}

static void trace_end(void)
{
	__atomic_store_n(&dp.trace_active, false, __ATOMIC_RELEASE);
	rcu_sync(); /* no worker picks or records any more */
	rte_ring_free(tr.ring);
	rte_bpf_destroy(tr.bpf);
	tr.ring = NULL;
	tr.bpf = NULL;
	tr.id = 0;
}

static int trace_start_handler(const void *req, uint32_t len, struct ctl_resp *r)
{
	const struct vr_trace_start_req *q = req;
	char filter[VR_FILTER_LEN + 1], err[VR_ERR_LEN];
	bool ok;
	(void)len;
	if (q->port != VR_PORT_NONE && !port_valid(q->port))
		return ctl_err(r, ENOENT, "port %u does not exist", q->port);
	if (q->count == 0 || q->count > 100000)
		return ctl_err(r, EINVAL, "count %u out of range 1..100000", q->count);
	snprintf(filter, sizeof(filter), "%.*s", VR_FILTER_LEN, q->filter);
	struct rte_bpf *bpf = pkt_filter_compile(filter, &ok, err, sizeof(err));
	if (!ok)
		return ctl_err(r, EINVAL, "%s", err);
	if (tr.id != 0)
		trace_end(); /* a new trace replaces the old */
	char name[RTE_RING_NAMESIZE];
	snprintf(name, sizeof(name), "trace%u", next_id);
	tr.ring = rte_ring_create_elem(name, sizeof(struct vr_trace_rec), TRACE_RING,
				       (int)rte_socket_id(), RING_F_SC_DEQ);
	if (tr.ring == NULL) {
		rte_bpf_destroy(bpf);
		return ctl_err(r, ENOMEM, "no memory for a trace ring");
	}
	tr.id = next_id++;
	tr.port = q->port;
	tr.bpf = bpf;
	tr.remaining = q->count;
	tr.picked = 0;
	tr.lost = 0;
	__atomic_store_n(&dp.trace_active, true, __ATOMIC_RELEASE);
	struct vr_capture_id *e = ctl_resp_put(r, sizeof(*e));
	e->id = tr.id;
	return 0;
}
CTL_HANDLER(VR_MSG_TRACE_START, sizeof(struct vr_trace_start_req), trace_start_handler)

static int trace_check(const struct vr_capture_id *q, struct ctl_resp *r)
{
	if (tr.id == 0 || q->id != tr.id)
		return ctl_err(r, ENOENT, "trace %u is not running", q->id);
	return 0;
}

static int trace_read_handler(const void *req, uint32_t len, struct ctl_resp *r)
{
	(void)len;
	int rc = trace_check(req, r);
	if (rc < 0)
		return rc;
	struct vr_trace_list_resp *list = ctl_list_begin(r, sizeof(*list));
	(void)list;
	struct vr_trace_rec rec;
	while (rte_ring_dequeue_elem(tr.ring, &rec, sizeof(rec)) == 0) {
		struct vr_trace_rec *e = ctl_list_add(r, sizeof(*e));
		if (e == NULL)
			return -EIO;
		*e = rec;
	}
	return 0;
}
CTL_HANDLER(VR_MSG_TRACE_READ, sizeof(struct vr_capture_id), trace_read_handler)

static int trace_stop_handler(const void *req, uint32_t len, struct ctl_resp *r)
{
	(void)len;
	int rc = trace_check(req, r);
	if (rc < 0)
		return rc;
	struct vr_capture_stop_resp *e = ctl_resp_put(r, sizeof(*e));
	e->captured = tr.picked;
	e->dropped = tr.lost;
	trace_end();
	return 0;
}
CTL_HANDLER(VR_MSG_TRACE_STOP, sizeof(struct vr_capture_id), trace_stop_handler)
