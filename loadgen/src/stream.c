/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Why a pool of ready frames: the cheapest packet to send is one that is
 * already built. Every mbuf in the stream's private pool is filled with the
 * template once, at start. The tx path takes mbufs with a raw mempool get
 * (no header reset) and, when the port has consumed them, the driver frees
 * them back with their data and lengths intact, so a 64-byte frame costs no
 * copy and no header writes at all; only --dst-count > 1 touches the
 * packet, to patch address and checksums.
 *
 * This is only correct while nobody writes into transmitted mbufs: true for
 * memif in zero-copy mode against a copy-mode peer (the peer copies out of
 * our memory; it never writes to it) and for any PMD that DMAs from the
 * buffer. Received packets use a separate pool (see main.c), so a DUT that
 * rewrites headers cannot leak its changes into what we send.
 */
#include "stream.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>
#include <rte_errno.h>
#include <rte_ethdev.h>

/* The largest per-lcore cache a mempool allows: fewer trips to the ring. */
#define STREAM_POOL_CACHE RTE_MEMPOOL_CACHE_MAX_SIZE

static void
fill_mbuf(struct rte_mempool *mp __rte_unused, void *arg, void *obj,
	  unsigned int idx __rte_unused)
{
	const struct stream *s = arg;
	struct rte_mbuf *m = obj;

	/* rte_pktmbuf_init has set buf_addr, data_off, refcnt and nb_segs. */
	memcpy(rte_pktmbuf_mtod(m, void *), s->template, s->frame_size);
	m->data_len = s->frame_size;
	m->pkt_len = s->frame_size;
}

static int
build_variants(struct stream *s, const struct frame_spec *spec, uint32_t count)
{
	rte_be32_t base_dst = rte_cpu_to_be_32(spec->dst_ip);
	rte_be16_t base_ip_csum, base_udp_csum;

	memcpy(&base_ip_csum, s->template + FRAME_OFF_IP_CSUM, sizeof(base_ip_csum));
	memcpy(&base_udp_csum, s->template + FRAME_OFF_UDP_CSUM, sizeof(base_udp_csum));

	s->variants = calloc(count, sizeof(*s->variants));
	if (s->variants == NULL) {
		fprintf(stderr, "stream: no memory for %u destinations\n", count);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < count; i++) {
		struct stream_variant *v = &s->variants[i];
		rte_be32_t dst = rte_cpu_to_be_32(spec->dst_ip + i * spec->dst_step);

		/* The address is in the IPv4 header checksum and in the UDP
		 * pseudo-header, so both take the same incremental update. */
		v->dst_ip = dst;
		v->ip_csum = csum_replace32(base_ip_csum, base_dst, dst);
		v->udp_csum = csum_replace32(base_udp_csum, base_dst, dst);
		/* In UDP, 0 means "no checksum": send its other form. */
		if (v->udp_csum == 0)
			v->udp_csum = 0xffff;
	}
	s->n_variants = count;
	s->next_variant = 0;
	return 0;
}

int
stream_init(struct stream *s, const struct frame_spec *spec, uint32_t dst_count,
	    unsigned int nb_mbufs, int socket_id)
{
	/* Room for the frame only: a small element keeps the pool's cache
	 * and TLB footprint down. */
	uint16_t data_room = RTE_PKTMBUF_HEADROOM +
		RTE_ALIGN_CEIL(spec->size, RTE_CACHE_LINE_SIZE);
	int ret;

	memset(s, 0, sizeof(*s));
	s->frame_size = spec->size;
	s->n_variants = 1;
	frame_build(spec, s->template);

	if (dst_count > 1) {
		ret = build_variants(s, spec, dst_count);
		if (ret < 0)
			return ret;
	}

	s->pool = rte_pktmbuf_pool_create("stream0_tx", nb_mbufs, STREAM_POOL_CACHE, 0,
					  data_room, socket_id);
	if (s->pool == NULL) {
		ret = -rte_errno;
		fprintf(stderr, "stream: cannot create tx pool of %u mbufs: %s\n",
			nb_mbufs, rte_strerror(rte_errno));
		stream_free(s);
		return ret;
	}
	rte_mempool_obj_iter(s->pool, fill_mbuf, s);
	return 0;
}

void
stream_free(struct stream *s)
{
	rte_mempool_free(s->pool);
	s->pool = NULL;
	free(s->variants);
	s->variants = NULL;
}
