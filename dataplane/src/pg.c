/* SPDX-License-Identifier: BSD-3-Clause
 * Ring ports for deterministic packet tests, like VPP's packet generator:
 * the test injects frames into a port's rx ring and later collects what the
 * dataplane sent on its tx rings, byte for byte. No kernel, no timing.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_eth_ring.h>
#include <rte_ring.h>

#include "ctl.h"
#include "port.h"

#define PG_RING_SIZE 4096
#define PG_MAX_FRAME 16384
#define PG_FLOOD_MAX_FRAMES 1024
#define PG_FLOOD_FRAME_MAX 1900 /* one segment */

static unsigned int pg_seq; /* unique ring names across port reuse */

/* ---------------- traffic generator, for overload tests ---------------- */

/* A thread of its own (not an lcore: it competes for the CPU like traffic
 * from outside would), copying the given frames into a ring port's rx ring
 * as fast as it can. What the ring cannot take is refused, as a NIC misses
 * frames when its rx ring is full; the counts tell offered from accepted. */
struct pg_flood {
	pthread_t thread;
	bool joinable;           /* ctl */
	volatile bool stop;      /* ctl -> thread */
	volatile bool done;      /* thread -> ctl */
	uint16_t port;
	uint32_t n_frames;
	uint64_t count;          /* 0: until stopped */
	uint16_t len[PG_FLOOD_MAX_FRAMES];
	uint8_t *frames;         /* n_frames * PG_FLOOD_FRAME_MAX bytes */
	uint64_t offered, accepted, no_mbuf; /* written by the thread */
};

static struct pg_flood *floods[VR_MAX_PORTS]; /* ctl */

static bool pg_flood_running(uint16_t port)
{
	return port < VR_MAX_PORTS && floods[port] != NULL && !floods[port]->done;
}

static void *pg_flood_main(void *arg)
{
	struct pg_flood *f = arg;
	struct rte_ring *ring = dp.ports[f->port].pg_rx[0];
	struct rte_mbuf *b[VR_BURST];
	uint32_t next = 0;

	while (!f->stop && (f->count == 0 || f->offered < f->count)) {
		uint32_t want = VR_BURST, got = 0;
		if (f->count != 0 && f->count - f->offered < want)
			want = (uint32_t)(f->count - f->offered);
		if (rte_pktmbuf_alloc_bulk(dp.mp, b, want) == 0) {
			got = want;
		} else { /* the pool is low: one at a time, what there is */
			while (got < want && (b[got] = rte_pktmbuf_alloc(dp.mp)) != NULL)
				got++;
		}
		for (uint32_t k = 0; k < got; k++) {
			uint16_t len = f->len[next];
			memcpy(rte_pktmbuf_append(b[k], len), f->frames + (size_t)next * PG_FLOOD_FRAME_MAX,
			       len);
			next = (next + 1) % f->n_frames;
		}
		uint32_t in = rte_ring_enqueue_burst(ring, (void **)b, got, NULL);
		for (uint32_t k = in; k < got; k++)
			rte_pktmbuf_free(b[k]);
		__atomic_store_n(&f->offered, f->offered + want, __ATOMIC_RELAXED);
		__atomic_store_n(&f->accepted, f->accepted + in, __ATOMIC_RELAXED);
		__atomic_store_n(&f->no_mbuf, f->no_mbuf + (want - got), __ATOMIC_RELAXED);
	}
	__atomic_store_n(&f->done, true, __ATOMIC_RELEASE);
	return NULL;
}

static void pg_flood_read(const struct pg_flood *f, struct vr_pg_flood_stats *st)
{
	*st = (struct vr_pg_flood_stats){
		.port = f->port, .running = !__atomic_load_n(&f->done, __ATOMIC_ACQUIRE),
		.offered = __atomic_load_n(&f->offered, __ATOMIC_RELAXED),
		.accepted = __atomic_load_n(&f->accepted, __ATOMIC_RELAXED),
		.no_mbuf = __atomic_load_n(&f->no_mbuf, __ATOMIC_RELAXED)};
}

