/* audit_test.c — audit events (canonical bytes, keys, validation, flush-side check) and Merkle
 * batches (hand-computed trees, proofs for every leaf of sizes 1..33, tamper cases, 1M leaves). */
#include "test.h"

#include "ak/audit.h"
#include "ak/json.h"

static void s_hex32(const char *hex, uint8_t out[32]) {
    if (ak_hex_decode_exact(ak_cur_from_str(hex), true, out, 32) != AK_OK) fail_msg("bad hex in test");
}

static ak_omni s_op(void) {
    ak_omni o;
    memset(o.b, 0xab, 32);
    return o;
}

/* A fully populated fetch event (every member set). */
static void s_full_event(ak_audit_event *ev) {
    ak_omni op = s_op();
    EXPECT_OK(ak_audit_event_init(ev, AK_AUDIT_FETCH, &op, 1760000000123456ull));
    memcpy(ev->event_id + 17, "0123456789abcdef", 16); /* fixed for the expected text */
    ev->has_actor = true;
    memset(ev->actor_omni.b, 0xcd, 32);
    ev->has_wallet = true;
    memset(ev->wallet, 0x01, 20);
    ev->has_device = true;
    memset(ev->device_key_hash, 0x02, 32);
    ev->session_kind = AK_SESSION_AGENT;
    ev->has_op_class = true;
    ev->op = AK_OP_FETCH;
    ev->data_class = AK_CLASS_CREDENTIALS;
    ev->service = AK_CUR_LIT("openrouter");
    ev->request_id = AK_CUR_LIT("c0ffee-1");
    ev->cap_jti = AK_CUR_LIT("00112233445566778899aabbccddeeff");
    ev->has_token_hash = true;
    ak_audit_token_hash(AK_CUR_LIT("abc"), ev->token_sha256);
    EXPECT_OK(ak_audit_event_add_extra(ev, "session_name", AK_CUR_LIT("agentkeys-0x01-1760000000-123456")));
    EXPECT_OK(ak_audit_event_add_extra(ev, "requested_role", AK_CUR_LIT("data-role-via-jwt")));
}

AK_TEST(test_event_canonical_bytes) {
    ak_audit_event ev;
    s_full_event(&ev);
    ak_buf out;
    ak_buf_init(&out, AK_MAX_AUDIT_EVENT);
    EXPECT_OK(ak_audit_event_encode(&ev, &out));
    /* Keys sorted bytewise at every level, compact; sha256("abc") = ba7816bf…15ad. */
    EXPECT_STR_EQ(
        ak_buf_cstr(&out),
        "{\"action\":\"fetch\","
        "\"actor_omni\":\"0xcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd\","
        "\"cap_jti\":\"00112233445566778899aabbccddeeff\","
        "\"data_class\":\"credentials\","
        "\"device_key_hash\":\"0x0202020202020202020202020202020202020202020202020202020202020202\","
        "\"event_id\":\"1760000000123456-0123456789abcdef\","
        "\"extra\":{\"requested_role\":\"data-role-via-jwt\",\"session_name\":\"agentkeys-0x01-1760000000-"
        "123456\"},"
        "\"op\":\"fetch\","
        "\"operator_omni\":\"0xabababababababababababababababababababababababababababababababab\","
        "\"outcome\":\"ok\","
        "\"request_id\":\"c0ffee-1\","
        "\"service\":\"openrouter\","
        "\"session_kind\":\"agent\","
        "\"token_sha256\":\"0xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\","
        "\"ts_us\":1760000000123456,"
        "\"v\":1,"
        "\"wallet\":\"0x0101010101010101010101010101010101010101\"}");
    ak_omni op = s_op();
    EXPECT_OK(ak_audit_event_check(ak_buf_cur(&out), &op));
    ak_buf_free(&out);
}

