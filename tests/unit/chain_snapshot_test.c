/*
 * chain_snapshot_test.c — ak_chain_snapshot_read (ak/evm.h, issue 19 item 4) against the fake
 * chain of the broker tests (broker_fakes.h, which answers JSON-RPC batches and EIP-1898
 * block-hash pins): the values equal the per-read helpers', every view of a batch is pinned to
 * the same block hash, and the round trips per request are counted: the per-read path before,
 * the snapshot warm (1), cold (2), after a new block (2), after a reorg of the cached head (2).
 */
#include "test.h"

#include "ak/evm.h"
#include "broker_fakes.h"

/* Heap allocations a warm 5-view snapshot may make outside its transport: its buffers, the ABI
 * calls' arenas, the large JSON blocks (47 when written); with its JSON on the heap, 336. */
#define S_SNAPSHOT_HEAP_ALLOCS_MAX 120u

static ak_svc SVC;
static json_t *LAST;              /* the last request sent */
static bool WINDOW_IN_TRANSPORT;  /* a jansson arena window was open while the transport ran */
static uint64_t TRANSPORT_ALLOCS; /* heap allocations made inside the transport */

static ak_err s_recording(void *ctx, ak_cur request, int64_t deadline_ms, long *status, ak_buf *body) {
    uint64_t a0 = ak_alloc_calls();
    ak_arena *w = ak_alloc_jansson_arena(NULL, 0);
    if (w != NULL) WINDOW_IN_TRANSPORT = true;
    (void)ak_alloc_jansson_arena(w, 1u << 20);
    json_decref(LAST); /* LAST outlives the call: it must be a heap tree */
    LAST = json_loadb((const char *)request.ptr, request.len, 0, NULL);
    ak_err rc = bf_transport(ctx, request, deadline_ms, status, body);
    TRANSPORT_ALLOCS += ak_alloc_calls() - a0;
    return rc;
}

/* The reads of an agent's store for another actor: all five views. */
static void s_world(bf_wallet *agent, ak_omni *op, ak_chain_query *q) {
    bf_reset(&SVC);
    SVC.rpc.transport = s_recording;
    bf_wallet_make(agent, 7);
    memset(op->b, 0x11, 32);
    bf_add_device(agent->dkh, op, &agent->omni, AK_DEVICE_TIER_AGENT, AK_ROLE_CAP_MINT, false);
    bf_bind(&agent->omni, op);
    bf_grant(op, &agent->omni, AK_CLASS_CREDENTIALS, "openrouter");
    bf_set_read_only(op, &agent->omni, true);
    memset(q, 0, sizeof(*q));
    q->registry = SVC.registry;
    q->scope = SVC.scope;
    q->epoch_counter = SVC.epoch_counter;
    q->want_device = q->want_actor_operator = q->want_in_scope = q->want_scope = q->want_epoch = true;
    memcpy(q->dkh, agent->dkh, 32);
    memcpy(q->actor, agent->omni.b, 32);
    memcpy(q->op, op->b, 32);
    memcpy(q->agent, agent->omni.b, 32);
    EXPECT_OK(ak_scope_id_of(AK_CLASS_CREDENTIALS, AK_CUR_LIT("openrouter"), q->scope_id));
}

/* Every eth_call of the last batch is pinned to `hash` (EIP-1898), and there are `views` of them
 * after one eth_getBlockByNumber("latest"). */
static void s_expect_pinned(const uint8_t hash[32], size_t views) {
    EXPECT_TRUE(json_is_array(LAST));
    EXPECT_INT_EQ(json_array_size(LAST), views + 1);
    EXPECT_STR_EQ(json_string_value(json_object_get(json_array_get(LAST, 0), "method")),
                  "eth_getBlockByNumber");
    char want[67];
    snprintf(want, 3, "0x");
    for (int i = 0; i < 32; i++)
        snprintf(want + 2 + 2 * i, 3, "%02x", hash[i]);
    for (size_t i = 1; i <= views; i++) {
        const json_t *el = json_array_get(LAST, i);
        EXPECT_STR_EQ(json_string_value(json_object_get(el, "method")), "eth_call");
        const json_t *at = json_array_get(json_object_get(el, "params"), 1);
        EXPECT_STR_EQ(json_string_value(json_object_get(at, "blockHash")), want);
    }
}