/* Stops and frees the port's generator; its last counts into `st`. */
static void pg_flood_stop(uint16_t port, struct vr_pg_flood_stats *st)
{
	struct pg_flood *f = port < VR_MAX_PORTS ? floods[port] : NULL;
	if (f == NULL)
		return;
	f->stop = true;
	if (f->joinable)
		pthread_join(f->thread, NULL);
	if (st != NULL)
		pg_flood_read(f, st);
	free(f->frames);
	free(f);
	floods[port] = NULL;
}

int pg_port_create(const char *name, uint16_t rxd, uint16_t txd, uint16_t *port_id,
		   struct ctl_resp *r)
{
	struct rte_ring *rx[VR_MAX_WORKERS] = {0}, *tx[VR_MAX_WORKERS] = {0};
	char rname[RTE_RING_NAMESIZE], ename[RTE_ETH_NAME_MAX_LEN];
	unsigned int seq = pg_seq++, nq = dp.n_workers, i;
	int socket = (int)rte_socket_id();

	for (i = 0; i < nq; i++) {
		snprintf(rname, sizeof(rname), "pg%u_rx%u", seq, i);
		/* a size asked for is exact (an overload test sizes the rx ring it
		 * overruns); the default holds PG_RING_SIZE - 1 */
		rx[i] = rte_ring_create(rname, rxd ? rxd : PG_RING_SIZE, socket,
					RING_F_SP_ENQ | RING_F_SC_DEQ | (rxd ? RING_F_EXACT_SZ : 0));
		snprintf(rname, sizeof(rname), "pg%u_tx%u", seq, i);
		tx[i] = rte_ring_create(rname, txd ? txd : PG_RING_SIZE, socket,
					RING_F_SC_DEQ | (txd ? RING_F_EXACT_SZ : 0));
		if (rx[i] == NULL || tx[i] == NULL)
			goto fail;
	}
	snprintf(ename, sizeof(ename), "pg%u_%s", seq, name);
	int pid = rte_eth_from_rings(ename, rx, nq, tx, nq, (unsigned int)socket);
	if (pid < 0 || pid >= VR_MAX_PORTS)
		goto fail;
	memcpy(dp.ports[pid].pg_rx, rx, sizeof(rx));
	memcpy(dp.ports[pid].pg_tx, tx, sizeof(tx));
	*port_id = (uint16_t)pid;
	return 0;
fail:
	for (i = 0; i < nq; i++) {
		rte_ring_free(rx[i]);
		rte_ring_free(tx[i]);
	}
	return ctl_err(r, ENOMEM, "port %s: cannot create ring port: %s", name,
		       rte_strerror(rte_errno));
}

void pg_port_free_rings(uint16_t port)
{
	struct port *p = &dp.ports[port];
	pg_flood_stop(port, NULL);
	for (unsigned int i = 0; i < VR_MAX_WORKERS; i++) {
		struct rte_mbuf *m;
		while (p->pg_rx[i] != NULL && rte_ring_dequeue(p->pg_rx[i], (void **)&m) == 0)
			rte_pktmbuf_free(m);
		while (p->pg_tx[i] != NULL && rte_ring_dequeue(p->pg_tx[i], (void **)&m) == 0)
			rte_pktmbuf_free(m);
		rte_ring_free(p->pg_rx[i]);
		rte_ring_free(p->pg_tx[i]);
		p->pg_rx[i] = p->pg_tx[i] = NULL;
	}
}

/* A frame copied into as many segments as it needs. */
static struct rte_mbuf *pg_mbuf_from(const uint8_t *data, uint16_t len)
{
	struct rte_mbuf *head = NULL, *last = NULL;
	uint16_t off = 0;