AK_TEST(test_minimal_event_and_failure_reason) {
    ak_omni op = s_op();
    ak_audit_event ev;
    EXPECT_OK(ak_audit_event_init(&ev, AK_AUDIT_MINT_AWS_CREDS, &op, 5));
    ev.outcome = AK_CUR_LIT("sts_error");
    ev.reason = AK_E_STS_ERROR;
    ak_buf out;
    ak_buf_init(&out, AK_MAX_AUDIT_EVENT);
    EXPECT_OK(ak_audit_event_encode(&ev, &out));
    char want[512];
    snprintf(want, sizeof(want),
             "{\"action\":\"mint_aws_creds\",\"event_id\":\"%s\",\"operator_omni\":\"0x%s\",\"outcome\":"
             "\"sts_error\","
             "\"reason\":\"sts_error\",\"ts_us\":5,\"v\":1}",
             ev.event_id, "abababababababababababababababababababababababababababababababab");
    EXPECT_STR_EQ(ak_buf_cstr(&out), want);
    EXPECT_TRUE(ak_cur_starts_with(ak_cur_from_str(ev.event_id), AK_CUR_LIT("0000000000000005-")));
    ak_buf_free(&out);
}

AK_TEST(test_pending_key_and_ids_sort_by_time) {
    ak_omni op = s_op();
    ak_audit_event a, b, c;
    EXPECT_OK(ak_audit_event_init(&a, AK_AUDIT_LOGIN, &op, 999999));
    EXPECT_OK(ak_audit_event_init(&b, AK_AUDIT_LOGIN, &op, 1000000));
    EXPECT_OK(ak_audit_event_init(&c, AK_AUDIT_LOGIN, &op, 1000000));
    EXPECT_TRUE(strcmp(a.event_id, b.event_id) < 0);
    EXPECT_TRUE(strcmp(b.event_id, c.event_id) != 0); /* random half differs */
    EXPECT_INT_EQ(strlen(a.event_id), AK_AUDIT_EVENT_ID_LEN);
    ak_buf k;
    ak_buf_init(&k, 256);
    EXPECT_OK(ak_audit_pending_key(&a, &k));
    char want[256];
    snprintf(want, sizeof(want), "audit/pending/%s/%s.json",
             "abababababababababababababababababababababababababababababababab", a.event_id);
    EXPECT_STR_EQ(ak_buf_cstr(&k), want);
    ak_buf_clear(&k);
    EXPECT_OK(ak_audit_pending_prefix(&op, &k));
    EXPECT_STR_EQ(ak_buf_cstr(&k),
                  "audit/pending/abababababababababababababababababababababababababababababababab/");
    ak_buf_free(&k);
    ak_audit_event d;
    EXPECT_ERR(AK_E_INTERNAL, ak_audit_event_init(&d, AK_AUDIT_LOGIN, &op, 10000000000000000ull));
}

