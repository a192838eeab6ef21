/* bench_routing.c - micro-benchmark of one routing decision (bench-routing).
 *
 * World: 100 providers x 10 connections (1,000 connections in the shared
 * state table), 1,000 models (10 per provider; every 4th model is also
 * served by a second provider, so 10 or 20 candidates), 100 groups of 5-10
 * members cycling through the 7 strategies. Some connections are unhealthy
 * (breaker open, cooling) and half carry rate limits, so every filter works.
 *
 * One decision = what the request path will do: read the clock, look the
 * requested name up in a hash map (this file's own), order the group's
 * members or run the strategy chain over the model's candidates, then
 * lx_attempt_begin on the first target that accepts (breaker, rate-limit
 * token, in-flight). The attempts of a batch are ended (success, ttfb)
 * after the batch's clock reading, as responses would arrive later.
 *
 * Timing: clock_gettime(CLOCK_MONOTONIC) around each batch of 100 decisions;
 * per-decision figures are batch time / 100, so the percentiles are those of
 * 100-decision means (they hide single-decision outliers; the max row shows
 * the worst batch). Usage: bench-routing [--json] [--quick] [decisions] [threads]
 * (--quick: 200,000 decisions unless given; --json: see micro.h). */
#include "ai/catalog.h"
#include "ai/routing/chain.h"
#include "ai/routing/select.h"
#include "core/clock.h"
#include "micro.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define NPROV     100
#define CONN_PER  10
#define NCONN     (NPROV * CONN_PER)
#define NMODELS   1000
#define NGROUPS   100
#define BATCH     100
#define RING      65536
#define MAX_CANDS 20
#define MAP_SLOTS 4096

typedef struct {
    int provider;
    char name[32];
    lx_candidate_t cands[MAX_CANDS];
    int ncands;
} model_t;

typedef struct {
    char name[32];
    lx_group_t g;
} group_t;

static char prov_names[NPROV][16];
static int64_t cred_ids[NCONN];
static lx_route_state_t *cred_st[NCONN];
static int conn_rpm[NCONN], conn_rpd[NCONN];
static model_t models[NMODELS];
static group_t groups[NGROUPS];
static lx_route_conf_t conf;

/* --- the name map: open addressing, FNV-1a, built once ------------------- */

typedef struct {
    const char *key;
    uint32_t len, hash;
    int32_t value; /* >= 0: model index; < 0: -(group index) - 1 */
} slot_t;

static slot_t map[MAP_SLOTS];

static uint32_t fnv1a(const char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 16777619u;
    return h;
}

static void map_put(const char *key, int32_t value)
{
    uint32_t len = (uint32_t)strlen(key), h = fnv1a(key, len);
    for (uint32_t i = h & (MAP_SLOTS - 1);; i = (i + 1) & (MAP_SLOTS - 1)) {
        if (!map[i].key) {
            map[i] = (slot_t){key, len, h, value};
            return;
        }
    }
}

static inline bool map_get(lx_str_t key, int32_t *value)
{
    uint32_t h = fnv1a(key.p, key.n);
    for (uint32_t i = h & (MAP_SLOTS - 1);; i = (i + 1) & (MAP_SLOTS - 1)) {
        const slot_t *s = &map[i];
        if (!s->key)
            return false;
        if (s->hash == h && s->len == key.n && memcmp(s->key, key.p, key.n) == 0) {
            *value = s->value;
            return true;
        }
    }
}

/* --- the world ------------------------------------------------------------ */

static void add_cands(model_t *m, int prov, lx_rng_t *rng)
{
    for (int c = 0; c < CONN_PER && m->ncands < MAX_CANDS; c++) {
        int ci = prov * CONN_PER + c;
        m->cands[m->ncands++] = (lx_candidate_t){
            .target = m,
            .cred_id = cred_ids[ci],
            .provider = lx_str(prov_names[prov]),
            .caps = LX_CAP_CHAT | LX_CAP_STREAM | LX_CAP_JSON |
                    (lx_rng_below(rng, 4) ? LX_CAP_TOOLS : 0u) |
                    (lx_rng_below(rng, 2) ? LX_CAP_VISION : 0u),
            .context_window = lx_rng_below(rng, 8) ? 128000 : 8192,
            .input_per_1m = 0.1 + lx_rng_below(rng, 1000) / 100.0,
            .output_per_1m = 0.4 + lx_rng_below(rng, 4000) / 100.0,
            .priority = (int32_t)lx_rng_below(rng, 3),
            .weight = 1 + (int32_t)lx_rng_below(rng, 5),
            .rpm = conn_rpm[ci],
            .rpd = conn_rpd[ci],
            .cred = cred_st[ci],
            .dep = lx_deploy_state_get(cred_ids[ci], lx_str(m->name)),
        };
    }
}

