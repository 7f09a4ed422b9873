/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vrouter-loadgen: send a stream on port 0, count what comes back on
 * port 1 (--tx-port/--rx-port), all from one lcore, for a fixed time;
 * print the totals.
 *
 *   vrouter-loadgen [EAL args] -- --duration SEC --src-mac ... (see --help)
 */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_mbuf.h>

#include "frame.h"
#include "options.h"
#include "ports.h"
#include "report.h"
#include "stream.h"
#include "worker.h"

/*
 * Pool sizes: a memif ring holds up to 2^14 descriptors, and a zero-copy
 * port keeps one mbuf per descriptor (tx until the peer has read it, rx
 * as buffers lent to the peer), plus the mempool cache on top.
 */
#define NB_TX_MBUFS (32 * 1024 - 1)
#define NB_RX_MBUFS (32 * 1024 - 1)
#define RX_POOL_CACHE RTE_MEMPOOL_CACHE_MAX_SIZE

/* In-flight packets are counted for this long after the last transmit. */
#define DRAIN_S 0.1

/* UDP ports of the generated flow. */
#define UDP_SRC_PORT 1024
#define UDP_DST_PORT 1025

static volatile sig_atomic_t quit;

static void
on_signal(int sig __rte_unused)
{
	quit = 1;
}

/*
 * --hold: wait for stdin to close (or a signal) before tearing the ports
 * down. memif has no quiescence: a side that disconnects unmaps the shared
 * memory at once, and a peer still polling its rings crashes (testpmd does,
 * now and then, when the generator exits under it). Holding lets the
 * harness stop the DUT while we are idle, then let us go.
 */
static void
hold_until_released(void)
{
	while (!quit) {
		struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
		char buf[256];

		if (poll(&pfd, 1, 100) > 0 && read(STDIN_FILENO, buf, sizeof(buf)) <= 0)
			return; /* EOF or error: released */
	}
}

/* Application arguments are whatever follows the first "--"; they are
 * parsed before the EAL so a typo fails fast and without EAL noise. */
static void
parse_app_args(int argc, char **argv, struct options *opt)
{
	char *app_argv[argc + 1];
	int app_argc = 1;
	int i;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0)
			break;
	if (i == argc) {
		/* No "--": only --help makes sense without EAL args. */
		for (int j = 1; j < argc; j++)
			if (strcmp(argv[j], "--help") == 0 || strcmp(argv[j], "-h") == 0) {
				options_usage(argv[0]);
				exit(0);
			}
	}
	app_argv[0] = argv[0];
	for (i++; i < argc; i++)
		app_argv[app_argc++] = argv[i];
	app_argv[app_argc] = NULL;
	options_parse(app_argc, app_argv, opt);
}

int
main(int argc, char **argv)
{
	struct worker_result res;
	struct options opt;
	struct stream stream;
	struct rte_mempool *rx_pool;
	struct frame_spec spec;
	int ret;

	parse_app_args(argc, argv, &opt);

	/* stdout carries the result alone; DPDK would log there too. */
	rte_openlog_stream(stderr);
	ret = rte_eal_init(argc, argv);
	if (ret < 0) {
		fprintf(stderr, "vrouter-loadgen: EAL init failed: %s\n", rte_strerror(rte_errno));
		return rte_errno == EINVAL ? EXIT_USAGE : 1;
	}

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	const uint16_t ports[] = {opt.tx_port, opt.rx_port};

	if (!rte_eth_dev_is_valid_port(opt.tx_port) || !rte_eth_dev_is_valid_port(opt.rx_port)) {
		fprintf(stderr,
			"vrouter-loadgen: need port %u (--tx-port) and port %u (--rx-port), "
			"found %u ports; add two --vdev (e.g. net_memif) or devices\n",
			opt.tx_port, opt.rx_port, rte_eth_dev_count_avail());
		rte_eal_cleanup();
		return EXIT_USAGE;
	}
	if (rte_lcore_count() > 1)
		fprintf(stderr, "vrouter-loadgen: using only the main lcore %u\n",
			rte_lcore_id());

	memset(&spec, 0, sizeof(spec));
	spec.src_mac = opt.src_mac;
	spec.dst_mac = opt.dst_mac;
	spec.src_ip = opt.src_ip;
	spec.dst_ip = opt.dst_ip;
	spec.dst_step = opt.dst_step;
	spec.src_port = UDP_SRC_PORT;
	spec.dst_port = UDP_DST_PORT;
	spec.size = opt.frame_size;
	if (stream_init(&stream, &spec, opt.dst_count, NB_TX_MBUFS, rte_socket_id()) < 0) {
		rte_eal_cleanup();
		return 1;
	}

	/* Received packets get their own pool: the DUT rewrites headers, and
	 * those mbufs must never come back as frames to send. */
	rx_pool = rte_pktmbuf_pool_create("rx", NB_RX_MBUFS, RX_POOL_CACHE, 0,
					  RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
	if (rx_pool == NULL) {
		fprintf(stderr, "vrouter-loadgen: rx pool: %s\n", rte_strerror(rte_errno));
		stream_free(&stream);
		rte_eal_cleanup();
		return 1;
	}

	ret = 1;
	if (port_setup(opt.tx_port, rx_pool) < 0 || port_setup(opt.rx_port, rx_pool) < 0)
		goto out;
	if (ports_start(ports, RTE_DIM(ports), opt.link_timeout_s, &quit) < 0) {
		if (!quit)
			goto out_stop;
		/* Interrupted while waiting: report the empty run. */
		memset(&res, 0, sizeof(res));
		res.tsc_hz = rte_get_tsc_hz();
	} else {
		struct worker_conf wc = {
			.stream = &stream,
			.tx_port = opt.tx_port,
			.rx_port = opt.rx_port,
			.rate_pps = opt.rate_pps,
			.duration_s = opt.duration_s,
			.drain_s = DRAIN_S,
			.sample_s = opt.sample_s,
			.quit = &quit,
		};

		if (worker_run(&wc, &res) < 0) {
			fprintf(stderr, "vrouter-loadgen: no memory for --sample-ms\n");
			goto out_stop;
		}
	}
	report_print(stdout, &res, opt.json);
	worker_result_free(&res);
	if (opt.hold)
		hold_until_released();
	ret = 0;
out_stop:
	ports_stop(ports, RTE_DIM(ports));
out:
	stream_free(&stream);
	rte_mempool_free(rx_pool);
	rte_eal_cleanup();
	return ret;
}
