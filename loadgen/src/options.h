/* SPDX-License-Identifier: BSD-3-Clause */
/* Command line of vrouter-loadgen (the part after the EAL's "--"). */
#ifndef LOADGEN_OPTIONS_H
#define LOADGEN_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>

/* Exit status for a bad command line, distinct from run-time failures (1)
 * so a harness can tell "you called me wrong" from "the run failed". */
#define EXIT_USAGE 2

/* Largest --dst-count: the per-destination table is 8 bytes an entry, so
 * this caps it at 128 MB and keeps addresses inside one /8. */
#define OPT_MAX_DST_COUNT (1u << 24)

enum run_mode {
	RUN_LEGACY,                  /* one flow from the command line, legacy JSON */
	RUN_CONFIG,                  /* --config FILE: one trial, then exit */
	RUN_SERVER,                  /* --server: trials on request from stdin */
};

struct options {
	enum run_mode mode;
	const char *config_path;     /* --config */
	unsigned int slots;          /* --slots: streams a trial may have */
	unsigned int slot0_mbufs;    /* --slot0-mbufs: frames of the first stream */
	unsigned int slot_mbufs;     /* --slot-mbufs: frames of each other stream */
	unsigned int rx_mbufs;       /* --rx-mbufs */
	unsigned int rx_queues;      /* --rx-queues: per port, all polled */
	double duration_s;           /* --duration, > 0 */
	uint64_t rate_pps;           /* --rate, 0 = as fast as possible */
	struct rte_ether_addr src_mac;
	struct rte_ether_addr dst_mac;
	uint32_t src_ip;             /* host byte order */
	uint32_t dst_ip;             /* host byte order, first destination */
	uint32_t dst_count;          /* destinations dst_ip + k * dst_step, k < count */
	uint32_t dst_step;
	uint16_t frame_size;         /* Ethernet frame without CRC */
	uint16_t tx_port;            /* --tx-port, default 0 */
	uint16_t rx_port;            /* --rx-port, default 1 */
	double link_timeout_s;       /* --link-timeout: wait for memif peers */
	double sample_s;             /* --sample-ms / 1000, 0 = off */
	bool json;
	bool hold;                   /* --hold: keep ports up until stdin EOF */
};

/*
 * Parse the application arguments (argv[0] is the program name, as after
 * rte_eal_init()). On a bad argument, prints a message naming it and exits
 * with EXIT_USAGE; on --help prints the usage and exits 0.
 */
void options_parse(int argc, char **argv, struct options *opt);

void options_usage(const char *prog);

#endif
