/* SPDX-License-Identifier: BSD-3-Clause */
/* Bringing the generator's ports up. */
#ifndef LOADGEN_PORTS_H
#define LOADGEN_PORTS_H

#include <signal.h>
#include <stdint.h>

#include <rte_mempool.h>

/* nb_rxq rx queues and one tx queue, no offloads (memif offers none, and
 * asking for one it does not report makes rte_eth_dev_configure fail).
 * More than one rx queue is for peers that send on several: a memif client
 * gets one ring per queue, and Open vSwitch transmits on a second one. */
int port_setup(uint16_t port, struct rte_mempool *rx_pool, uint16_t nb_rxq);

/*
 * Start the ports and wait until every link is up, or timeout_s passes, or
 * *quit becomes nonzero. memif servers start first so that a client in the
 * same process finds its server listening; memif clients then start one at
 * a time, each waiting for its link, because connecting two zero-copy
 * clients at once trips the driver's fd bug (see memseg_fds.h).
 * Returns 0, or -1 after printing why.
 */
int ports_start(const uint16_t *ports, unsigned int n, double timeout_s,
		volatile sig_atomic_t *quit);

void ports_stop(const uint16_t *ports, unsigned int n);

#endif