static void build_world(void)
{
    lx_rng_t rng;
    lx_rng_seed(&rng, 42);
    lx_route_conf_default(&conf);
    int64_t now = lx_wall_ms();
    for (int p = 0; p < NPROV; p++)
        snprintf(prov_names[p], sizeof prov_names[p], "prov%d", p);
    for (int i = 0; i < NCONN; i++) {
        cred_ids[i] = 1000 + i * 7; /* database-like ids, not dense */
        cred_st[i] = lx_cred_state_get(cred_ids[i]);
        if (i % 2) { /* half carry limits that a benchmark run cannot reach */
            conn_rpm[i] = 100000000;
            conn_rpd[i] = 1000000000;
        }
        lx_state_ttfb_update(cred_st[i], 50000 + lx_rng_below(&rng, 400000));
        if (i % 50 == 3) { /* 2% with an open breaker */
            for (int k = 0; k < 5; k++) {
                uint32_t gen;
                lx_breaker_allow(cred_st[i], &conf.breaker, now, &gen);
                lx_breaker_record(cred_st[i], &conf.breaker, false, gen, now);
            }
        }
        if (i % 20 == 7) /* 5% cooling for a long time */
            lx_cooling_set(cred_st[i], now, NULL, 3600000, 3600000);
    }
    for (int m = 0; m < NMODELS; m++) {
        model_t *md = &models[m];
        md->provider = m % NPROV;
        snprintf(md->name, sizeof md->name, "model-%d", m);
        add_cands(md, md->provider, &rng);
        if (m % 4 == 0)
            add_cands(md, (md->provider + 37) % NPROV, &rng);
        map_put(md->name, m);
    }
    for (int g = 0; g < NGROUPS; g++) {
        group_t *gr = &groups[g];
        snprintf(gr->name, sizeof gr->name, "group-%d", g);
        int n = 5 + (int)lx_rng_below(&rng, 6);
        lx_member_t mem[10];
        for (int k = 0; k < n; k++) {
            int m = (int)lx_rng_below(&rng, NMODELS);
            int ci = models[m].provider * CONN_PER + (int)lx_rng_below(&rng, CONN_PER);
            mem[k] = (lx_member_t){
                .target = &models[m],
                .cred_id = cred_ids[ci],
                .weight = 1 + (int32_t)lx_rng_below(&rng, 10),
                .priority = (int32_t)lx_rng_below(&rng, 3),
                .cost = 0.5 + lx_rng_below(&rng, 5000) / 100.0,
                .rpm = conn_rpm[ci],
                .rpd = conn_rpd[ci],
                .cred = cred_st[ci],
                .dep = lx_deploy_state_get(cred_ids[ci], lx_str(models[m].name)),
                .stats = lx_member_state_get(g + 1, k),
            };
        }
        if (lx_group_init(&gr->g, (lx_strategy_t)(g % LX_STRAT__COUNT), mem, n) != LX_OK)
            abort();
        map_put(gr->name, -(g + 1));
    }
}

/* --- one decision ---------------------------------------------------------- */

typedef struct {
    lx_str_t name;
    lx_route_request_t rq;
} req_t;

typedef struct {
    lx_attempt_t a;
    bool used;
} slot_attempt_t;

