/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The field engine: what varies from one packet of a stream to the next.
 *
 * The Python side compiles TRex-style programs (STLVmFlowVar,
 * STLVmWrFlowVar, STLVmFixIpv4, tuple generators...) into this small
 * instruction list; appliance/vrouter/loadgen/fe.py is the reference
 * implementation of the same semantics, and the tests hold the two to
 * the same sequences.
 *
 * Per packet, in this order:
 *   1. every variable is updated once (the first packet gets the initial
 *      values; see fe_var_update() for inc/dec/random/list, carries and
 *      limits);
 *   2. every write stores a variable (plus a constant) into the frame,
 *      big- or little-endian, whole or masked;
 *   3. the caller writes the signature (sig.h);
 *   4. every checksum is recomputed incrementally from the template's:
 *      the frame differs from the template only in the "dirty" 16-bit
 *      words that steps 2-3 write, so checksum = template checksum
 *      adjusted by (template word -> frame word) for each dirty word it
 *      covers (RFC 1624). The template checksums are right (scapy built
 *      them), so the result is right whatever was written, and nothing
 *      but the written words is read.
 */
#ifndef LOADGEN_FE_H
#define LOADGEN_FE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_byteorder.h>
#include <rte_common.h>

#define FE_MAX_VARS 16
#define FE_MAX_WRITES 32
#define FE_MAX_CSUMS 4
#define FE_MAX_CSUM_RANGES 3
#define FE_MAX_CSUM_WORDS 128
#define FE_MAX_LIST 65536

enum fe_op {
	FE_OP_INC,
	FE_OP_DEC,
	FE_OP_RAND,
};

struct fe_var {
	/* configuration */
	uint64_t min, max;    /* inclusive; for a list: indexes 0..n-1 */
	uint64_t step;        /* inc/dec */
	uint64_t init;        /* first packet's value (index for a list) */
	uint64_t seed;        /* random: PRNG state at start and at each reset */
	uint64_t limit;       /* reset to the start every `limit` packets; 0 = never */
	uint64_t *list;       /* value list (malloc'd) or NULL */
	int8_t carry;         /* var whose wrap-around steps this one; -1 = every packet */
	uint8_t op;           /* enum fe_op */
	uint8_t size;         /* 1, 2, 4 or 8 bytes */
	/* state */
	uint64_t range;       /* max - min + 1; 0 means all 2^64 values */
	uint64_t step_m;      /* step modulo the range (no division per packet) */
	uint64_t cur;
	uint64_t rng;
	uint64_t count;       /* packets since the last (re)start */
	bool started;
	bool wrapped;         /* this packet's update went past max (inc) or min (dec) */
	bool reset;           /* this packet's update restarted the sequence */
};

struct fe_write {
	uint16_t off;         /* frame offset */
	uint8_t var;
	uint8_t size;         /* bytes written: the var's size, or the cast size */
	bool big;             /* network byte order */
	bool masked;          /* STLVmWrMaskFlowVar */
	int8_t shift;         /* masked: value << shift (>> -shift) */
	uint32_t mask;        /* masked: bits of the field taken from the value */
	uint32_t tmpl_val;    /* masked: the template's field, host order */
	uint64_t add;
};

struct fe_csum {
	uint16_t off;         /* the 16-bit checksum field */
	bool udp;             /* 0 means "no checksum" in UDP: send 0xffff */
	uint8_t n_ranges;
	uint16_t range[FE_MAX_CSUM_RANGES][2]; /* [start, end) of the frame it covers */
	/* derived by fe_prepare() */
	uint16_t n_words;
	uint16_t words[FE_MAX_CSUM_WORDS]; /* dirty even offsets inside the ranges */
	uint32_t base;        /* ~template checksum + sum of ~template dirty words */
};

struct fe_prog {
	uint8_t n_vars, n_writes, n_csums;
	struct fe_var vars[FE_MAX_VARS];
	struct fe_write writes[FE_MAX_WRITES];
	struct fe_csum csums[FE_MAX_CSUMS];
};

/* xorshift64*: fast, and simple enough to mirror exactly in Python. */
static inline uint64_t
fe_rand(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * UINT64_C(0x2545f4914f6cdd1d);
}

static inline uint64_t
fe_var_draw(struct fe_var *v)
{
	uint64_t r = fe_rand(&v->rng);

	if (v->range == 0)
		return r;
	/* Multiply-shift: uniform enough, no division. */
	return v->min + (uint64_t)(((unsigned __int128)r * v->range) >> 64);
}

static inline void
fe_var_restart(struct fe_var *v)
{
	v->rng = v->seed;
	v->cur = v->op == FE_OP_RAND ? fe_var_draw(v) : v->init;
	v->count = 1;
}