AK_TEST(test_event_validation_rejects) {
    ak_omni op = s_op();
    ak_buf out;
    ak_buf_init(&out, AK_MAX_AUDIT_EVENT);
    ak_audit_event ev;

    EXPECT_OK(ak_audit_event_init(&ev, AK_AUDIT_CAP_MINT, &op, 1));
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_audit_event_encode(&ev, &out)); /* cap_mint needs op + class */
    ev.has_op_class = true;
    ev.op = AK_OP_STORE;
    ev.data_class = AK_CLASS_MEMORY;
    EXPECT_OK(ak_audit_event_encode(&ev, &out));
    ak_buf_clear(&out);
    ev.service = AK_CUR_LIT("Notes");
    EXPECT_ERR(AK_E_INVALID_NAMESPACE, ak_audit_event_encode(&ev, &out));
    ev.data_class = AK_CLASS_CREDENTIALS;
    EXPECT_ERR(AK_E_INVALID_SERVICE, ak_audit_event_encode(&ev, &out));
    ev.service = AK_CUR_LIT("notes");
    ev.outcome = AK_CUR_LIT("Denied");
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_audit_event_encode(&ev, &out));
    ev.outcome = AK_CUR_LIT("");
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_audit_event_encode(&ev, &out));
    ev.outcome = AK_CUR_LIT("denied");
    ev.request_id = AK_CUR_LIT("line\nbreak");
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_audit_event_encode(&ev, &out));
    ev.request_id = AK_CUR_LIT("caf\xc3\xa9");
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_audit_event_encode(&ev, &out));
    ev.request_id = AK_CUR_LIT("");
    ev.reason = (ak_err)9999;
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_audit_event_encode(&ev, &out));
    ev.reason = AK_E_FORBIDDEN;
    EXPECT_OK(ak_audit_event_encode(&ev, &out));
    ak_buf_clear(&out);

    /* extras */
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_audit_event_add_extra(&ev, "Bad", AK_CUR_LIT("x")));
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_audit_event_add_extra(&ev, "", AK_CUR_LIT("x")));
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_audit_event_add_extra(&ev, "k", AK_CUR_LIT("tab\t")));
    EXPECT_OK(ak_audit_event_add_extra(&ev, "k", AK_CUR_LIT("")));
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_audit_event_add_extra(&ev, "k", AK_CUR_LIT("again")));
    char key[8];
    for (size_t i = 1; i < AK_AUDIT_MAX_EXTRA; i++) {
        snprintf(key, sizeof(key), "k%zu", i);
        EXPECT_OK(ak_audit_event_add_extra(&ev, key, AK_CUR_LIT("v\"quoted\\")));
    }
    EXPECT_ERR(AK_E_LIMIT, ak_audit_event_add_extra(&ev, "one_more", AK_CUR_LIT("v")));
    uint8_t big[AK_AUDIT_MAX_EXTRA_VALUE + 1];
    memset(big, 'x', sizeof(big));
    ev.n_extra = 1;
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_audit_event_add_extra(&ev, "big", ak_cur_from(big, sizeof(big))));
    ev.n_extra = AK_AUDIT_MAX_EXTRA;
    EXPECT_OK(ak_audit_event_encode(&ev, &out)); /* escapes are canonical too */
    EXPECT_OK(ak_audit_event_check(ak_buf_cur(&out), &op));
    ak_buf_clear(&out);

    /* an output ceiling too small is an error and leaves the buffer alone */
    ak_buf tiny;
    ak_buf_init(&tiny, 16);
    EXPECT_ERR(AK_E_LIMIT, ak_audit_event_encode(&ev, &tiny));
    EXPECT_INT_EQ(tiny.len, 0);
    ak_buf_free(&tiny);
    ak_buf_free(&out);
}

AK_TEST(test_event_encode_oom_sweep) {
    ak_audit_event ev;
    s_full_event(&ev);
    ak_buf out;
    ak_buf_init(&out, AK_MAX_AUDIT_EVENT);
    int failures = 0;
    for (uint64_t n = 1; n < 200; n++) {
        ak_alloc_fail_nth(n);
        ak_err rc = ak_audit_event_encode(&ev, &out);
        ak_alloc_fail_nth(0);
        if (rc == AK_OK) break;
        EXPECT_ERR(AK_E_NOMEM, rc);
        EXPECT_INT_EQ(out.len, 0);
        failures++;
    }
    EXPECT_TRUE(failures >= 1); /* the buffer's growth steps */
    ak_omni op = s_op();
    EXPECT_OK(ak_audit_event_check(ak_buf_cur(&out), &op));
    ak_buf_free(&out);
}

