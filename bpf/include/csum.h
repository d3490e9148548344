/* Internet checksum helpers (RFC 1071): folding, and sums over small fixed-size regions for
 * the ICMP messages built in encap.h.
 */
#ifndef XLVS_CSUM_H
#define XLVS_CSUM_H

#include <linux/types.h>

/* Fold a 32-bit accumulator into 16 bits and complement it. */
static __always_inline __u16 csum_fold32(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* Fold a 64-bit sum of 32-bit words (RFC 1071 §2(C), "parallel summation") into 16 bits and
 * complement it. Two folds at each width absorb every carry of a sum of up to 2^32 words. */
static __always_inline __u16 csum_fold64(__u64 sum)
{
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffffffff) + (sum >> 32);
	return csum_fold32(sum);
}

/* Sum of `words` 16-bit words at p (caller has checked bounds; words is a constant). */
static __always_inline __u32 csum_words(const void *p, int words)
{
	const __u16 *w = p;
	__u32 sum = 0;

#pragma unroll
	for (int i = 0; i < words; i++)
		sum += w[i];
	return sum;
}

#endif
