/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_ring.h>

#include "arp.h"
#include "ip4.h"
#include "capture.h"
#include "exception.h"
#include "nat.h"
#include "worker.h"

/* Empty polls before an idle worker starts sleeping (when configured). */
#define IDLE_POLLS_BEFORE_SLEEP 256

static void worker_tx_flush_port(struct worker *w, uint16_t port)
{
	struct tx_buffer *b = &w->txb[port];
	struct port *p = &dp.ports[port];
	uint32_t lens[VR_BURST];
	uint16_t n = b->n, sent;

	for (uint16_t i = 0; i < n; i++)
		lens[i] = b->pkts[i]->pkt_len;
	capture_hook(w, port, VR_DIR_TX, b->pkts, n);
	uint16_t q = (uint16_t)(w->id % p->n_txq);
	if (p->tx_shared)
		rte_spinlock_lock(&p->tx_lock);
	sent = rte_eth_tx_burst(port, q, b->pkts, n);
	if (p->tx_shared)
		rte_spinlock_unlock(&p->tx_lock);

	uint64_t bytes = 0;
	for (uint16_t i = 0; i < sent; i++)
		bytes += lens[i];
	w->tx_pending &= ~(1ULL << port);
	counter_add(w->stats, port, VR_CNT_TX_PACKETS, sent);
	counter_add(w->stats, port, VR_CNT_TX_BYTES, bytes);
	for (uint16_t i = sent; i < n; i++)
		worker_drop(w, b->pkts[i], port, VR_CNT_DROP_TX_FULL);
	b->n = 0;
}

void worker_tx(struct worker *w, uint16_t port, struct rte_mbuf *m)
{
	if (unlikely(port >= VR_MAX_PORTS)) {
		rte_pktmbuf_free(m);
		return;
	}
	const struct port *p = &dp.ports[port];
	if (unlikely(!p->in_use || !p->admin_up))
		return worker_drop(w, m, port, VR_CNT_DROP_PORT_DOWN);
	if (unlikely(m->nb_segs > 1 && !p->multiseg_tx)) {
		/* the device cannot send chains: make the frame one segment */
		if (rte_pktmbuf_linearize(m) != 0)
			return worker_drop(w, m, port, VR_CNT_DROP_NO_MBUF);
	}
	struct tx_buffer *b = &w->txb[port];
	trace(m, VR_TRACE_TX, port, 0);
	b->pkts[b->n++] = m;
	w->tx_pending |= 1ULL << port;
	if (b->n == VR_BURST)
		worker_tx_flush_port(w, port);
}

void worker_tx_flush(struct worker *w)
{
	while (w->tx_pending != 0)
		worker_tx_flush_port(w, (uint16_t)__builtin_ctzll(w->tx_pending));
}

void worker_originate(struct worker *w, struct rte_mbuf *m)
{
	if (unlikely(w->n_orig >= RTE_DIM(w->orig)))
		return worker_drop(w, m, pkt_meta(m)->in_port, VR_CNT_DROP_NO_MBUF);
	w->orig[w->n_orig++] = m;
}

void worker_to_ctl(struct worker *w, struct rte_mbuf *m, uint16_t port)
{
	if (unlikely(rte_ring_enqueue(w->to_ctl, m) != 0))
		worker_drop(w, m, port, VR_CNT_DROP_CTL_RING_FULL);
	else
		worker_wake_ctl(w->to_ctl);
}

/* Packets this burst made (echo replies, ICMP errors) are routed after it. */
static void worker_route_originated(struct worker *w)
{
	while (w->n_orig > 0) {
		struct rte_mbuf *batch[RTE_DIM(w->orig)];
		uint16_t n = w->n_orig;
		memcpy(batch, w->orig, n * sizeof(batch[0]));
		w->n_orig = 0;
		ip4_route(w, batch, n, ROUTE_ORIGINATED);
	}
}

/* Frames the control namespace sent into an exception port. */
static void worker_rx_exception(struct worker *w, uint16_t xport, uint16_t owner,
				struct rte_mbuf **pkts, uint16_t n)
{
	struct rte_mbuf *route[VR_BURST];
	uint16_t n_route = 0;
	uint64_t bytes = 0;
	for (uint16_t i = 0; i < n; i++) {
		bytes += pkts[i]->pkt_len;
		struct rte_mbuf *m = exception_input(w, pkts[i], xport, owner);
		if (m != NULL)
			route[n_route++] = m;
	}
	counter_add(w->stats, xport, VR_CNT_RX_PACKETS, n);
	counter_add(w->stats, xport, VR_CNT_RX_BYTES, bytes);
	ip4_route(w, route, n_route, ROUTE_ORIGINATED);
}

