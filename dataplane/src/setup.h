/* SPDX-License-Identifier: BSD-3-Clause
 * The dataplane's start-up, shared by vrouter-dataplane (main.c) and the
 * fuzz harness (fuzz/fuzz_rx.c), which plays the one worker itself.
 */
#ifndef VR_SETUP_H
#define VR_SETUP_H

#include <stdint.h>

struct app_opts {
	const char *socket;
	uint32_t mbufs;
	uint32_t nexthops;
	uint32_t neigh_table;
	uint32_t vrf0_routes;
	uint32_t vrf0_tbl8;
	uint32_t nat_sessions;
	uint32_t queue_size; /* entries of each ring between threads; 0: 4096 */
};

/* After rte_eal_init(): the mbuf pool, RCU, the tables, the control socket,
 * the default VRF and one struct worker per worker lcore (dp.workers[],
 * dp.n_workers), none of them launched yet. */
int dp_setup(const struct app_opts *o);

#endif
