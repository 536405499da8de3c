// Intra-op parallelism: a small pool of helper threads that one runner (a worker running a plan) lends its kernels.
//
// The runner attaches its pool to its own thread (ds_pool_attach); kernels then ask ds_parallel_for to split their
// work. Nothing is global: two runners with two pools never share helpers, so the scheduler, which grants each run
// its cores, decides how many threads compute at once, not this file.
//
// A parallel region costs a wake-up. Helpers spin for a short while after each region before they sleep, because a
// network's regions come back to back (one per GEMM, tens of microseconds apart) and a futex wake-up costs about as
// much as a small GEMM's share of work.
#include "CKernels.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define ds_cpu_relax() _mm_pause()
#else
#define ds_cpu_relax() ((void)0)
#endif

// How many relax loops a helper spins for the next region before it sleeps (~50–100 µs).
#define SPIN_ROUNDS 20000

// A region's claim ticket packs its tag, its index count and the next unclaimed index into one word, so a helper
// claims an index with one compare-and-swap that fails if the region is no longer the one it read: a helper that was
// descheduled mid-claim can never run an index of a later region, and the runner never waits for a helper that has
// not claimed anything (it runs every unclaimed index itself).
#define TICKET_INDEX_BITS 20
#define TICKET_MAX_COUNT ((1L << TICKET_INDEX_BITS) - 1)
#define TICKET_INDEX_MASK ((uint64_t)TICKET_MAX_COUNT)

static inline uint64_t ticket_make(uint64_t tag, uint64_t count) {
    return (tag << (2 * TICKET_INDEX_BITS)) | (count << TICKET_INDEX_BITS);
}
static inline ptrdiff_t ticket_next(uint64_t t) { return (ptrdiff_t)(t & TICKET_INDEX_MASK); }
static inline ptrdiff_t ticket_count(uint64_t t) { return (ptrdiff_t)((t >> TICKET_INDEX_BITS) & TICKET_INDEX_MASK); }

struct ds_pool {
    int helpers;
    pthread_t *threads;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    // Bumped once per region (and once to stop): helpers wake on a change.
    _Atomic unsigned long generation;
    _Atomic int stopping;
    _Atomic int sleepers;
    // The region in progress. body and context are written before the ticket is published and read only after a
    // successful claim; the runner rewrites them only once `finished` reaches the count, which needs that claim done.
    void (*body)(void *context, ptrdiff_t index);
    void *context;
    // How many helpers may join the region (the runner's grant minus itself).
    _Atomic int joining;
    _Atomic uint64_t ticket;
    _Atomic ptrdiff_t finished;
    uint64_t tag;   // the runner's count of regions (only the runner touches it)
};

// Claims and runs indices of the region published in `ticket` until none is left or the region is gone.
static void run_indices(ds_pool *pool) {
    uint64_t t = atomic_load_explicit(&pool->ticket, memory_order_acquire);
    const uint64_t tag = t >> (2 * TICKET_INDEX_BITS);
    for (;;) {
        if (t >> (2 * TICKET_INDEX_BITS) != tag || ticket_next(t) >= ticket_count(t)) return;
        if (!atomic_compare_exchange_weak_explicit(&pool->ticket, &t, t + 1, memory_order_acq_rel, memory_order_acquire))
            continue;   // t now holds the current ticket: retry, or stop if the region changed
        pool->body(pool->context, ticket_next(t));
        atomic_fetch_add_explicit(&pool->finished, 1, memory_order_release);
        t = atomic_load_explicit(&pool->ticket, memory_order_acquire);
    }
}

typedef struct {
    ds_pool *pool;
    int number;   // 1 ... helpers
} helper_start;

// Which of a region's threads this is: 0 for the runner, 1 ... helpers for the pool's helpers.
static _Thread_local int thread_slot;

int ds_parallel_slot(void) { return thread_slot; }

