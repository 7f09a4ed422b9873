/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The test-packet signature: 16 bytes at the end of the frame, inside the
 * L4 payload, that let the receiving side recognise our packets and
 * attribute them to a stream:
 *
 *   off  size
 *   0    4    magic, per trial (sig_magic(epoch)): a packet left over from
 *             an earlier trial, or anybody else's, does not match
 *   4    2    stream index in the trial
 *   6    4    sequence number, per stream, from 0
 *   10   6    TSC at transmit, low 48 bits (wraps after ~1 day at 3 GHz)
 *
 * All fields host byte order: only this program writes and reads them.
 * The offset is a function of the frame length alone, (len - 16) & ~1, so
 * the receiver needs no per-stream lookup to find it; even, so the words
 * it changes line up with the 16-bit words of the L4 checksum.
 */
#ifndef LOADGEN_SIG_H
#define LOADGEN_SIG_H

#include <stdint.h>

#include <rte_common.h>

#define SIG_SIZE 16u
#define SIG_TSC_MASK ((UINT64_C(1) << 48) - 1)

static inline uint32_t
sig_offset(uint32_t frame_len)
{
	return (frame_len - SIG_SIZE) & ~1u;
}

static inline uint32_t
sig_magic(uint32_t epoch)
{
	/* Any bijection of the epoch away from small numbers will do. */
	return UINT32_C(0x76524c47) ^ (epoch * UINT32_C(0x9e3779b1));
}

static inline void
sig_write(uint8_t *p, uint32_t magic, uint16_t stream, uint32_t seq, uint64_t tsc)
{
	*(unaligned_uint32_t *)(p + 0) = magic;
	*(unaligned_uint16_t *)(p + 4) = stream;
	*(unaligned_uint32_t *)(p + 6) = seq;
	*(unaligned_uint32_t *)(p + 10) = (uint32_t)tsc;
	*(unaligned_uint16_t *)(p + 14) = (uint16_t)(tsc >> 32);
}

static inline uint32_t
sig_get_magic(const uint8_t *p)
{
	return *(const unaligned_uint32_t *)p;
}

static inline uint16_t
sig_get_stream(const uint8_t *p)
{
	return *(const unaligned_uint16_t *)(p + 4);
}

static inline uint32_t
sig_get_seq(const uint8_t *p)
{
	return *(const unaligned_uint32_t *)(p + 6);
}

static inline uint64_t
sig_get_tsc(const uint8_t *p)
{
	return *(const unaligned_uint32_t *)(p + 10) |
	       (uint64_t)*(const unaligned_uint16_t *)(p + 14) << 32;
}

#endif