/* Returns the chosen target (or NULL when nothing is eligible). */
static inline const void *decide(const req_t *r, lx_rng_t *rng, lx_attempt_t *a)
{
    int64_t now = lx_wall_ms();
    int32_t v;
    if (!map_get(r->name, &v))
        return NULL;
    uint16_t order[LX_GROUP_MAX_MEMBERS];
    lx_route_excl_t excl = {{0}};
    if (v < 0) {
        lx_group_t *g = &groups[-v - 1].g;
        int k = lx_group_order(g, &conf, now, rng, order, LX_GROUP_MAX_MEMBERS, &excl);
        for (int i = 0; i < k; i++) {
            const lx_member_t *m = &g->members[order[i]];
            if (lx_attempt_begin(a, m->cred, m->dep, m->stats, m->rpm, m->rpd, &conf, now) ==
                LX_WHY_OK)
                return m->target;
        }
        return NULL;
    }
    const model_t *md = &models[v];
    int k = lx_chain_order(md->cands, md->ncands, &r->rq, &conf, now, rng, order,
                           LX_CHAIN_MAX_CANDIDATES, &excl);
    for (int i = 0; i < k; i++) {
        const lx_candidate_t *c = &md->cands[order[i]];
        if (lx_attempt_begin(a, c->cred, c->dep, NULL, c->rpm, c->rpd, &conf, now) == LX_WHY_OK)
            return c->target;
    }
    return NULL;
}

/* --- runs -------------------------------------------------------------------- */

typedef enum { MIX_ALL, MIX_MODELS, MIX_GROUPS } mix_t;

typedef struct {
    mix_t mix;
    long decisions;
    uint64_t seed;
    double *samples; /* ns per decision, one per batch */
    long nsamples;
    double total_ns;
    long chosen, none;
} run_t;

static void make_ring(req_t *ring, mix_t mix, uint64_t seed)
{
    lx_rng_t rng;
    lx_rng_seed(&rng, seed);
    for (int i = 0; i < RING; i++) {
        const char *name;
        bool group = mix == MIX_GROUPS || (mix == MIX_ALL && lx_rng_below(&rng, 11) == 0);
        if (group)
            name = groups[lx_rng_below(&rng, NGROUPS)].name;
        else
            name = models[lx_rng_below(&rng, NMODELS)].name;
        unsigned caps = LX_CAP_CHAT | LX_CAP_STREAM;
        if (lx_rng_below(&rng, 4) == 0)
            caps |= LX_CAP_TOOLS;
        ring[i] = (req_t){
            .name = lx_str(name),
            .rq = {.need_caps = caps,
                   .prompt_tokens = 200 + lx_rng_below(&rng, 4000),
                   .max_tokens = lx_rng_below(&rng, 2) ? 1024 : 0,
                   .optimize_cost = lx_rng_below(&rng, 10) == 0},
        };
    }
}

static double ts_ns(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) * 1e9 + (double)(b->tv_nsec - a->tv_nsec);
}

static void *run_thread(void *arg)
{
    run_t *r = arg;
    req_t *ring = malloc(sizeof(req_t) * RING);
    if (!ring)
        abort();
    make_ring(ring, r->mix, r->seed);
    lx_rng_t rng;
    lx_rng_seed(&rng, r->seed ^ 0xabcdef);
    lx_verdict_t ok = {LX_FAIL_SUCCESS, LX_BRK_SUCCESS, LX_E_NONE, LX_SCOPE_DEPLOYMENT};
    slot_attempt_t att[BATCH];
    long batches = r->decisions / BATCH;
    r->samples = malloc(sizeof(double) * (size_t)batches);
    if (!r->samples)
        abort();
    unsigned pos = 0;
    /* warm-up: one pass over the ring */
    for (int i = 0; i < RING; i++) {
        lx_attempt_t a;
        if (decide(&ring[i], &rng, &a))
            lx_attempt_end(&a, &conf, &ok, 100000, NULL, lx_wall_ms());
    }
    for (long b = 0; b < batches; b++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int i = 0; i < BATCH; i++) {
            att[i].used = decide(&ring[pos++ & (RING - 1)], &rng, &att[i].a) != NULL;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ns = ts_ns(&t0, &t1);
        r->samples[r->nsamples++] = ns / BATCH;
        r->total_ns += ns;
        int64_t now = lx_wall_ms();
        for (int i = 0; i < BATCH; i++) {
            if (att[i].used) {
                r->chosen++;
                lx_attempt_end(&att[i].a, &conf, &ok, 80000 + (i * 997) % 300000, NULL, now);
            } else {
                r->none++;
            }
        }
    }
    free(ring);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *s, long n, double p)
{
    long i = (long)(p / 100.0 * (double)(n - 1) + 0.5);
    return s[i < 0 ? 0 : i >= n ? n - 1 : i];
}