static void *helper_main(void *argument) {
    helper_start start = *(helper_start *)argument;
    free(argument);
    thread_slot = start.number;
    ds_pool *pool = start.pool;
    unsigned long seen = 0;   // no region can start before ds_pool_create returns
    for (;;) {
        unsigned long now = atomic_load_explicit(&pool->generation, memory_order_acquire);
        for (int spin = 0; now == seen && spin < SPIN_ROUNDS; spin++) {
            ds_cpu_relax();
            now = atomic_load_explicit(&pool->generation, memory_order_acquire);
        }
        if (now == seen) {
            // Sequentially consistent with the runner's bump-then-count-sleepers: either it sees this sleeper and
            // broadcasts, or this thread sees its new generation before waiting.
            pthread_mutex_lock(&pool->lock);
            atomic_fetch_add(&pool->sleepers, 1);
            while ((now = atomic_load(&pool->generation)) == seen) pthread_cond_wait(&pool->wake, &pool->lock);
            atomic_fetch_sub(&pool->sleepers, 1);
            pthread_mutex_unlock(&pool->lock);
        }
        seen = now;
        if (atomic_load_explicit(&pool->stopping, memory_order_acquire)) return NULL;
        if (start.number <= atomic_load_explicit(&pool->joining, memory_order_relaxed)) run_indices(pool);
    }
}

ds_pool *ds_pool_create(int helpers) {
    if (helpers < 1) return NULL;
    ds_pool *pool = calloc(1, sizeof *pool);
    if (!pool) return NULL;
    pool->threads = calloc((size_t)helpers, sizeof(pthread_t));
    if (!pool->threads) {
        free(pool);
        return NULL;
    }
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->wake, NULL);
    for (int i = 0; i < helpers; i++) {
        helper_start *start = malloc(sizeof *start);
        if (start) *start = (helper_start){.pool = pool, .number = i + 1};
        if (!start || pthread_create(&pool->threads[i], NULL, helper_main, start) != 0) {
            free(start);
            pool->helpers = i;
            ds_pool_destroy(pool);
            return NULL;
        }
        pool->helpers = i + 1;
    }
    return pool;
}

void ds_pool_destroy(ds_pool *pool) {
    if (!pool) return;
    atomic_store(&pool->stopping, 1);
    pthread_mutex_lock(&pool->lock);
    atomic_fetch_add_explicit(&pool->generation, 1, memory_order_release);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    for (int i = 0; i < pool->helpers; i++) pthread_join(pool->threads[i], NULL);
    pthread_cond_destroy(&pool->wake);
    pthread_mutex_destroy(&pool->lock);
    free(pool->threads);
    free(pool);
}

int ds_pool_helpers(const ds_pool *pool) { return pool ? pool->helpers : 0; }

// The pool the calling thread's kernels split their work over, and how many threads they may use.
static _Thread_local ds_pool *current_pool;
static _Thread_local int current_threads = 1;
// Set while this thread runs a region's body: a kernel called from inside a region runs serially.
static _Thread_local int inside_region;

void ds_pool_attach(ds_pool *pool, int threads) {
    if (!pool || threads < 2) {
        current_pool = NULL;
        current_threads = 1;
        return;
    }
    current_pool = pool;
    current_threads = threads > pool->helpers + 1 ? pool->helpers + 1 : threads;
}

int ds_parallel_threads(void) { return current_pool && !inside_region ? current_threads : 1; }

void ds_parallel_for(ptrdiff_t count, void (*body)(void *context, ptrdiff_t index), void *context) {
    if (count <= 0) return;
    ds_pool *pool = current_pool;
    if (!pool || inside_region || count == 1 || current_threads < 2 || count > TICKET_MAX_COUNT) {
        for (ptrdiff_t i = 0; i < count; i++) body(context, i);
        return;
    }
    pool->body = body;
    pool->context = context;
    atomic_store_explicit(&pool->joining, current_threads - 1, memory_order_relaxed);
    atomic_store_explicit(&pool->finished, 0, memory_order_relaxed);
    pool->tag = (pool->tag + 1) & ((1UL << (64 - 2 * TICKET_INDEX_BITS)) - 1);
    // Publishes the region (release: the fields above are visible to whoever claims from this ticket).
    atomic_store_explicit(&pool->ticket, ticket_make(pool->tag, (uint64_t)count), memory_order_release);
    // Sequentially consistent for the sleeper count read next.
    atomic_fetch_add(&pool->generation, 1);
    if (atomic_load(&pool->sleepers) > 0) {
        pthread_mutex_lock(&pool->lock);
        pthread_cond_broadcast(&pool->wake);
        pthread_mutex_unlock(&pool->lock);
    }
    inside_region = 1;
    run_indices(pool);
    inside_region = 0;
    // Every index is claimed; helpers may still be running theirs (the acquire makes their writes visible here).
    while (atomic_load_explicit(&pool->finished, memory_order_acquire) < count) ds_cpu_relax();
}