AK_TEST(test_event_check_rejects_non_canonical) {
    ak_audit_event ev;
    s_full_event(&ev);
    ak_buf good;
    ak_buf_init(&good, AK_MAX_AUDIT_EVENT);
    EXPECT_OK(ak_audit_event_encode(&ev, &good));
    ak_omni op = s_op(), other = s_op();
    other.b[0] ^= 1;
    EXPECT_OK(ak_audit_event_check(ak_buf_cur(&good), &op));
    EXPECT_ERR(AK_E_INVALID_EVENT, ak_audit_event_check(ak_buf_cur(&good), &other));
    EXPECT_ERR(AK_E_INVALID_EVENT, ak_audit_event_check(ak_cur_from(good.ptr, good.len - 1), &op));
    const char *bad[] = {
        "",
        "[]",
        "not json",
        "{\"v\":1}", /* no operator */
        "{\"operator_omni\":\"0xabababababababababababababababababababababababababababababababab\",\"v\":2}",
        "{\"v\":1,\"operator_omni\":\"0xabababababababababababababababababababababababababababababababab\"}",
        "{\"operator_omni\": \"0xabababababababababababababababababababababababababababababababab\",\"v\":1}",
        "{\"operator_omni\":\"0xabababababababababababababababababababababababababababababababab\",\"v\":1."
        "0}",
        "{\"operator_omni\":\"0xABababababababababababababababababababababababababababababababab\",\"v\":1}",
        "{\"operator_omni\":\"0xabababababababababababababababababababababababababababababababab\",\"v\":1,"
        "\"v\":1}",
        "{\"operator_omni\":\"0x\\u0061bababababababababababababababababababababababababababababababab\","
        "\"v\":1}",
        "{\"operator_omni\":\"0xabababababababababababababababababababababababababababababababab\",\"v\":1}"
        "\n",
        "{\"operator_omni\":\"0xabababababababababababababababababababababababababababababababab\",\"v\":1,"
        "\"x\":\"\xc3\xa9\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (ak_audit_event_check(ak_cur_from_str(bad[i]), &op) != AK_E_INVALID_EVENT)
            fail_msg("accepted bad[%zu]", i);
    EXPECT_OK(ak_audit_event_check(
        AK_CUR_LIT("{\"operator_omni\":"
                   "\"0xabababababababababababababababababababababababababababababababab\",\"v\":1}"),
        &op));
    ak_buf_free(&good);
}

/* ---- Merkle ---- */

AK_TEST(test_merkle_tiny_trees_by_hand) {
    /* Computed with foundry's cast (independent keccak):
     *   l0 = cast keccak 0x0061 ; l1 = cast keccak 0x0062 ; l2 = cast keccak 0x0063
     *   n01 = cast keccak 0x01 ‖ min(l0,l1) ‖ max(l0,l1) ; n22 = cast keccak 0x01 ‖ l2 ‖ l2
     *   root = cast keccak 0x01 ‖ min(n01,n22) ‖ max(n01,n22) */
    uint8_t l0[32], l1[32], l2[32], n01[32], n22[32], root3[32], h[32];
    s_hex32("0x9722201502e620d70d78ee63045f3493812c206b988cbbe76c28918a7364fdbd", l0);
    s_hex32("0xe99905ac9f9583a5737a07d20a7129343f486f5f549b42c05192046188ef5f66", l1);
    s_hex32("0x4c89fefa814dbe46b640ca2ffb4682a1eaad32985c6604e98cc0a2fd76e49550", l2);
    s_hex32("0x00d25e3ecfd5a8430c58b5562d4a00f53ce3e76001e3683df8496c541fecb9da", n01);
    s_hex32("0x3f4cb1f8ec7868721acc2e1365a6c216533295e61c5b310538ec733ab381aade", n22);
    s_hex32("0xb22c0efd0d3e042bd140fbbad6f313b2cedbcc1b3b30abab7b96cddefb4b806d", root3);
    ak_merkle_leaf_hash(AK_CUR_LIT("a"), h);
    EXPECT_BYTES_EQ(h, 32, l0, 32);
    ak_merkle_node_hash(l1, l0, h); /* order of arguments does not matter */
    EXPECT_BYTES_EQ(h, 32, n01, 32);

    ak_merkle t;
    uint8_t proof[4][32];
    /* N = 1: the root is the leaf node, the proof is empty. */
    EXPECT_OK(ak_merkle_init(&t, 1));
    ak_merkle_set_leaf(&t, 0, AK_CUR_LIT("a"));
    ak_merkle_build(&t);
    EXPECT_BYTES_EQ(ak_merkle_root(&t), 32, l0, 32);
    EXPECT_INT_EQ(ak_merkle_proof_len(&t), 0);
    EXPECT_OK(ak_merkle_proof(&t, 0, NULL, 0));
    EXPECT_TRUE(ak_merkle_verify(l0, NULL, 0, AK_CUR_LIT("a")));
    EXPECT_FALSE(ak_merkle_verify(l0, NULL, 0, AK_CUR_LIT("b")));
    ak_merkle_free(&t);

    /* N = 2 */
    EXPECT_OK(ak_merkle_init(&t, 2));
    ak_merkle_set_leaf(&t, 0, AK_CUR_LIT("a"));
    ak_merkle_set_leaf(&t, 1, AK_CUR_LIT("b"));
    ak_merkle_build(&t);
    EXPECT_BYTES_EQ(ak_merkle_root(&t), 32, n01, 32);
    EXPECT_OK(ak_merkle_proof(&t, 1, proof, 4));
    EXPECT_BYTES_EQ(proof[0], 32, l0, 32);
    ak_merkle_free(&t);

    /* N = 3: the odd level pairs c's node with itself. */
    EXPECT_OK(ak_merkle_init(&t, 3));
    ak_merkle_set_leaf(&t, 0, AK_CUR_LIT("a"));
    ak_merkle_set_leaf(&t, 1, AK_CUR_LIT("b"));
    ak_merkle_set_leaf_hash(&t, 2, l2);
    ak_merkle_build(&t);
    EXPECT_BYTES_EQ(ak_merkle_root(&t), 32, root3, 32);
    EXPECT_INT_EQ(ak_merkle_proof_len(&t), 2);
    EXPECT_OK(ak_merkle_proof(&t, 2, proof, 4));
    EXPECT_BYTES_EQ(proof[0], 32, l2, 32);
    EXPECT_BYTES_EQ(proof[1], 32, n01, 32);
    EXPECT_TRUE(ak_merkle_verify(root3, (const uint8_t(*)[32])proof, 2, AK_CUR_LIT("c")));
    EXPECT_OK(ak_merkle_proof(&t, 0, proof, 4));
    EXPECT_BYTES_EQ(proof[0], 32, l1, 32);
    EXPECT_BYTES_EQ(proof[1], 32, n22, 32);
    EXPECT_ERR(AK_E_LIMIT, ak_merkle_proof(&t, 0, proof, 1));
    /* The inner node n01 presented as leaf data, with the rest of a's proof: the 0x00/0x01
     * domain separation makes it hash to something else. */
    EXPECT_FALSE(ak_merkle_verify(root3, (const uint8_t(*)[32])(proof + 1), 1, ak_cur_from(n01, 32)));
    ak_merkle_free(&t);
}

AK_TEST(test_merkle_every_leaf_sizes_1_to_33) {
    for (size_t n = 1; n <= 33; n++) {
        ak_merkle t;
        EXPECT_OK(ak_merkle_init(&t, n));
        char data[33][48];
        for (size_t i = 0; i < n; i++) {
            snprintf(data[i], sizeof(data[i]), "{\"event\":%zu,\"n\":%zu}", i, n);
            ak_merkle_set_leaf(&t, i, ak_cur_from_str(data[i]));
        }
        ak_merkle_build(&t);
        const uint8_t *root = ak_merkle_root(&t);
        size_t plen = ak_merkle_proof_len(&t);
        size_t depth = 0;
        while (((size_t)1 << depth) < n)
            depth++;
        EXPECT_INT_EQ(plen, depth);
        for (size_t i = 0; i < n; i++) {
            uint8_t proof[8][32];
            EXPECT_OK(ak_merkle_proof(&t, i, proof, 8));
            const uint8_t(*p)[32] = (const uint8_t(*)[32])proof;
            EXPECT_TRUE(ak_merkle_verify(root, p, plen, ak_cur_from_str(data[i])));
            /* modified leaf data */
            char mod[48];
            memcpy(mod, data[i], sizeof(mod));
            mod[2] ^= 1;
            EXPECT_FALSE(ak_merkle_verify(root, p, plen, ak_cur_from_str(mod)));
            /* another leaf's data with this proof (unless the trees are symmetric there) */
            if (n > 1) {
                size_t j = (i + 1) % n;
                uint8_t pj[8][32];
                EXPECT_OK(ak_merkle_proof(&t, j, pj, 8));
                if (memcmp(pj, proof, plen * 32) != 0)
                    EXPECT_FALSE(ak_merkle_verify(root, p, plen, ak_cur_from_str(data[j])));
            }
            /* wrong root */
            uint8_t bad_root[32];
            memcpy(bad_root, root, 32);
            bad_root[31] ^= 0x80;
            EXPECT_FALSE(ak_merkle_verify(bad_root, p, plen, ak_cur_from_str(data[i])));
            if (plen >= 1) {
                /* a flipped sibling, a dropped level, an extra level */
                proof[0][5] ^= 4;
                EXPECT_FALSE(ak_merkle_verify(root, p, plen, ak_cur_from_str(data[i])));
                proof[0][5] ^= 4;
                EXPECT_FALSE(ak_merkle_verify(root, p, plen - 1, ak_cur_from_str(data[i])));
                EXPECT_FALSE(ak_merkle_verify(root, p, 0, ak_cur_from_str(data[i])));
                memcpy(proof[plen], proof[plen - 1], 32);
                EXPECT_FALSE(ak_merkle_verify(root, p, plen + 1, ak_cur_from_str(data[i])));
            }
            if (plen >= 2 && memcmp(proof[0], proof[1], 32) != 0) {
                /* swapped siblings */
                uint8_t tmp[32];
                memcpy(tmp, proof[0], 32);
                memcpy(proof[0], proof[1], 32);
                memcpy(proof[1], tmp, 32);
                EXPECT_FALSE(ak_merkle_verify(root, p, plen, ak_cur_from_str(data[i])));
            }
            if (plen >= 2) {
                /* the level-1 node above this leaf, passed as leaf data with the rest of the proof */
                const uint8_t *inner = t.nodes[t.level_off[1] + i / 2];
                EXPECT_FALSE(ak_merkle_verify(root, p + 1, plen - 1, ak_cur_from(inner, 32)));
            }
        }
        ak_merkle_free(&t);
    }
}

AK_TEST(test_merkle_limits) {
    ak_merkle t;
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_merkle_init(&t, 0));
    ak_merkle_free(&t);
    EXPECT_ERR(AK_E_INVALID_INPUT, ak_merkle_init(&t, (size_t)AK_MAX_AUDIT_BATCH + 1));
    ak_merkle_free(&t);
    ak_alloc_fail_nth(1);
    EXPECT_ERR(AK_E_NOMEM, ak_merkle_init(&t, 10));
    ak_merkle_free(&t);
    EXPECT_OK(ak_merkle_init(&t, AK_MAX_AUDIT_BATCH)); /* the level table fits the largest batch */
    EXPECT_INT_EQ(t.n_levels, 23);
    EXPECT_INT_EQ(ak_merkle_proof_len(&t), 22);
    ak_merkle_free(&t);
}