	while (off < len || head == NULL) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(dp.mp);
		if (m == NULL) {
			rte_pktmbuf_free(head);
			return NULL;
		}
		uint16_t n = (uint16_t)RTE_MIN((uint32_t)(len - off), rte_pktmbuf_tailroom(m));
		memcpy(rte_pktmbuf_append(m, n), data + off, n);
		off += n;
		if (head == NULL) {
			head = m;
		} else {
			last->next = m;
			head->nb_segs++;
			head->pkt_len += n;
		}
		last = m;
	}
	return head;
}

static int pg_check_port(uint16_t port, struct ctl_resp *r)
{
	if (!port_valid(port))
		return ctl_err(r, ENOENT, "port %u does not exist", port);
	if (dp.ports[port].kind != VR_PORT_RING)
		return ctl_err(r, EINVAL, "port %s is not a ring port", dp.ports[port].name);
	return 0;
}

static int pg_inject_handler(const void *req, uint32_t len, struct ctl_resp *r)
{
	const struct vr_pg_frames *q = req;
	struct rte_mbuf *pkts[PG_RING_SIZE];
	uint32_t off = 0, avail = len - sizeof(*q), i;
	int rc = pg_check_port(q->port, r);

	if (rc < 0)
		return rc;
	if (pg_flood_running(q->port))
		return ctl_err(r, EBUSY, "port %s: its traffic generator feeds the rx ring",
			       dp.ports[q->port].name);
	if (q->n > PG_RING_SIZE)
		return ctl_err(r, EINVAL, "%u frames in one message, at most %u", q->n,
			       PG_RING_SIZE);
	for (i = 0; i < q->n; i++) {
		uint16_t flen;
		if (off + 2 > avail)
			break;
		memcpy(&flen, q->data + off, 2);
		if (flen == 0 || flen > PG_MAX_FRAME || off + 2 + flen > avail) {
			rc = ctl_err(r, EINVAL, "frame %u: bad length %u", i, flen);
			break;
		}
		pkts[i] = pg_mbuf_from(q->data + off + 2, flen);
		if (pkts[i] == NULL) {
			rc = ctl_err(r, ENOBUFS, "frame %u: out of mbufs", i);
			break;
		}
		off += 2 + flen + (flen & 1);
	}
	if (rc == 0 && i < q->n)
		rc = ctl_err(r, EINVAL, "message ends after %u of %u frames", i, q->n);
	if (rc == 0 && rte_ring_enqueue_bulk(dp.ports[q->port].pg_rx[0], (void **)pkts, q->n,
					     NULL) != q->n)
		rc = ctl_err(r, ENOBUFS, "rx ring of port %s is full", dp.ports[q->port].name);
	if (rc < 0)
		while (i-- > 0)
			rte_pktmbuf_free(pkts[i]);
	return rc;
}
CTL_HANDLER(VR_MSG_PG_INJECT, sizeof(struct vr_pg_frames), pg_inject_handler)

static int pg_capture_handler(const void *req, uint32_t len, struct ctl_resp *r)
{
	const struct vr_port_id *q = req;
	int rc = pg_check_port(q->port, r);
	(void)len;
	if (rc < 0)
		return rc;
	struct vr_pg_frames *frames = ctl_list_begin(r, sizeof(*frames));
	frames->port = q->port;
	for (unsigned int i = 0; i < dp.n_workers; i++) {
		struct rte_ring *ring = dp.ports[q->port].pg_tx[i];
		struct rte_mbuf *m;
		while (rte_ring_dequeue(ring, (void **)&m) == 0) {
			uint16_t flen = (uint16_t)RTE_MIN(m->pkt_len, (uint32_t)PG_MAX_FRAME);
			uint8_t *e = ctl_list_add(r, 2u + flen + (flen & 1u));
			if (e == NULL) {
				rte_pktmbuf_free(m);
				return -EIO;
			}
			memcpy(e, &flen, 2);
			const void *d = rte_pktmbuf_read(m, 0, flen, e + 2);
			if (d != e + 2)
				memcpy(e + 2, d, flen);
			rte_pktmbuf_free(m);
		}
	}
	return 0;
}
CTL_HANDLER(VR_MSG_PG_CAPTURE, sizeof(struct vr_port_id), pg_capture_handler)