static bool report(const char *label, run_t *runs, int nthreads)
{
    long n = 0, chosen = 0, none = 0;
    double total = 0;
    for (int t = 0; t < nthreads; t++)
        n += runs[t].nsamples;
    double *all = malloc(sizeof(double) * (size_t)n);
    if (!all)
        abort();
    long k = 0;
    for (int t = 0; t < nthreads; t++) {
        memcpy(all + k, runs[t].samples, sizeof(double) * (size_t)runs[t].nsamples);
        k += runs[t].nsamples;
        total += runs[t].total_ns;
        chosen += runs[t].chosen;
        none += runs[t].none;
        free(runs[t].samples);
    }
    qsort(all, (size_t)n, sizeof *all, cmp_double);
    double med = pct(all, n, 50), p90 = pct(all, n, 90), p99 = pct(all, n, 99);
    double mean = total / (double)(n * BATCH);
    printf("| %-22s | %9.0f | %7.0f | %7.0f | %8.0f | %7.0f | %9.2f%% |\n", label, med, p90, p99,
           all[n - 1], mean, 100.0 * (double)none / (double)(chosen + none));
    micro_row(label, "ns/decision", med, pct(all, n, 10), p90, p99, "mean ns", mean);
    free(all);
    return med <= 2000 && p99 <= 10000;
}

static bool run(const char *label, mix_t mix, long decisions, int nthreads)
{
    run_t runs[16];
    pthread_t th[16];
    for (int t = 0; t < nthreads; t++) {
        runs[t] = (run_t){.mix = mix, .decisions = decisions / nthreads, .seed = 1234 + 77 * t};
        if (nthreads == 1)
            run_thread(&runs[t]);
        else
            pthread_create(&th[t], NULL, run_thread, &runs[t]);
    }
    if (nthreads > 1)
        for (int t = 0; t < nthreads; t++)
            pthread_join(th[t], NULL);
    return report(label, runs, nthreads);
}

int main(int argc, char **argv)
{
    micro_opts_t o;
    argc = micro_args(argc, argv, &o, "bench-routing [--json] [--quick] [decisions] [threads]");
    long decisions = argc > 1 ? atol(argv[1]) : o.quick ? 200000 : 1000000;
    int threads = argc > 2 ? atoi(argv[2]) : 2;
    if (decisions < BATCH)
        decisions = BATCH;
    if (threads < 1 || threads > 16)
        threads = 2;
    if (lx_route_state_init(0) != LX_OK) {
        fprintf(stderr, "bench-routing: cannot allocate the state table\n");
        return 1;
    }
    build_world();
    printf("bench-routing: %d models (10-20 candidates each), %d groups (5-10 members, 7 "
           "strategies), %d providers x %d connections\n",
           NMODELS, NGROUPS, NPROV, CONN_PER);
    printf("%ld decisions per row, timed per batch of %d with clock_gettime(CLOCK_MONOTONIC); "
           "ns per decision\n\n",
           decisions, BATCH);
    printf("| %-22s | %9s | %7s | %7s | %8s | %7s | %10s |\n", "scenario", "median", "p90", "p99",
           "max", "mean", "no target");
    printf("|%s|%s|%s|%s|%s|%s|%s|\n", "------------------------", "-----------", "---------",
           "---------", "----------", "---------", "------------");
    bool pass = true;
    pass &= run("mixed (1 thread)", MIX_ALL, decisions, 1);
    pass &= run("models: chain", MIX_MODELS, decisions, 1);
    pass &= run("groups: 7 strategies", MIX_GROUPS, decisions, 1);
    char label[32];
    snprintf(label, sizeof label, "mixed (%d threads)", threads);
    pass &= run(label, MIX_ALL, decisions, threads);
    printf("\ntarget: median <= 2000 ns, p99 <= 10000 ns: %s\n", pass ? "met" : "NOT met");
    for (int g = 0; g < NGROUPS; g++)
        lx_group_free(&groups[g].g);
    lx_route_state_shutdown();
    micro_json(&o, "bench-routing");
    return 0;
}