static inline void
fe_var_step(struct fe_var *v)
{
	uint64_t off = v->cur - v->min;
	uint64_t step = v->step_m;

	switch (v->op) {
	case FE_OP_INC:
		if (v->range == 0) {
			v->cur += step;
			v->wrapped = v->cur < step;
		} else if (off >= v->range - step) {
			v->cur = v->min + (off - (v->range - step));
			v->wrapped = true;
		} else {
			v->cur += step;
		}
		break;
	case FE_OP_DEC:
		if (v->range == 0) {
			v->wrapped = v->cur < step;
			v->cur -= step;
		} else if (off < step) {
			v->cur = v->min + (off + (v->range - step));
			v->wrapped = true;
		} else {
			v->cur -= step;
		}
		break;
	default:
		v->cur = fe_var_draw(v);
		break;
	}
}

static inline void
fe_var_update(struct fe_var *v, const struct fe_var *vars)
{
	v->wrapped = false;
	v->reset = false;
	if (unlikely(!v->started)) {
		fe_var_restart(v);
		v->started = true;
		return;
	}
	if (v->carry >= 0) {
		const struct fe_var *src = &vars[v->carry];

		/* Reset with the source; otherwise move only when it wrapped. */
		if (src->reset) {
			fe_var_restart(v);
			v->reset = true;
		} else if (src->wrapped) {
			fe_var_step(v);
		}
		return;
	}
	if (v->limit != 0 && v->count == v->limit) {
		fe_var_restart(v);
		v->reset = true;
		return;
	}
	fe_var_step(v);
	v->count++;
}

static inline uint64_t
fe_var_value(const struct fe_var *v)
{
	return v->list != NULL ? v->list[v->cur] : v->cur;
}

static inline void
fe_store(uint8_t *p, uint64_t val, uint8_t size, bool big)
{
	switch (size) {
	case 1:
		*p = (uint8_t)val;
		break;
	case 2: {
		uint16_t x = (uint16_t)val;
		*(unaligned_uint16_t *)p = big ? rte_cpu_to_be_16(x) : x;
		break;
	}
	case 4: {
		uint32_t x = (uint32_t)val;
		*(unaligned_uint32_t *)p = big ? rte_cpu_to_be_32(x) : x;
		break;
	}
	default:
		*(unaligned_uint64_t *)p = big ? rte_cpu_to_be_64(val) : val;
		break;
	}
}

static inline void
fe_write(uint8_t *p, const struct fe_write *w, const struct fe_var *vars)
{
	uint64_t val = fe_var_value(&vars[w->var]) + w->add;

	if (w->masked) {
		uint32_t v32 = (uint32_t)val;

		v32 = w->shift >= 0 ? v32 << w->shift : v32 >> -w->shift;
		val = (w->tmpl_val & ~w->mask) | (v32 & w->mask);
	}
	fe_store(p + w->off, val, w->size, w->big);
}

/* Updates the variables and applies the writes to one frame. */
static inline void
fe_apply(struct fe_prog *fe, uint8_t *p)
{
	for (unsigned int i = 0; i < fe->n_vars; i++)
		fe_var_update(&fe->vars[i], fe->vars);
	for (unsigned int i = 0; i < fe->n_writes; i++)
		fe_write(p, &fe->writes[i], fe->vars);
}

/* Recomputes the checksums of one frame (after fe_apply and the signature). */
static inline void
fe_fix_csums(const struct fe_prog *fe, uint8_t *p)
{
	for (unsigned int i = 0; i < fe->n_csums; i++) {
		const struct fe_csum *c = &fe->csums[i];
		uint32_t sum = c->base;
		uint16_t res;

		for (unsigned int k = 0; k < c->n_words; k++)
			sum += *(const unaligned_uint16_t *)(p + c->words[k]);
		sum = (sum & 0xffff) + (sum >> 16);
		sum = (sum & 0xffff) + (sum >> 16);
		sum = (sum & 0xffff) + (sum >> 16);
		res = (uint16_t)~sum;
		if (c->udp && res == 0)
			res = 0xffff;
		*(unaligned_uint16_t *)(p + c->off) = res;
	}
}

/*
 * Derive the checksum word lists from the writes and the signature
 * (sig_off < 0: none), check the program against the frame length, and
 * put every variable at its start. Returns NULL or an error message.
 */
const char *fe_prepare(struct fe_prog *fe, const uint8_t *tmpl, uint16_t len, int sig_off,
		       uint16_t sig_size);

/* Back to the start: the next packet gets the initial values again. */
void fe_reset(struct fe_prog *fe);

void fe_free(struct fe_prog *fe);

#endif