AK_TEST(test_merkle_one_million_leaves) {
    size_t n = 1000003; /* odd at several levels */
    ak_merkle t;
    EXPECT_OK(ak_merkle_init(&t, n));
    uint8_t h[32] = {0};
    for (size_t i = 0; i < n; i++) {
        memcpy(h, &i, sizeof(i));
        ak_merkle_set_leaf_hash(&t, i, h);
    }
    ak_merkle_build(&t);
    EXPECT_INT_EQ(ak_merkle_proof_len(&t), 20);
    static const size_t probe[] = {0, 1, 2, 524287, 524288, 999999, 1000000, 1000001, 1000002};
    for (size_t k = 0; k < sizeof(probe) / sizeof(probe[0]); k++) {
        uint8_t proof[AK_MERKLE_MAX_DEPTH][32];
        EXPECT_OK(ak_merkle_proof(&t, probe[k], proof, AK_MERKLE_MAX_DEPTH));
        /* Fold by hand from the stored leaf node (verify() starts from leaf data). */
        uint8_t c[32];
        memcpy(c, t.nodes[probe[k]], 32);
        for (size_t j = 0; j < 20; j++)
            ak_merkle_node_hash(c, proof[j], c);
        EXPECT_BYTES_EQ(c, 32, ak_merkle_root(&t), 32);
    }
    ak_merkle_free(&t);
}

AK_RUN_TESTS(AK_T(test_event_canonical_bytes), AK_T(test_minimal_event_and_failure_reason),
             AK_T(test_pending_key_and_ids_sort_by_time), AK_T(test_event_validation_rejects),
             AK_T(test_event_encode_oom_sweep), AK_T(test_event_check_rejects_non_canonical),
             AK_T(test_merkle_tiny_trees_by_hand), AK_T(test_merkle_every_leaf_sizes_1_to_33),
             AK_T(test_merkle_limits), AK_T(test_merkle_one_million_leaves))
