/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vrouter-loadgen: a DPDK traffic generator on one lcore.
 *
 *   vrouter-loadgen [EAL args] -- --server        trials on request (the
 *                                                 Python runner's mode)
 *   vrouter-loadgen [EAL args] -- --config FILE   one trial
 *   vrouter-loadgen [EAL args] -- --duration ...  legacy: one UDP flow
 *
 * Every port the EAL probed is set up (one rx and one tx queue) and
 * started; a trial sends its streams on the ports they name and receives
 * on all of them. See trial.h for what a trial is, config.c for how one
 * is described, loadgen/README.md for the whole picture.
 */
#include <errno.h>
#include <inttypes.h>
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
#include "sig.h"
#include "trial.h"

#define RX_POOL_CACHE RTE_MEMPOOL_CACHE_MAX_SIZE
#define SLOT_POOL_CACHE RTE_MEMPOOL_CACHE_MAX_SIZE
/* Frames up to 2044 bytes: one mbuf, one memif descriptor (2048). */
#define SLOT_DATA_ROOM (RTE_PKTMBUF_HEADROOM + 2048)

/* In-flight packets are counted for this long after the last transmit. */
#define DRAIN_S 0.1

/* UDP ports of the legacy flow. */
#define UDP_SRC_PORT 1024
#define UDP_DST_PORT 1025

/* SIGINT/SIGTERM: stop the trial and exit. SIGUSR1: stop the trial only. */
static volatile int quit;
static volatile int stop_trial;

static void
on_signal(int sig)
{
	if (sig != SIGUSR1)
		quit = 1;
	stop_trial = 1;
}

static void
install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	/* No SA_RESTART: a signal must interrupt the wait for a command. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
}

/*
 * --hold: wait for stdin to close (or a signal) before tearing the ports
 * down. memif has no quiescence: a side that disconnects unmaps the shared
 * memory at once, and a peer still polling its rings crashes (testpmd does,
 * now and then, when the generator exits under it). Holding lets the
 * harness stop the DUT while we are idle, then let us go. Server mode
 * holds by nature: it exits at the end of its input.
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

/* ---- the process's resources ---- */

struct gen {
	uint16_t n_ports;
	uint16_t ports[TRIAL_MAX_PORTS];
	struct rte_mempool *rx_pool;
	unsigned int n_slots;
	struct rte_mempool *slots[TRIAL_MAX_STREAMS];
	uint64_t next_epoch;
	uint16_t rx_queues;
};

static void
gen_free(struct gen *g)
{
	for (unsigned int i = 0; i < g->n_slots; i++)
		rte_mempool_free(g->slots[i]);
	g->n_slots = 0;
	rte_mempool_free(g->rx_pool);
	g->rx_pool = NULL;
}

static int
gen_pools(struct gen *g, const struct options *opt)
{
	/* Received packets get their own pool: a DUT rewrites headers, and
	 * those mbufs must never come back as frames to send. */
	g->rx_pool = rte_pktmbuf_pool_create("rx", opt->rx_mbufs, RX_POOL_CACHE, 0,
					     RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
	if (g->rx_pool == NULL) {
		fprintf(stderr, "vrouter-loadgen: rx pool of %u mbufs: %s\n", opt->rx_mbufs,
			rte_strerror(rte_errno));
		return -1;
	}
	/* One pool per stream slot, each mbuf filled with its stream's frame
	 * at the start of a trial (trial.c): sending costs no copy. Made
	 * now, before any port starts, because a memif zero-copy peer maps
	 * our memory when it connects. */
	for (unsigned int i = 0; i < opt->slots; i++) {
		char name[RTE_MEMPOOL_NAMESIZE];
		unsigned int n = i == 0 ? opt->slot0_mbufs : opt->slot_mbufs;
		unsigned int cache = RTE_MIN((unsigned int)SLOT_POOL_CACHE, n / 2);

		snprintf(name, sizeof(name), "slot%u", i);
		g->slots[i] = rte_pktmbuf_pool_create(name, n, cache, 0, SLOT_DATA_ROOM,
						      rte_socket_id());
		if (g->slots[i] == NULL) {
			fprintf(stderr, "vrouter-loadgen: pool of %u mbufs for stream slot %u: %s "
				"(fewer --slots or --slot-mbufs, or more memory)\n", n, i,
				rte_strerror(rte_errno));
			return -1;
		}
		g->n_slots++;
	}
	return 0;
}

static void
print_ready(const struct gen *g)
{
	printf("{\"event\": \"ready\", \"tsc_hz\": %" PRIu64 ", \"lcore\": %u, \"slots\": %u, "
	       "\"slot_mbufs\": [", rte_get_tsc_hz(), rte_lcore_id(), g->n_slots);
	for (unsigned int i = 0; i < g->n_slots; i++)
		printf("%s%u", i ? ", " : "", g->slots[i]->size);
	printf("], \"ports\": [");
	for (uint16_t i = 0; i < g->n_ports; i++) {
		struct rte_eth_dev_info info;
		struct rte_ether_addr mac;
		struct rte_eth_link link;
		char name[RTE_ETH_NAME_MAX_LEN] = "", macs[RTE_ETHER_ADDR_FMT_SIZE] = "";

		memset(&info, 0, sizeof(info));
		memset(&link, 0, sizeof(link));
		rte_eth_dev_info_get(i, &info);
		rte_eth_dev_get_name_by_port(i, name);
		if (rte_eth_macaddr_get(i, &mac) == 0)
			rte_ether_format_addr(macs, sizeof(macs), &mac);
		rte_eth_link_get_nowait(i, &link);
		printf("%s{\"port\": %u, \"name\": \"%s\", \"driver\": \"%s\", \"mac\": \"%s\", "
		       "\"link\": %s, \"speed_mbps\": %u}", i ? ", " : "", i, name,
		       info.driver_name ? info.driver_name : "", macs,
		       link.link_status ? "true" : "false", link.link_speed);
	}
	printf("]}\n");
	fflush(stdout);
}

static void
json_error(const char *msg)
{
	printf("{\"event\": \"error\", \"message\": \"");
	for (const char *c = msg; *c; c++) {
		if (*c == '"' || *c == '\\')
			putchar('\\');
		if ((unsigned char)*c < 0x20)
			putchar(' ');
		else
			putchar(*c);
	}
	printf("\"}\n");
	fflush(stdout);
}

/* Parse, prepare and run the trial in path; print its result. Returns 0,
 * or -1 after printing an error event (nothing was sent). */
static int
run_file(struct gen *g, const char *path)
{
	static struct trial t; /* large: not on the stack */
	char err[512];
	FILE *f = fopen(path, "r");
	int ret;

	if (f == NULL) {
		snprintf(err, sizeof(err), "cannot open %s: %s", path, strerror(errno));
		json_error(err);
		return -1;
	}
	ret = trial_parse(f, &t, err, sizeof(err));
	fclose(f);
	if (ret < 0) {
		json_error(err);
		return -1;
	}
	if (trial_prepare(&t, g->slots, g->n_slots, g->n_ports, err, sizeof(err)) < 0) {
		json_error(err);
		trial_free(&t);
		return -1;
	}
	if (t.epoch == 0)
		t.epoch = (uint32_t)++g->next_epoch;
	t.magic = sig_magic(t.epoch);
	t.progress = stdout;
	t.rx_queues = g->rx_queues;
	stop_trial = 0;
	trial_run(&t, &stop_trial);
	trial_report_json(stdout, &t);
	trial_free(&t);
	return 0;
}

static int
serve(struct gen *g)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	print_ready(g);
	while (!quit && (n = getline(&line, &cap, stdin)) >= 0) {
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n == 0)
			continue;
		if (strncmp(line, "run ", 4) == 0) {
			run_file(g, line + 4);
		} else if (strcmp(line, "quit") == 0) {
			break;
		} else if (strcmp(line, "ping") == 0) {
			printf("{\"event\": \"pong\"}\n");
			fflush(stdout);
		} else {
			json_error("unknown command (run FILE | ping | quit)");
		}
	}
	free(line);
	return 0;
}

