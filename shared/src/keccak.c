/*
 * keccak.c — Keccak-256 as Ethereum uses it (DESIGN §4: "ours, small, tested against vectors").
 *
 * Keccak[c=512] with rate 1088 bits (136 bytes) and the ORIGINAL Keccak padding: the domain byte
 * is 0x01, not FIPS-202 SHA3's 0x06 (Ethereum fixed the algorithm before NIST changed the
 * padding). So keccak256("") = c5d246…a470, while SHA3-256("") = a7ffc6…434a.
 *
 * The permutation is Keccak-f[1600] as in the Keccak reference ("The Keccak reference", v3.0,
 * §1.2: theta, rho, pi, chi, iota; 24 rounds). Lanes are 64-bit little-endian words, so input is
 * absorbed byte by byte as `lane ^= byte << 8*(i % 8)`, which is independent of host byte order.
 *
 * ak_keccak_ctx (ak/crypto.h) carries `st` (the 25 lanes) and `pos` (bytes absorbed into the
 * current block, 0..135). No allocation; the context holds no secret beyond what was hashed,
 * and final() wipes it because callers may hash secrets.
 */
#include <string.h>

#include "ak/crypto.h"
#include "ak/ct.h"

#define KECCAK_RATE 136u /* (1600 - 2*256) / 8 */

static const uint64_t s_round_consts[24] = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL, 0x8000000080008000ULL,
    0x000000000000808bULL, 0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL,
    0x000000000000008aULL, 0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
    0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL, 0x8000000000008003ULL,
    0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800aULL, 0x800000008000000aULL,
    0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL,
};

/* rho offsets and pi destinations along the lane walk (x,y) -> (y, 2x+3y), starting at lane 1. */
static const unsigned s_rho[24] = {1,  3,  6,  10, 15, 21, 28, 36, 45, 55, 2,  14,
                                   27, 41, 56, 8,  25, 43, 62, 18, 39, 61, 20, 44};
static const unsigned s_pi[24] = {10, 7,  11, 17, 18, 3, 5,  16, 8,  21, 24, 4,
                                  15, 23, 19, 13, 12, 2, 20, 14, 22, 9,  6,  1};

static inline uint64_t s_rotl(uint64_t v, unsigned n) { return (v << n) | (v >> ((64u - n) & 63u)); }

static void s_keccak_f1600(uint64_t st[25]) {
    uint64_t bc[5];
    for (unsigned round = 0; round < 24; round++) {
        /* theta: each lane XORs the parity of two neighbouring columns */
        for (unsigned x = 0; x < 5; x++)
            bc[x] = st[x] ^ st[x + 5] ^ st[x + 10] ^ st[x + 15] ^ st[x + 20];
        for (unsigned x = 0; x < 5; x++) {
            uint64_t t = bc[(x + 4) % 5] ^ s_rotl(bc[(x + 1) % 5], 1);
            for (unsigned y = 0; y < 25; y += 5)
                st[y + x] ^= t;
        }
        /* rho and pi together: carry one lane along the permutation cycle */
        uint64_t cur = st[1];
        for (unsigned i = 0; i < 24; i++) {
            unsigned j = s_pi[i];
            uint64_t next = st[j];
            st[j] = s_rotl(cur, s_rho[i]);
            cur = next;
        }
        /* chi: non-linear step along each row */
        for (unsigned y = 0; y < 25; y += 5) {
            for (unsigned x = 0; x < 5; x++)
                bc[x] = st[y + x];
            for (unsigned x = 0; x < 5; x++)
                st[y + x] = bc[x] ^ (~bc[(x + 1) % 5] & bc[(x + 2) % 5]);
        }
        /* iota */
        st[0] ^= s_round_consts[round];
    }
}

static inline uint64_t s_load64_le(const uint8_t *p) {
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
           (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

void ak_keccak256_init(ak_keccak_ctx *c) {
    AK_PRECOND(c != NULL);
    memset(c->st, 0, sizeof(c->st));
    c->pos = 0;
}

void ak_keccak256_update(ak_keccak_ctx *c, const void *data, size_t len) {
    AK_PRECOND(c != NULL && (data != NULL || len == 0));
    AK_PRECOND(c->pos < KECCAK_RATE);
    const uint8_t *p = data;
    /* finish a partial block byte by byte */
    while (len > 0 && c->pos != 0) {
        c->st[c->pos / 8] ^= (uint64_t)*p++ << (8 * (c->pos % 8));
        len--;
        if (++c->pos == KECCAK_RATE) {
            s_keccak_f1600(c->st);
            c->pos = 0;
        }
    }
    /* whole blocks a lane at a time (the fast path for long inputs) */
    while (len >= KECCAK_RATE) {
        for (unsigned i = 0; i < KECCAK_RATE / 8; i++)
            c->st[i] ^= s_load64_le(p + 8 * i);
        s_keccak_f1600(c->st);
        p += KECCAK_RATE;
        len -= KECCAK_RATE;
    }
    /* tail */
    for (; len > 0; len--) {
        c->st[c->pos / 8] ^= (uint64_t)*p++ << (8 * (c->pos % 8));
        c->pos++;
    }
}

void ak_keccak256_final(ak_keccak_ctx *c, uint8_t out[32]) {
    AK_PRECOND(c != NULL && out != NULL);
    AK_PRECOND(c->pos < KECCAK_RATE);
    /* pad10*1 with Keccak's domain bit: 0x01 at pos, 0x80 at the last rate byte (same byte
     * when pos == 135, giving 0x81) */
    c->st[c->pos / 8] ^= (uint64_t)0x01 << (8 * (c->pos % 8));
    c->st[(KECCAK_RATE - 1) / 8] ^= (uint64_t)0x80 << (8 * ((KECCAK_RATE - 1) % 8));
    s_keccak_f1600(c->st);
    for (unsigned i = 0; i < 32; i++)
        out[i] = (uint8_t)(c->st[i / 8] >> (8 * (i % 8)));
    ak_wipe(c, sizeof(*c));
}

void ak_keccak256(const void *data, size_t len, uint8_t out[32]) {
    ak_keccak_ctx c;
    ak_keccak256_init(&c);
    ak_keccak256_update(&c, data, len);
    ak_keccak256_final(&c, out);
}
