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

/* rho offsets and pi destinations along the lane walk (x,y) -> (y, 2x+3y), starting at lane 1:
 * rho = {1,3,6,10,15,21,28,36,45,55,2,14,27,41,56,8,25,43,62,18,39,61,20,44},
 * pi  = {10,7,11,17,18,3,5,16,8,21,24,4,15,23,19,13,12,2,20,14,22,9,6,1} (unrolled below). */

static inline uint64_t s_rotl(uint64_t v, unsigned n) { return (v << n) | (v >> ((64u - n) & 63u)); }

/*
 * The permutation with the column and row loops written out (no `% 5` index arithmetic): the
 * release build is -Os, which does not unroll, and the modular indexing cost ~5x.
 */
static void s_keccak_f1600(uint64_t st[25]) {
    for (unsigned round = 0; round < 24; round++) {
        /* theta: each lane XORs the parity of two neighbouring columns */
        uint64_t c0 = st[0] ^ st[5] ^ st[10] ^ st[15] ^ st[20];
        uint64_t c1 = st[1] ^ st[6] ^ st[11] ^ st[16] ^ st[21];
        uint64_t c2 = st[2] ^ st[7] ^ st[12] ^ st[17] ^ st[22];
        uint64_t c3 = st[3] ^ st[8] ^ st[13] ^ st[18] ^ st[23];
        uint64_t c4 = st[4] ^ st[9] ^ st[14] ^ st[19] ^ st[24];
        uint64_t d0 = c4 ^ s_rotl(c1, 1), d1 = c0 ^ s_rotl(c2, 1), d2 = c1 ^ s_rotl(c3, 1);
        uint64_t d3 = c2 ^ s_rotl(c4, 1), d4 = c3 ^ s_rotl(c0, 1);
        for (unsigned y = 0; y < 25; y += 5) {
            st[y] ^= d0;
            st[y + 1] ^= d1;
            st[y + 2] ^= d2;
            st[y + 3] ^= d3;
            st[y + 4] ^= d4;
        }
        /* rho and pi together: carry one lane along the permutation cycle (s_pi / s_rho,
         * written out) */
        uint64_t cur = st[1], nxt;
        nxt = st[10];
        st[10] = s_rotl(cur, 1);
        cur = nxt;
        nxt = st[7];
        st[7] = s_rotl(cur, 3);
        cur = nxt;
        nxt = st[11];
        st[11] = s_rotl(cur, 6);
        cur = nxt;
        nxt = st[17];
        st[17] = s_rotl(cur, 10);
        cur = nxt;
        nxt = st[18];
        st[18] = s_rotl(cur, 15);
        cur = nxt;
        nxt = st[3];
        st[3] = s_rotl(cur, 21);
        cur = nxt;
        nxt = st[5];
        st[5] = s_rotl(cur, 28);
        cur = nxt;
        nxt = st[16];
        st[16] = s_rotl(cur, 36);
        cur = nxt;
        nxt = st[8];
        st[8] = s_rotl(cur, 45);
        cur = nxt;
        nxt = st[21];
        st[21] = s_rotl(cur, 55);
        cur = nxt;
        nxt = st[24];
        st[24] = s_rotl(cur, 2);
        cur = nxt;
        nxt = st[4];
        st[4] = s_rotl(cur, 14);
        cur = nxt;
        nxt = st[15];
        st[15] = s_rotl(cur, 27);
        cur = nxt;
        nxt = st[23];
        st[23] = s_rotl(cur, 41);
        cur = nxt;
        nxt = st[19];
        st[19] = s_rotl(cur, 56);
        cur = nxt;
        nxt = st[13];
        st[13] = s_rotl(cur, 8);
        cur = nxt;
        nxt = st[12];
        st[12] = s_rotl(cur, 25);
        cur = nxt;
        nxt = st[2];
        st[2] = s_rotl(cur, 43);
        cur = nxt;
        nxt = st[20];
        st[20] = s_rotl(cur, 62);
        cur = nxt;
        nxt = st[14];
        st[14] = s_rotl(cur, 18);
        cur = nxt;
        nxt = st[22];
        st[22] = s_rotl(cur, 39);
        cur = nxt;
        nxt = st[9];
        st[9] = s_rotl(cur, 61);
        cur = nxt;
        nxt = st[6];
        st[6] = s_rotl(cur, 20);
        cur = nxt;
        nxt = st[1];
        st[1] = s_rotl(cur, 44);
        /* chi: non-linear step along each row */
        for (unsigned y = 0; y < 25; y += 5) {
            uint64_t b0 = st[y], b1 = st[y + 1], b2 = st[y + 2], b3 = st[y + 3], b4 = st[y + 4];
            st[y] = b0 ^ (~b1 & b2);
            st[y + 1] = b1 ^ (~b2 & b3);
            st[y + 2] = b2 ^ (~b3 & b4);
            st[y + 3] = b3 ^ (~b4 & b0);
            st[y + 4] = b4 ^ (~b0 & b1);
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