AK_TEST(test_snapshot_values_and_round_trips) {
    bf_wallet agent;
    ak_omni op;
    ak_chain_query q;
    s_world(&agent, &op, &q);

    /* before: one eth_call per read, each at latest */
    ak_device_entry d;
    uint8_t bound[32];
    bool in = false;
    ak_scope_entry se;
    uint64_t epoch = 0;
    BF.chain_calls = 0;
    EXPECT_OK(ak_registry_get_device(&SVC.rpc, SVC.registry, agent.dkh, &d));
    EXPECT_OK(ak_registry_actor_operator(&SVC.rpc, SVC.registry, agent.omni.b, bound));
    EXPECT_OK(ak_scope_is_service_in_scope(&SVC.rpc, SVC.scope, op.b, agent.omni.b, q.scope_id, &in));
    EXPECT_OK(ak_scope_get(&SVC.rpc, SVC.scope, op.b, agent.omni.b, q.scope_id, &se));
    EXPECT_OK(ak_k3_current_epoch(&SVC.rpc, SVC.epoch_counter, &epoch));
    int before = BF.chain_calls;
    EXPECT_INT_EQ(before, 5);

    /* cold: the head first, then one pinned batch */
    ak_chain_snapshot s;
    BF.chain_calls = 0;
    EXPECT_OK(ak_chain_snapshot_read(&SVC.rpc, &q, &s));
    EXPECT_INT_EQ(s.round_trips, 2);
    EXPECT_INT_EQ(BF.chain_calls, 2);
    uint8_t h7[32];
    bf_block_hash(7, h7);
    EXPECT_BYTES_EQ(s.block_hash, 32, h7, 32);
    EXPECT_INT_EQ(s.block_number, 7);
    s_expect_pinned(h7, 5);
    /* the same values as the per-read helpers */
    EXPECT_OK(s.device_rc);
    EXPECT_TRUE(memcmp(&s.device, &d, sizeof(d)) == 0);
    EXPECT_OK(s.actor_operator_rc);
    EXPECT_BYTES_EQ(s.actor_operator, 32, bound, 32);
    EXPECT_BYTES_EQ(s.actor_operator, 32, op.b, 32);
    EXPECT_OK(s.in_scope_rc);
    EXPECT_TRUE(s.in_scope);
    EXPECT_OK(s.scope_rc);
    EXPECT_TRUE(s.scope.exists && s.scope.read_only && s.scope.has_service);
    EXPECT_TRUE(memcmp(&s.scope, &se, sizeof(se)) == 0);
    EXPECT_OK(s.epoch_rc);
    EXPECT_INT_EQ(s.epoch, 3);

    /* warm, no new block: ONE round trip */
    BF.chain_calls = 0;
    EXPECT_OK(ak_chain_snapshot_read(&SVC.rpc, &q, &s));
    EXPECT_INT_EQ(s.round_trips, 1);
    EXPECT_INT_EQ(BF.chain_calls, 1);
    s_expect_pinned(h7, 5);
    int after = BF.chain_calls;

    /* a new block since: the answer pinned at 7 is discarded, the batch re-pinned at 8 */
    BF.block = 8;
    BF.epoch = 4;
    BF.chain_calls = 0;
    EXPECT_OK(ak_chain_snapshot_read(&SVC.rpc, &q, &s));
    EXPECT_INT_EQ(s.round_trips, 2);
    EXPECT_INT_EQ(BF.chain_calls, 2);
    uint8_t h8[32];
    bf_block_hash(8, h8);
    EXPECT_BYTES_EQ(s.block_hash, 32, h8, 32);
    EXPECT_INT_EQ(s.block_number, 8);
    s_expect_pinned(h8, 5);
    EXPECT_INT_EQ(s.epoch, 4);
    /* and warm again */
    EXPECT_OK(ak_chain_snapshot_read(&SVC.rpc, &q, &s));
    EXPECT_INT_EQ(s.round_trips, 1);

    /* a head that moves on every round trip: still two, never more */
    BF.block_per_post = true;
    BF.chain_calls = 0;
    EXPECT_OK(ak_chain_snapshot_read(&SVC.rpc, &q, &s));
    EXPECT_INT_EQ(s.round_trips, 2);
    EXPECT_INT_EQ(BF.chain_calls, 2);
    uint8_t h9[32];
    bf_block_hash(9, h9); /* pinned at the head the first trip saw; taken although 10 is out */
    EXPECT_BYTES_EQ(s.block_hash, 32, h9, 32);
    BF.block_per_post = false;

    /* the cached head was reorged away (its hash unknown to the node): its calls fail, the head
     * differs, the batch is re-pinned */
    memset(SVC.rpc.head_hash, 0xee, 32);
    EXPECT_OK(ak_chain_snapshot_read(&SVC.rpc, &q, &s));
    EXPECT_INT_EQ(s.round_trips, 2);
    EXPECT_OK(s.device_rc);
    EXPECT_OK(s.epoch_rc);

    /* only what is asked: an own-data fetch reads the device and the epoch */
    ak_chain_query own = q;
    own.want_actor_operator = own.want_in_scope = own.want_scope = false;
    BF.chain_views = 0;
    EXPECT_OK(ak_chain_snapshot_read(&SVC.rpc, &own, &s));
    EXPECT_INT_EQ(BF.chain_views, 2);
    s_expect_pinned(SVC.rpc.head_hash, 2);
    EXPECT_ERR(AK_E_NOT_FOUND, s.scope_rc);
    EXPECT_ERR(AK_E_NOT_FOUND, s.in_scope_rc);

    /* the chain down: the snapshot fails as a whole */
    BF.chain_down = true;
    EXPECT_ERR(AK_E_CHAIN_RPC, ak_chain_snapshot_read(&SVC.rpc, &q, &s));
    BF.chain_down = false;

    /* the figure (printed, not asserted beyond the counts above) */
    printf("# chain round trips for the 5 views (a worker request used 2-4 of them, one trip each): per-read "
           "%d; "
           "snapshot warm %d, "
           "cold or new block 2\n",
           before, after);
    json_decref(LAST);
    LAST = NULL;
    bf_free(&SVC);
}