/* ---- legacy mode: one flow described on the command line ---- */

static int
legacy_trial(struct trial *t, const struct options *opt, uint16_t n_ports)
{
	struct stream *s = &t->streams[0];
	struct frame_spec spec;

	memset(t, 0, sizeof(*t));
	t->duration_s = opt->duration_s;
	t->drain_s = DRAIN_S;
	t->sample_s = opt->sample_s;
	t->n_ports = n_ports;
	t->n_streams = 1;

	memset(&spec, 0, sizeof(spec));
	spec.src_mac = opt->src_mac;
	spec.dst_mac = opt->dst_mac;
	spec.src_ip = opt->src_ip;
	spec.dst_ip = opt->dst_ip;
	spec.src_port = UDP_SRC_PORT;
	spec.dst_port = UDP_DST_PORT;
	spec.size = opt->frame_size;

	s->port = opt->tx_port;
	s->len = opt->frame_size;
	s->sig_off = -1;
	s->weight = 1;
	s->pps = (double)opt->rate_pps;
	s->mode = MODE_CONT;
	s->self_start = true;
	s->next = -1;
	s->tmpl = calloc(s->len + 2u, 1);
	if (s->tmpl == NULL)
		return -1;
	frame_build(&spec, s->tmpl);
	if (opt->dst_count > 1) {
		struct fe_prog *fe = &s->fe;

		/* dst_ip + k * step for k < count: a range exactly count * step
		 * wide, stepped by step, wraps back to dst_ip. */
		fe->n_vars = 1;
		fe->vars[0] = (struct fe_var){
			.min = opt->dst_ip,
			.max = (uint64_t)opt->dst_ip + (uint64_t)opt->dst_count * opt->dst_step - 1,
			.step = opt->dst_step, .init = opt->dst_ip, .op = FE_OP_INC, .size = 4,
			.carry = -1};
		if (fe->vars[0].max > UINT32_MAX)
			fe->vars[0].max = UINT32_MAX;
		fe->n_writes = 1;
		fe->writes[0] = (struct fe_write){.off = FRAME_OFF_IP_DST, .var = 0, .size = 4,
						  .big = true};
		fe->n_csums = 2;
		fe->csums[0] = (struct fe_csum){.off = FRAME_OFF_IP_CSUM, .n_ranges = 1,
						.range = {{FRAME_OFF_IP, FRAME_OFF_UDP}}};
		fe->csums[1] = (struct fe_csum){.off = FRAME_OFF_UDP_CSUM, .udp = true, .n_ranges = 2,
						.range = {{FRAME_OFF_UDP, s->len},
							  {FRAME_OFF_IP + 12, FRAME_OFF_IP + 20}}};
		if (fe_prepare(fe, s->tmpl, s->len, -1, SIG_SIZE) != NULL)
			return -1;
	}
	return 0;
}

