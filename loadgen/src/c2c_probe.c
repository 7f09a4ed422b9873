/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vrouter-c2c-probe: how long a cache line takes to go from one CPU to
 * another and back.
 *
 * On a VM the two vCPUs of the benchmark may sit on sibling hyperthreads,
 * on one socket, or (after the host moved one) far apart; memif throughput
 * between them then drops ~2.5x for a while. The round-trip time of a
 * shared cache line tells which case we are in (~250-450 TSC cycles when
 * close, 1000+ when far), in a few milliseconds. The benchmark runs this
 * before and after every trial and repeats trials that ran in the bad state.
 *
 *   vrouter-c2c-probe [--cpus A,B] [--samples N] [--batch N] [--json]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define HAVE_TSC 1
static inline uint64_t ticks(void) { return __rdtsc(); }
#define cpu_relax() __builtin_ia32_pause()
#else
#define cpu_relax() __asm__ volatile("" ::: "memory")
#define HAVE_TSC 0
#endif

#define EXIT_USAGE 2
#define MAX_SAMPLES 100000

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

#if !HAVE_TSC
static inline uint64_t ticks(void) { return now_ns(); }
#endif

/* The line that bounces. Alone in 128 bytes (the alignment pads the
 * struct) so that the adjacent-line prefetcher drags no neighbour along. */
static struct {
	volatile uint64_t seq;
} __attribute__((aligned(128))) line;

struct ponger_arg {
	int cpu;
	uint64_t rounds;
};

static int
pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* Answers every odd value with the next even one. */
static void *
ponger(void *p)
{
	const struct ponger_arg *a = p;

	if (pin(a->cpu) != 0) {
		fprintf(stderr, "c2c-probe: cannot run on CPU %d\n", a->cpu);
		exit(1);
	}
	for (uint64_t i = 0; i < a->rounds; i++) {
		uint64_t want = 2 * i + 1;

		while (line.seq != want)
			cpu_relax();
		line.seq = want + 1;
	}
	return NULL;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void __attribute__((noreturn))
usage_error(const char *what)
{
	fprintf(stderr,
		"c2c-probe: %s\n"
		"usage: vrouter-c2c-probe [--cpus A,B] [--samples N] [--batch N] [--json]\n",
		what);
	exit(EXIT_USAGE);
}

static long
parse_count(const char *name, const char *s, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > max) {
		fprintf(stderr, "c2c-probe: %s: '%s' is not an integer in 1..%ld\n", name, s, max);
		exit(EXIT_USAGE);
	}
	return v;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"cpus", required_argument, NULL, 'c'},
		{"samples", required_argument, NULL, 's'},
		{"batch", required_argument, NULL, 'b'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int cpu_a = 0, cpu_b = 1, json = 0, c;
	long samples = 300, batch = 50;
	static uint64_t cyc[MAX_SAMPLES];
	uint64_t seq = 0, t0_ns, t0_tk, t1_ns, t1_tk;
	struct ponger_arg pa;
	pthread_t th;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (sscanf(optarg, "%d,%d", &cpu_a, &cpu_b) != 2 || cpu_a < 0 ||
			    cpu_b < 0 || cpu_a == cpu_b)
				usage_error("--cpus: expected two different CPUs, e.g. 0,1");
			break;
		case 's':
			samples = parse_count("--samples", optarg, MAX_SAMPLES);
			break;
		case 'b':
			batch = parse_count("--batch", optarg, 100000);
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			usage_error("measures the cache-line round trip between two CPUs");
		default:
			usage_error("unknown or incomplete option");
		}
	}

	if (pin(cpu_a) != 0) {
		fprintf(stderr, "c2c-probe: cannot run on CPU %d\n", cpu_a);
		return 1;
	}
	/* One warm-up batch, not recorded. */
	pa.cpu = cpu_b;
	pa.rounds = (uint64_t)(samples + 1) * batch;
	if (pthread_create(&th, NULL, ponger, &pa) != 0) {
		fprintf(stderr, "c2c-probe: cannot start a thread\n");
		return 1;
	}
	/* Never hang a benchmark on a probe whose partner cannot run. */
	alarm(10);

	t0_ns = 0;
	t0_tk = 0;
	for (long s = -1; s < samples; s++) {
		uint64_t start = ticks();

		if (s == 0) {
			t0_ns = now_ns();
			t0_tk = start;
		}
		for (long i = 0; i < batch; i++) {
			line.seq = ++seq;
			++seq;
			while (line.seq != seq)
				cpu_relax();
		}
		if (s >= 0)
			cyc[s] = (ticks() - start) / batch;
	}
	t1_tk = ticks();
	t1_ns = now_ns();
	pthread_join(th, NULL);

	qsort(cyc, samples, sizeof(cyc[0]), cmp_u64);
	double tick_hz = t1_ns > t0_ns ? (double)(t1_tk - t0_tk) * 1e9 / (t1_ns - t0_ns) : 0;
	uint64_t med = cyc[samples / 2], p10 = cyc[samples / 10], p90 = cyc[samples * 9 / 10];
	double med_ns = tick_hz > 0 ? med * 1e9 / tick_hz : 0;

	if (json)
		printf("{\"cpus\": [%d, %d], \"samples\": %ld, \"batch\": %ld, "
		       "\"median_cycles\": %llu, \"p10_cycles\": %llu, \"p90_cycles\": %llu, "
		       "\"min_cycles\": %llu, \"max_cycles\": %llu, \"median_ns\": %.1f, "
		       "\"tsc_hz_estimate\": %.0f}\n",
		       cpu_a, cpu_b, samples, batch, (unsigned long long)med,
		       (unsigned long long)p10, (unsigned long long)p90,
		       (unsigned long long)cyc[0], (unsigned long long)cyc[samples - 1], med_ns,
		       tick_hz);
	else
		printf("CPU %d <-> CPU %d round trip: median %llu cycles (%.0f ns), "
		       "p10 %llu, p90 %llu\n",
		       cpu_a, cpu_b, (unsigned long long)med, med_ns, (unsigned long long)p10,
		       (unsigned long long)p90);
	return 0;
}
