/* SPDX-License-Identifier: BSD-3-Clause
 * Ring ports for deterministic packet tests, like VPP's packet generator:
 * the test injects frames into a port's rx ring and later collects what the
 * dataplane sent on its tx rings, byte for byte. No kernel, no timing.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_eth_ring.h>
#include <rte_ring.h>

#include "ctl.h"
#include "port.h"

#define PG_RING_SIZE 4096
#define PG_MAX_FRAME 16384

static unsigned int pg_seq; /* unique ring names across port reuse */

int pg_port_create(const char *name, uint16_t *port_id, struct ctl_resp *r)
{
	struct rte_ring *rx[VR_MAX_WORKERS] = {0}, *tx[VR_MAX_WORKERS] = {0};
	char rname[RTE_RING_NAMESIZE], ename[RTE_ETH_NAME_MAX_LEN];
	unsigned int seq = pg_seq++, nq = dp.n_workers, i;
	int socket = (int)rte_socket_id();

	for (i = 0; i < nq; i++) {
		snprintf(rname, sizeof(rname), "pg%u_rx%u", seq, i);
		rx[i] = rte_ring_create(rname, PG_RING_SIZE, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
		snprintf(rname, sizeof(rname), "pg%u_tx%u", seq, i);
		tx[i] = rte_ring_create(rname, PG_RING_SIZE, socket, RING_F_SC_DEQ);
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