static int pg_flood_start_handler(const void *req, uint32_t len, struct ctl_resp *r)
{
	const struct vr_pg_flood_req *q = req;
	uint32_t off = 0, avail = len - sizeof(*q);
	int rc = pg_check_port(q->port, r);
	if (rc < 0)
		return rc;
	if (pg_flood_running(q->port))
		return ctl_err(r, EBUSY, "port %s already has a traffic generator running",
			       dp.ports[q->port].name);
	if (q->n == 0 || q->n > PG_FLOOD_MAX_FRAMES)
		return ctl_err(r, EINVAL, "%u frames to cycle through, 1..%u", q->n,
			       PG_FLOOD_MAX_FRAMES);
	pg_flood_stop(q->port, NULL); /* one that finished: its thread is joined */
	struct pg_flood *f = calloc(1, sizeof(*f));
	if (f == NULL || (f->frames = malloc((size_t)q->n * PG_FLOOD_FRAME_MAX)) == NULL) {
		free(f);
		return ctl_err(r, ENOMEM, "out of memory");
	}
	for (uint32_t i = 0; i < q->n; i++) {
		uint16_t flen = 0;
		if (off + 2 > avail)
			rc = ctl_err(r, EINVAL, "message ends after %u of %u frames", i, q->n);
		else
			memcpy(&flen, q->data + off, 2);
		if (rc == 0 && (flen == 0 || flen > PG_FLOOD_FRAME_MAX || off + 2 + flen > avail))
			rc = ctl_err(r, EINVAL, "frame %u: bad length %u (at most %u)", i, flen,
				     PG_FLOOD_FRAME_MAX);
		if (rc < 0) {
			free(f->frames);
			free(f);
			return rc;
		}
		memcpy(f->frames + (size_t)i * PG_FLOOD_FRAME_MAX, q->data + off + 2, flen);
		f->len[i] = flen;
		off += 2 + flen + (flen & 1);
	}
	f->port = q->port;
	f->n_frames = q->n;
	f->count = q->count;
	rc = pthread_create(&f->thread, NULL, pg_flood_main, f);
	if (rc != 0) {
		free(f->frames);
		free(f);
		return ctl_err(r, rc, "cannot start the generator thread: %s", strerror(rc));
	}
	f->joinable = true;
	floods[q->port] = f;
	return 0;
}
CTL_HANDLER(VR_MSG_PG_FLOOD_START, sizeof(struct vr_pg_flood_req), pg_flood_start_handler)

/* The ring port a stats or stop request names, which must have a generator. */
static int pg_flood_port(const struct vr_port_id *q, struct ctl_resp *r)
{
	int rc = pg_check_port(q->port, r);
	if (rc < 0)
		return rc;
	if (floods[q->port] == NULL)
		return ctl_err(r, ENOENT, "port %s has no traffic generator", dp.ports[q->port].name);
	return 0;
}

static int pg_flood_stats_handler(const void *req, uint32_t len, struct ctl_resp *r)
{
	const struct vr_port_id *q = req;
	(void)len;
	int rc = pg_flood_port(q, r);
	if (rc < 0)
		return rc;
	struct vr_pg_flood_stats *e = ctl_resp_put(r, sizeof(*e));
	pg_flood_read(floods[q->port], e);
	return 0;
}
CTL_HANDLER(VR_MSG_PG_FLOOD_STATS, sizeof(struct vr_port_id), pg_flood_stats_handler)

static int pg_flood_stop_handler(const void *req, uint32_t len, struct ctl_resp *r)
{
	const struct vr_port_id *q = req;
	(void)len;
	int rc = pg_flood_port(q, r);
	if (rc < 0)
		return rc;
	struct vr_pg_flood_stats *e = ctl_resp_put(r, sizeof(*e));
	pg_flood_stop(q->port, e);
	return 0;
}
CTL_HANDLER(VR_MSG_PG_FLOOD_STOP, sizeof(struct vr_port_id), pg_flood_stop_handler)