static int
run_legacy(struct gen *g, const struct options *opt)
{
	static struct trial t;
	char err[256];

	if (legacy_trial(&t, opt, g->n_ports) < 0 ||
	    trial_prepare(&t, g->slots, g->n_slots, g->n_ports, err, sizeof(err)) < 0) {
		fprintf(stderr, "vrouter-loadgen: cannot build the flow\n");
		trial_free(&t);
		return -1;
	}
	t.inspect = false;
	t.rx_queues = 1;
	stop_trial = 0;
	trial_run(&t, &stop_trial);
	report_legacy(stdout, &t, opt->rx_port, opt->json);
	trial_free(&t);
	return 0;
}

int
main(int argc, char **argv)
{
	static struct gen g;
	struct options opt;
	int ret;

	parse_app_args(argc, argv, &opt);

	/* stdout carries results alone; DPDK would log there too. */
	rte_openlog_stream(stderr);
	ret = rte_eal_init(argc, argv);
	if (ret < 0) {
		fprintf(stderr, "vrouter-loadgen: EAL init failed: %s\n", rte_strerror(rte_errno));
		return rte_errno == EINVAL ? EXIT_USAGE : 1;
	}
	install_signals();

	g.n_ports = rte_eth_dev_count_avail();
	if (g.n_ports > TRIAL_MAX_PORTS) {
		fprintf(stderr, "vrouter-loadgen: %u ports, at most %d supported\n", g.n_ports,
			TRIAL_MAX_PORTS);
		rte_eal_cleanup();
		return EXIT_USAGE;
	}
	if (opt.mode == RUN_LEGACY &&
	    (!rte_eth_dev_is_valid_port(opt.tx_port) || !rte_eth_dev_is_valid_port(opt.rx_port))) {
		fprintf(stderr,
			"vrouter-loadgen: need port %u (--tx-port) and port %u (--rx-port), "
			"found %u ports; add two --vdev (e.g. net_memif) or devices\n",
			opt.tx_port, opt.rx_port, g.n_ports);
		rte_eal_cleanup();
		return EXIT_USAGE;
	}
	if (g.n_ports == 0) {
		fprintf(stderr, "vrouter-loadgen: no ports: add --vdev (net_memif, net_af_packet, "
			"net_tap...) or PCI devices\n");
		rte_eal_cleanup();
		return EXIT_USAGE;
	}
	if (rte_lcore_count() > 1)
		fprintf(stderr, "vrouter-loadgen: using only the main lcore %u\n", rte_lcore_id());
	if (opt.mode == RUN_LEGACY)
		opt.slots = 1;

	g.rx_queues = (uint16_t)opt.rx_queues;
	ret = 1;
	if (gen_pools(&g, &opt) < 0)
		goto out;
	for (uint16_t p = 0; p < g.n_ports; p++) {
		g.ports[p] = p;
		if (port_setup(p, g.rx_pool, opt.rx_queues) < 0)
			goto out;
	}
	if (ports_start(g.ports, g.n_ports, opt.link_timeout_s, &quit) < 0) {
		if (opt.mode == RUN_SERVER)
			json_error("ports did not come up (see stderr)");
		goto out_stop;
	}

	switch (opt.mode) {
	case RUN_SERVER:
		ret = serve(&g);
		break;
	case RUN_CONFIG:
		ret = run_file(&g, opt.config_path) < 0 ? EXIT_USAGE : 0;
		if (opt.hold)
			hold_until_released();
		break;
	default:
		ret = run_legacy(&g, &opt) < 0 ? 1 : 0;
		if (opt.hold)
			hold_until_released();
		break;
	}
out_stop:
	ports_stop(g.ports, g.n_ports);
out:
	gen_free(&g);
	rte_eal_cleanup();
	return ret;
}