static void worker_rx_burst(struct worker *w, uint16_t port, struct rte_mbuf **pkts, uint16_t n)
{
	const struct port *p = &dp.ports[port];
	struct rte_mbuf *ip[VR_BURST];
	uint16_t n_ip = 0;
	uint64_t bytes = 0;
	uint16_t owner = __atomic_load_n(&p->exception_of, __ATOMIC_ACQUIRE);

	capture_hook(w, port, VR_DIR_RX, pkts, n);
	if (owner != VR_PORT_NONE)
		return worker_rx_exception(w, port, owner, pkts, n);

	for (uint16_t i = 0; i < n; i++) {
		bytes += pkts[i]->pkt_len;
		*pkt_meta(pkts[i]) = (struct pkt_meta){.in_port = port, .out_port = VR_PORT_NONE,
						       .vrf = p->vrf};
	}
	trace_rx_hook(w, port, pkts, n);
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		if (unlikely(rte_pktmbuf_data_len(m) < sizeof(struct rte_ether_hdr))) {
			worker_drop(w, m, port, VR_CNT_DROP_RUNT);
			continue;
		}
		const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
		if (rte_is_multicast_ether_addr(&eth->dst_addr)) {
			pkt_meta(m)->flags |= PKT_F_L2_MCAST;
		} else if (unlikely(!rte_is_same_ether_addr(&eth->dst_addr, &p->mac))) {
			worker_drop(w, m, port, VR_CNT_DROP_OTHER_HOST);
			continue;
		}
		switch (eth->ether_type) {
		case RTE_BE16(RTE_ETHER_TYPE_IPV4):
			if (ip4_input(w, m, port))
				ip[n_ip++] = m;
			break;
		case RTE_BE16(RTE_ETHER_TYPE_ARP):
			arp_input(w, m, port);
			break;
		default:
			worker_drop(w, m, port, VR_CNT_DROP_ETHERTYPE);
		}
	}
	counter_add(w->stats, port, VR_CNT_RX_PACKETS, n);
	counter_add(w->stats, port, VR_CNT_RX_BYTES, bytes);
	ip4_route(w, ip, n_ip, ROUTE_RX);
	worker_route_originated(w);
}

/* NAT flows this worker owns that arrived on another worker. */
static void worker_handoff(struct worker *w)
{
	struct rte_mbuf *pkts[VR_BURST];
	unsigned int n = rte_ring_dequeue_burst(w->handoff, (void **)pkts, VR_BURST, NULL);
	if (n > 0) {
		ip4_route(w, pkts, (uint16_t)n, ROUTE_HANDED_OFF);
		worker_route_originated(w);
	}
}

/* Packets from the control thread: frames to send as they are, or our own
 * datagrams to route. */
static void worker_inject(struct worker *w)
{
	struct rte_mbuf *pkts[VR_BURST], *route[VR_BURST];
	uint16_t n_route = 0;
	unsigned int n = rte_ring_dequeue_burst(w->inject, (void **)pkts, VR_BURST, NULL);

	for (unsigned int i = 0; i < n; i++) {
		struct pkt_meta *meta = pkt_meta(pkts[i]);
		if (meta->action == PKT_TX)
			worker_tx(w, meta->out_port, pkts[i]);
		else
			route[n_route++] = pkts[i];
	}
	if (n_route > 0)
		ip4_route(w, route, n_route, ROUTE_ORIGINATED);
}

int worker_main(void *arg)
{
	struct worker *w = arg;
	struct rte_mbuf *pkts[VR_BURST];
	unsigned int idle = 0;

	rte_rcu_qsbr_thread_register(dp.qs, w->id);
	rte_rcu_qsbr_thread_online(dp.qs, w->id);
	while (!w->stop) {
		const struct rxq_list *rl = __atomic_load_n(&w->rxqs, __ATOMIC_ACQUIRE);
		uint32_t got = 0;
		uint64_t start = rte_rdtsc();
		for (uint32_t i = 0; rl != NULL && i < rl->n; i++) {
			uint16_t port = rl->q[i].port;
			uint16_t n = rte_eth_rx_burst(port, rl->q[i].queue, pkts, VR_BURST);
			if (n > 0) {
				got += n;
				worker_rx_burst(w, port, pkts, n);
			}
		}
		if (!rte_ring_empty(w->inject)) {
			got++;
			worker_inject(w);
		}
		if (!rte_ring_empty(w->handoff)) {
			got++;
			worker_handoff(w);
		}
		nat_worker_housekeeping(w);
		worker_tx_flush(w);
		rte_rcu_qsbr_quiescent(dp.qs, w->id);
		/* cycles/packet = busy cycles / packets, read by the control thread */
		w->cycles.loops++;
		if (got > 0) {
			w->cycles.busy_tsc += rte_rdtsc() - start;
			w->cycles.packets += got;
		} else {
			w->cycles.idle_loops++;
		}

		/* Optional: give the core back when there is nothing to do,
		 * for laptops and shared CI machines. */
		if (got > 0 || dp.params.idle_sleep_us == 0) {
			idle = 0;
		} else if (++idle > IDLE_POLLS_BEFORE_SLEEP) {
			struct timespec ts = {.tv_nsec = (long)dp.params.idle_sleep_us * 1000};
			rte_rcu_qsbr_thread_offline(dp.qs, w->id);
			nanosleep(&ts, NULL);
			rte_rcu_qsbr_thread_online(dp.qs, w->id);
		}
	}
	rte_rcu_qsbr_thread_offline(dp.qs, w->id);
	rte_rcu_qsbr_thread_unregister(dp.qs, w->id);
	return 0;
}

/* The worker loop's packet work for one burst the caller received itself,
 * for harnesses that play a worker on their own thread (dataplane/fuzz/):
 * rx processing, then what the control thread injected or other workers
 * handed off, then the tx flush. The caller must be registered and online
 * in dp.qs with w->id. */
void worker_process_rx(struct worker *w, uint16_t port, struct rte_mbuf **pkts, uint16_t n)
{
	if (n > 0)
		worker_rx_burst(w, port, pkts, n);
	if (!rte_ring_empty(w->inject))
		worker_inject(w);
	if (!rte_ring_empty(w->handoff))
		worker_handoff(w);
	nat_worker_housekeeping(w);
	worker_tx_flush(w);
}