AK_TEST(test_snapshot_unregistered_device) {
    bf_wallet agent;
    ak_omni op;
    ak_chain_query q;
    s_world(&agent, &op, &q);
    q.dkh[0] ^= 1; /* a device nobody registered: an all-zero entry, not an error */
    ak_chain_snapshot s;
    EXPECT_OK(ak_chain_snapshot_read(&SVC.rpc, &q, &s));
    EXPECT_OK(s.device_rc);
    EXPECT_INT_EQ(s.device.registered_at, 0);
    json_decref(LAST);
    LAST = NULL;
    bf_free(&SVC);
}

/* The snapshot builds and parses its JSON in an arena of its own (ak_chain_snapshot_read): a
 * warm read makes few heap allocations of its own; the transport runs outside the window and
 * may keep what it builds (LAST); the caller's window is restored on success and on failure. */
AK_TEST(test_snapshot_json_in_its_own_arena) {
    bf_wallet agent;
    ak_omni op;
    ak_chain_query q;
    s_world(&agent, &op, &q);
    ak_chain_snapshot s;
    EXPECT_OK(ak_chain_snapshot_read(&SVC.rpc, &q, &s)); /* cold */
    WINDOW_IN_TRANSPORT = false;
    TRANSPORT_ALLOCS = 0;
    uint64_t a0 = ak_alloc_calls();
    EXPECT_OK(ak_chain_snapshot_read(&SVC.rpc, &q, &s)); /* warm: one batch of 6 calls */
    uint64_t own = ak_alloc_calls() - a0 - TRANSPORT_ALLOCS;
    EXPECT_INT_EQ(s.round_trips, 1);
    EXPECT_FALSE(WINDOW_IN_TRANSPORT);
    printf("# heap allocations of a warm 5-view snapshot, the transport's excluded: %llu\n",
           (unsigned long long)own);
    EXPECT_TRUE(own < S_SNAPSHOT_HEAP_ALLOCS_MAX);
    s_expect_pinned(SVC.rpc.head_hash, 5); /* LAST, made in the transport, is intact */
    EXPECT_TRUE(ak_alloc_jansson_arena(NULL, 0) == NULL);

    ak_arena outer;
    ak_arena_init(&outer, 1u << 20);
    EXPECT_TRUE(ak_alloc_jansson_arena(&outer, 1u << 20) == NULL);
    EXPECT_OK(ak_chain_snapshot_read(&SVC.rpc, &q, &s));
    BF.chain_down = true;
    EXPECT_ERR(AK_E_CHAIN_RPC, ak_chain_snapshot_read(&SVC.rpc, &q, &s));
    BF.chain_down = false;
    EXPECT_TRUE(ak_alloc_jansson_arena(NULL, 0) == &outer);
    EXPECT_FALSE(WINDOW_IN_TRANSPORT);
    ak_arena_free(&outer);
    json_decref(LAST);
    LAST = NULL;
    bf_free(&SVC);
}

AK_RUN_TESTS(AK_T(test_snapshot_values_and_round_trips), AK_T(test_snapshot_unregistered_device),
             AK_T(test_snapshot_json_in_its_own_arena))
