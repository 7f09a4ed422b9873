/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A stream: what to send, and the transmit path that sends it.
 *
 * Today a stream is one frame template plus an optional list of
 * destination addresses cycled per packet. It is the unit the generator
 * will grow around (several streams, a field engine, latency stamps), so
 * everything the tx path needs lives here and stream_tx_burst() depends on
 * nothing else.
 */
#ifndef LOADGEN_STREAM_H
#define LOADGEN_STREAM_H

#include <stdint.h>

#include <rte_byteorder.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "frame.h"

/* Precomputed per destination: patching these three fields (one cache
 * line) is all it takes to turn the template into that destination's
 * frame, with both checksums still right. */
struct stream_variant {
	rte_be32_t dst_ip;
	rte_be16_t ip_csum;
	rte_be16_t udp_csum;
};

struct stream {
	/* Mbufs already holding the frame (see stream.c for why). */
	struct rte_mempool *pool;
	uint16_t frame_size;
	uint32_t n_variants;          /* 1 = send the template unchanged */
	uint32_t next_variant;
	struct stream_variant *variants;
	uint8_t template[FRAME_MAX_SIZE];
};

/* Transmit-side counters, owned by the one lcore that sends. */
struct tx_counters {
	uint64_t packets;   /* accepted by the port */
	uint64_t dropped;   /* built, but the tx ring was full */
	uint64_t no_mbuf;   /* bursts skipped because the pool was empty */
};

/* Largest burst stream_tx_burst() takes. */
#define STREAM_MAX_BURST 64

/*
 * Build the template and its pool of ready frames. The pool must be able
 * to hold every frame the port can keep in flight: nb_mbufs should exceed
 * the tx ring size plus the mempool cache. Returns 0 or a negative errno
 * after printing why.
 */
int stream_init(struct stream *s, const struct frame_spec *spec, uint32_t dst_count,
		unsigned int nb_mbufs, int socket_id);

void stream_free(struct stream *s);

/*
 * Send up to n (<= STREAM_MAX_BURST) packets of the stream on port/queue.
 * Frames the ring refuses go back to the pool and count as dropped: a
 * paced generator must not queue them up and send them late. Returns the
 * number sent.
 */
static inline uint16_t
stream_tx_burst(struct stream *s, uint16_t port, uint16_t queue, uint16_t n,
		struct tx_counters *c)
{
	struct rte_mbuf *pkts[STREAM_MAX_BURST];
	uint16_t sent;

	/* Raw get, not rte_pktmbuf_alloc_bulk: that would reset the mbuf
	 * header we rely on (length, data offset) for nothing. */
	if (unlikely(rte_mempool_get_bulk(s->pool, (void **)pkts, n) != 0)) {
		c->no_mbuf++;
		return 0;
	}

	if (s->n_variants > 1) {
		uint32_t v = s->next_variant;

		for (uint16_t i = 0; i < n; i++) {
			uint8_t *p = rte_pktmbuf_mtod(pkts[i], uint8_t *);
			const struct stream_variant *var = &s->variants[v];

			*(unaligned_uint32_t *)(p + FRAME_OFF_IP_DST) = var->dst_ip;
			*(unaligned_uint16_t *)(p + FRAME_OFF_IP_CSUM) = var->ip_csum;
			*(unaligned_uint16_t *)(p + FRAME_OFF_UDP_CSUM) = var->udp_csum;
			if (++v == s->n_variants)
				v = 0;
		}
		s->next_variant = v;
	}

	sent = rte_eth_tx_burst(port, queue, pkts, n);
	if (unlikely(sent < n)) {
		rte_mempool_put_bulk(s->pool, (void **)&pkts[sent], n - sent);
		c->dropped += n - sent;
	}
	c->packets += sent;
	return sent;
}

#endif
