// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// @title P256Verifier — ECDSA over NIST P-256 (secp256r1) in pure Solidity.
/// @notice The target chain is at London: no RIP-7212 precompile, so this computes
///         x(u1·G + u2·Q) itself. Plain ECDSA (SEC 1 §4.1.4): r, s ∈ [1, n−1], the key must be a
///         valid affine point; high-s signatures are valid (WebAuthn authenticators produce them).
/// @dev    Speed (see README.md for gas figures):
///         - XYZZ coordinates (x = X/ZZ, y = Y/ZZZ): doubling "dbl-2008-s-1" and mixed addition
///           "madd-2008-s" from the Explicit-Formulas Database (hyperelliptic.org/EFD,
///           g1p/auto-shortw-xyzz.html), with a = −3 folded into the doubling;
///         - Shamir's trick with a 2-bit joint window: a table of the 15 affine points
///           i·G + j·Q (i, j ∈ 0..3, not both 0), normalised with one inversion (Montgomery's
///           batch trick), then 128 steps of two doublings and at most one mixed addition;
///         - the only inversions are s⁻¹ mod n and the table's batch inversion mod p, both via the
///           modexp precompile (0x05, available since Byzantium); the final x is compared
///           projectively (X == r·ZZ or X == (r+n)·ZZ), so no inversion is spent on it.
///         Every exceptional case of the formulas (infinity, P + P, P + (−P)) is handled
///         explicitly; Wycheproof's "EdgeCaseShamirMultiplication" vectors exercise them.
contract P256Verifier {
    uint256 internal constant P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF;
    uint256 internal constant N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551;
    uint256 internal constant B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B;
    uint256 internal constant GX = 0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296;
    uint256 internal constant GY = 0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5;
    uint256 internal constant P_MINUS_2 = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFD;
    uint256 internal constant N_MINUS_2 = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC63254F;

    /// @notice Verify an ECDSA P-256 signature (r, s) over the 32-byte hash `msgHash` with the
    ///         public key (pubX, pubY). Returns false (never reverts) for any invalid input:
    ///         r or s outside [1, n−1], a coordinate ≥ p, (0,0), or a point not on the curve.
    function verify(bytes32 msgHash, uint256 r, uint256 s, uint256 pubX, uint256 pubY)
        external
        view
        returns (bool)
    {
        return verifySignature(msgHash, r, s, pubX, pubY);
    }

    /// @notice True iff (x, y) is an affine point of P-256 (the point at infinity has no affine form).
    function isOnCurve(uint256 x, uint256 y) public pure returns (bool) {
        if (x >= P || y >= P) return false;
        if (x == 0 && y == 0) return false;
        uint256 lhs = mulmod(y, y, P);
        uint256 rhs = addmod(mulmod(mulmod(x, x, P), x, P), addmod(mulmod(P - 3, x, P), B, P), P);
        return lhs == rhs;
    }

    function verifySignature(bytes32 msgHash, uint256 r, uint256 s, uint256 pubX, uint256 pubY)
        internal
        view
        returns (bool)
    {
        if (r == 0 || r >= N || s == 0 || s >= N) return false;
        if (!isOnCurve(pubX, pubY)) return false;
        uint256 sInv = _modInverse(s, N, N_MINUS_2);
        if (sInv == 0) return false;
        uint256 e = uint256(msgHash) % N;
        uint256 u1 = mulmod(e, sInv, N);
        uint256 u2 = mulmod(r, sInv, N);
        if (u1 == 0 && u2 == 0) return false; // cannot happen (r, s⁻¹ ≠ 0 mod prime n); keeps the loop bounded
        return _shamirCheck(u1, u2, pubX, pubY, r);
    }

    /// @dev a^(m−2) mod m through the modexp precompile; m is prime here. Returns 0 on failure.
    function _modInverse(uint256 a, uint256 m, uint256 mMinus2) private view returns (uint256 inv) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, 0x20)
            mstore(add(ptr, 0x20), 0x20)
            mstore(add(ptr, 0x40), 0x20)
            mstore(add(ptr, 0x60), a)
            mstore(add(ptr, 0x80), mMinus2)
            mstore(add(ptr, 0xa0), m)
            if iszero(staticcall(gas(), 0x05, ptr, 0xc0, ptr, 0x20)) { mstore(ptr, 0) }
            inv := mload(ptr)
        }
    }

    /// @dev Table layout in memory (64 bytes per entry, index k = i + 4·j for i·G + j·Q):
    ///      entry k at tbl + 64·k holds (x, y) affine; an entry whose point is infinity is marked
    ///      in the bitmask `infMask` (bit k). Entry 0 is unused (the identity).
    function _shamirCheck(uint256 u1, uint256 u2, uint256 qx, uint256 qy, uint256 r)
        private
        view
        returns (bool ok)
    {
        uint256 tbl;
        uint256 infMask;
        (tbl, infMask) = _buildTable(qx, qy);
        assembly ("memory-safe") {
            // ---- XYZZ doubling, a = −3 (dbl-2008-s-1). Infinity (zz = 0) stays infinity. ----
            function dbl(x, y, zz, zzz) -> x3, y3, zz3, zzz3 {
                let u := addmod(y, y, P)
                let v := mulmod(u, u, P)
                let w := mulmod(u, v, P)
                let s := mulmod(x, v, P)
                // m = 3·(x − zz)(x + zz) = 3x² − 3zz²
                let m := mulmod(3, mulmod(addmod(x, sub(P, zz), P), addmod(x, zz, P), P), P)
                x3 := addmod(mulmod(m, m, P), sub(P, addmod(s, s, P)), P)
                y3 := addmod(mulmod(m, addmod(s, sub(P, x3), P), P), sub(P, mulmod(w, y, P)), P)
                zz3 := mulmod(v, zz, P)
                zzz3 := mulmod(w, zzz, P)
            }
            // ---- XYZZ + affine (madd-2008-s), with every exceptional case handled. ----
            function madd(x1, y1, zz1, zzz1, x2, y2) -> x3, y3, zz3, zzz3 {
                if iszero(zz1) {
                    x3 := x2
                    y3 := y2
                    zz3 := 1
                    zzz3 := 1
                    leave
                }
                let pp := addmod(mulmod(x2, zz1, P), sub(P, x1), P) // U2 − X1
                let rr := addmod(mulmod(y2, zzz1, P), sub(P, y1), P) // S2 − Y1
                if iszero(pp) {
                    if iszero(rr) {
                        // same point: double the affine input
                        x3, y3, zz3, zzz3 := dbl(x2, y2, 1, 1)
                        leave
                    }
                    // P + (−P) = infinity
                    x3 := 0
                    y3 := 0
                    zz3 := 0
                    zzz3 := 0
                    leave
                }
                let ppp := mulmod(pp, pp, P) // PP
                zz3 := mulmod(zz1, ppp, P)
                let q := mulmod(x1, ppp, P) // Q = X1·PP
                ppp := mulmod(pp, ppp, P) // PPP
                zzz3 := mulmod(zzz1, ppp, P)
                x3 := addmod(mulmod(rr, rr, P), sub(P, addmod(ppp, addmod(q, q, P), P)), P)
                y3 := addmod(mulmod(rr, addmod(q, sub(P, x3), P), P), sub(P, mulmod(y1, ppp, P)), P)
            }

            let x := 0
            let y := 0
            let zz := 0
            let zzz := 0
            // 128 two-bit windows, most significant first. Skip leading zero windows.
            let i := 254
            for {} and(iszero(shr(i, u1)), iszero(shr(i, u2))) {} { i := sub(i, 2) }
            for {} 1 {} {
                let k := add(and(shr(i, u1), 3), shl(2, and(shr(i, u2), 3)))
                if k {
                    if iszero(and(shr(k, infMask), 1)) {
                        let e := add(tbl, shl(6, k))
                        x, y, zz, zzz := madd(x, y, zz, zzz, mload(e), mload(add(e, 0x20)))
                    }
                }
                if iszero(i) { break }
                i := sub(i, 2)
                // Two doublings, written out (same formulas as dbl): the hot path, no calls.
                {
                    let u := addmod(y, y, P)
                    let v := mulmod(u, u, P)
                    let w := mulmod(u, v, P)
                    let s := mulmod(x, v, P)
                    let m := mulmod(3, mulmod(addmod(x, sub(P, zz), P), addmod(x, zz, P), P), P)
                    zz := mulmod(v, zz, P)
                    zzz := mulmod(w, zzz, P)
                    x := addmod(mulmod(m, m, P), sub(P, addmod(s, s, P)), P)
                    y := addmod(mulmod(m, addmod(s, sub(P, x), P), P), sub(P, mulmod(w, y, P)), P)
                }
                {
                    let u := addmod(y, y, P)
                    let v := mulmod(u, u, P)
                    let w := mulmod(u, v, P)
                    let s := mulmod(x, v, P)
                    let m := mulmod(3, mulmod(addmod(x, sub(P, zz), P), addmod(x, zz, P), P), P)
                    zz := mulmod(v, zz, P)
                    zzz := mulmod(w, zzz, P)
                    x := addmod(mulmod(m, m, P), sub(P, addmod(s, s, P)), P)
                    y := addmod(mulmod(m, addmod(s, sub(P, x), P), P), sub(P, mulmod(w, y, P)), P)
                }
            }
            // Accept iff the result is finite and x(R) ≡ r (mod n). x(R) = X/ZZ ∈ [0, p) and
            // r < n < p, so x(R) mod n == r iff x(R) == r or x(R) == r + n (only if r + n < p).
            // (r + n < p ⇔ r < p − n; testing the sum itself would wrap past 2^256, since n > 2^255:
            // Wycheproof tcId 260.)
            if zz {
                ok := eq(x, mulmod(r, zz, P))
                if iszero(ok) {
                    if lt(r, sub(P, N)) { ok := eq(x, mulmod(add(r, N), zz, P)) }
                }
            }
        }
    }

    /// @dev Builds the 15-entry affine table i·G + j·Q in fresh memory. Points are first formed in
    ///      XYZZ coordinates (entries 1..3 and 4,8,12 from doubling/adding), then normalised with a
    ///      single batch inversion. Entries that are the point at infinity get their bit in infMask.
    function _buildTable(uint256 qx, uint256 qy) private view returns (uint256 tbl, uint256 infMask) {
        // Projective table: 16 entries × 4 words (X, Y, ZZ, ZZZ) at proj; affine output at tbl.
        uint256 proj;
        assembly ("memory-safe") {
            proj := mload(0x40)
            // layout: proj: 16 × 128 bytes = 0x800; tbl: 16 × 64 = 0x400; scratch: 16 × 32 = 0x200
            tbl := add(proj, 0x800)
            mstore(0x40, add(tbl, 0x600))
        }
        _fillProjective(proj, qx, qy);
        infMask = _normalise(proj, tbl);
    }

    function _fillProjective(uint256 proj, uint256 qx, uint256 qy) private pure {
        assembly ("memory-safe") {
            function dbl(x, y, zz, zzz) -> x3, y3, zz3, zzz3 {
                let u := addmod(y, y, P)
                let v := mulmod(u, u, P)
                let w := mulmod(u, v, P)
                let s := mulmod(x, v, P)
                let m := mulmod(3, mulmod(addmod(x, sub(P, zz), P), addmod(x, zz, P), P), P)
                x3 := addmod(mulmod(m, m, P), sub(P, addmod(s, s, P)), P)
                y3 := addmod(mulmod(m, addmod(s, sub(P, x3), P), P), sub(P, mulmod(w, y, P)), P)
                zz3 := mulmod(v, zz, P)
                zzz3 := mulmod(w, zzz, P)
            }
            function madd(x1, y1, zz1, zzz1, x2, y2) -> x3, y3, zz3, zzz3 {
                if iszero(zz1) {
                    x3 := x2
                    y3 := y2
                    zz3 := 1
                    zzz3 := 1
                    leave
                }
                let pp := addmod(mulmod(x2, zz1, P), sub(P, x1), P)
                let rr := addmod(mulmod(y2, zzz1, P), sub(P, y1), P)
                if iszero(pp) {
                    if iszero(rr) {
                        x3, y3, zz3, zzz3 := dbl(x2, y2, 1, 1)
                        leave
                    }
                    x3 := 0
                    y3 := 0
                    zz3 := 0
                    zzz3 := 0
                    leave
                }
                let ppp := mulmod(pp, pp, P)
                zz3 := mulmod(zz1, ppp, P)
                let q := mulmod(x1, ppp, P)
                ppp := mulmod(pp, ppp, P)
                zzz3 := mulmod(zzz1, ppp, P)
                x3 := addmod(mulmod(rr, rr, P), sub(P, addmod(ppp, addmod(q, q, P), P)), P)
                y3 := addmod(mulmod(rr, addmod(q, sub(P, x3), P), P), sub(P, mulmod(y1, ppp, P)), P)
            }
            function put(base, k, x, y, zz, zzz) {
                let e := add(base, shl(7, k))
                mstore(e, x)
                mstore(add(e, 0x20), y)
                mstore(add(e, 0x40), zz)
                mstore(add(e, 0x60), zzz)
            }
            // 1·G, 2·G, 3·G
            put(proj, 1, GX, GY, 1, 1)
            let x, y, zz, zzz := dbl(GX, GY, 1, 1)
            put(proj, 2, x, y, zz, zzz)
            x, y, zz, zzz := madd(x, y, zz, zzz, GX, GY)
            put(proj, 3, x, y, zz, zzz)
            // 1·Q, 2·Q, 3·Q
            put(proj, 4, qx, qy, 1, 1)
            x, y, zz, zzz := dbl(qx, qy, 1, 1)
            put(proj, 8, x, y, zz, zzz)
            x, y, zz, zzz := madd(x, y, zz, zzz, qx, qy)
            put(proj, 12, x, y, zz, zzz)
            // i·G + j·Q for i, j ∈ 1..3: (j·Q) + i·G, adding G (affine) step by step.
            for { let j := 4 } lt(j, 16) { j := add(j, 4) } {
                let e := add(proj, shl(7, j))
                x := mload(e)
                y := mload(add(e, 0x20))
                zz := mload(add(e, 0x40))
                zzz := mload(add(e, 0x60))
                for { let i := 1 } lt(i, 4) { i := add(i, 1) } {
                    x, y, zz, zzz := madd(x, y, zz, zzz, GX, GY)
                    put(proj, add(j, i), x, y, zz, zzz)
                }
            }
        }
    }

    /// @dev Converts entries 1..15 of `proj` to affine (x = X/ZZ, y = Y/ZZZ) into `tbl` with one
    ///      inversion: Montgomery's trick over the 30 values ZZ_k, ZZZ_k (skipping infinities).
    ///      Returns the bitmask of entries that are the point at infinity.
    function _normalise(uint256 proj, uint256 tbl) private view returns (uint256 infMask) {
        uint256 scratch = tbl + 0x400; // prefix products, one word per entry (ZZ·ZZZ folded)
        uint256 acc = 1;
        assembly ("memory-safe") {
            // Prefix products of d_k = ZZ_k · ZZZ_k over finite entries.
            for { let k := 1 } lt(k, 16) { k := add(k, 1) } {
                let e := add(proj, shl(7, k))
                let zz := mload(add(e, 0x40))
                switch zz
                case 0 { infMask := or(infMask, shl(k, 1)) }
                default {
                    acc := mulmod(acc, mulmod(zz, mload(add(e, 0x60)), P), P)
                }
                mstore(add(scratch, shl(5, k)), acc)
            }
        }
        uint256 inv = _modInverse(acc, P, P_MINUS_2);
        assembly ("memory-safe") {
            // Walk back: inv = (d_1 … d_k)⁻¹; 1/d_k = inv · prefix_{k−1}; then inv ← inv · d_k.
            for { let k := 15 } gt(k, 0) { k := sub(k, 1) } {
                let e := add(proj, shl(7, k))
                let zz := mload(add(e, 0x40))
                if zz {
                    let zzz := mload(add(e, 0x60))
                    let prev := 1
                    if gt(k, 1) { prev := mload(add(scratch, shl(5, sub(k, 1)))) }
                    let dInv := mulmod(inv, prev, P) // 1/(zz·zzz)
                    inv := mulmod(inv, mulmod(zz, zzz, P), P)
                    // 1/zz = zzz/(zz·zzz); 1/zzz = zz/(zz·zzz)
                    let t := add(tbl, shl(6, k))
                    mstore(t, mulmod(mload(e), mulmod(dInv, zzz, P), P))
                    mstore(add(t, 0x20), mulmod(mload(add(e, 0x20)), mulmod(dInv, zz, P), P))
                }
            }
        }
    }
}
