/* SPDX-License-Identifier: BSD-3-Clause
 * Packet capture at any port, either direction, with a filter. When no
 * capture runs, a port costs one byte test per burst.
 */
#ifndef VR_CAPTURE_H
#define VR_CAPTURE_H

#include <stdint.h>

#include <rte_mbuf.h>

#include "dp.h"

void capture_packets(struct worker *w, uint16_t port, uint8_t dir, struct rte_mbuf **pkts,
		     uint16_t n);

static inline void capture_hook(struct worker *w, uint16_t port, uint8_t dir,
				struct rte_mbuf **pkts, uint16_t n)
{
	if (unlikely(dp.capture_dirs[port] & dir))
		capture_packets(w, port, dir, pkts, n);
}

#endif
