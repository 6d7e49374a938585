/*
 * Native hooks for the emulated M3 CPU (harness/machine/cpu.py).
 *
 * Why C: a Python UC_HOOK_BLOCK runs at 10-40 M instructions/s, a C one at
 * hundreds of M/s (docs/emulation.md).  This file keeps the exact
 * retired-instruction count and the modelled cycles, stops the run at the
 * instruction limit, and calls back into Python only when something must
 * happen: an event deadline passed, a deliverable interrupt is pending, a
 * block not yet costed, an MRS/MSR of a register the board serves, or an
 * observed MSR or SYS instruction (TLBI, DC, IC, AT) a checker watches.
 *
 * It does not link against libunicorn: Python hands over the addresses of
 * the four unicorn functions it needs, so the library is the very one the
 * unicorn wheel loaded (and no system compiler or -l path is involved).
 *
 * Once a machine installs it (sov_mm_install), it also models the memory
 * hierarchy and the branch predictor: a UC_HOOK_MEM_READ and a
 * UC_HOOK_MEM_WRITE (the only memory hooks; they put every load and store
 * on unicorn's slow path, so an access to the line already most recently
 * used in its set returns at once), and a return stack and indirect-branch
 * targets checked at each block entry from how the previous block ended
 * (the cost callback returns that kind with the block's cost).  What they
 * add goes to the same two cycle counters.
 *
 * Counting rule: a block is counted when its UC_HOOK_BLOCK fires, which is
 * before any of its instructions run.  Whenever the hook itself cancels the
 * block (stop, limit, interrupt entry) the block is not counted.  When a
 * block is left early by a synchronous exception, Python calls
 * sov_uncount(pc) to take back the instructions from pc to the block's end.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef void uc_engine;
typedef size_t uc_hook;
typedef int (*uc_hook_add_fn)(uc_engine *, uc_hook *, int, void *, void *, uint64_t, uint64_t, ...);
typedef int (*uc_emu_stop_fn)(uc_engine *);
typedef int (*uc_reg_read_fn)(uc_engine *, int, void *);
typedef int (*uc_reg_write_fn)(uc_engine *, int, const void *);
typedef int (*uc_mem_read_fn)(uc_engine *, uint64_t, void *, size_t);

/* From unicorn/unicorn.h and unicorn/arm64.h (2.1.x); register ids come
 * from Python (unicorn.arm64_const) so they cannot drift. */
#define UC_HOOK_BLOCK 8
#define UC_HOOK_INSN 2
#define UC_HOOK_MEM_READ (1 << 10)
#define UC_HOOK_MEM_WRITE (1 << 11)
#define UC_ARM64_INS_MRS 1
#define UC_ARM64_INS_MSR 2
#define UC_ARM64_INS_SYS 3

typedef struct {
    uint32_t crn, crm, op0, op1, op2;
    uint64_t val;
} uc_arm64_cp_reg;

/* Python callbacks (ctypes CFUNCTYPE). */
typedef int (*boundary_fn)(uint64_t addr, uint32_t size);
typedef void (*cost_fn)(uint64_t addr, uint32_t size, int64_t *cons, int64_t *opt_x1000, uint32_t *kind);
typedef uint64_t (*sysreg_read_fn)(uint32_t key);
typedef void (*sysreg_write_fn)(uint32_t key, uint64_t value);
typedef void (*observe_fn)(uint32_t key, uint64_t value, uint64_t pc, uint32_t el);

#define F_STOP 1u /* Python asked to stop at the next block boundary */
#define F_IRQ 2u  /* IRQ line raised */
#define F_FIQ 4u  /* FIQ line raised */

#define STOP_NONE 0
#define STOP_LIMIT 1
#define STOP_REQUESTED 2

typedef struct {
    uint64_t addr;
    uint32_t size, used;
    int64_t cons, opt;
    uint32_t kind; /* K_* of the block's last instruction (the branch model) */
} cost_entry;

/* Block kinds, from the cost callback (harness/costs.py BLOCK_*): how the
 * block ends, plus K_DSB if it holds a DSB anywhere. */
#define K_NONE 0
#define K_CALL 1     /* BL: push the return address */
#define K_CALL_IND 2 /* BLR: push, and the target is predicted as its last */
#define K_JUMP_IND 3 /* BR: the target is predicted as its last */
#define K_RET 4      /* RET: predicted by the return stack */
#define K_ERET 5     /* ERET: its target (a switch's) is not predicted */
#define K_END_MASK 7
#define K_DSB 8      /* the block holds a DSB: outstanding memory traffic completes */
#define K_DSB_SYNC 16 /* ... one that completes broadcast TLB maintenance (SY, ISH, OSH) */
/* Bits 8-31 of a kind: the block's conservative cycles that rest on
 * assumed costs (harness/costs.py: above the one-cycle floor of each
 * instruction whose cost is an assumption). */
#define K_ASSUMED_SHIFT 8
#define K_FLAGS_MASK 0xffu

/* ---- memory model geometry (harness/costs.py GEOMETRY must agree) ----
 * Lines and ways are fixed; the number of sets is a core's (sov_mm_install:
 * a P-core's L1D is 128 KiB, an E-core's 64 KiB; a P-cluster's L2 16 MiB,
 * an E-cluster's 4 MiB).  L1_SETS and L2_SETS are the P-core's, the most. */
#define L1_LINE_SHIFT 6 /* 64 B */
#define L1_SETS 256     /* 128 KiB / 64 B / 8 ways */
#define L1_WAYS 8
#define L2_LINE_SHIFT 7 /* 128 B */
#define L2_SETS 8192    /* 16 MiB / 128 B / 16 ways */
#define L2_WAYS 16
#define N_STREAMS 16    /* sequential-line streams the prefetcher follows */
#define BTB_SIZE 256    /* indirect-branch targets remembered (direct-mapped) */
#define RAS_MAX 256

/* Per-model parameters (index 0 conservative, 1 optimistic), milli-cycles;
 * computed by harness/costs.py native_memory_params in this order. */
enum {
    P_L2,         /* a load that misses L1 and hits L2, beyond the L1 hit */
    P_DRAM,       /* a demand load from DRAM, beyond the L1 hit */
    P_NC_READ,    /* a Normal-NC read (uncached: a DRAM round trip) */
    P_DEVICE,     /* a Device access (a round trip to the device) */
    P_MISPREDICT, /* a mispredicted return or indirect branch, an ERET */
    P_RD_MPB,     /* milli-cycles per byte read from DRAM */
    P_WR_MPB,     /* milli-cycles per byte written back to DRAM */
    P_NC_MPB,     /* milli-cycles per byte of write-combined NC stores */
    P_SB_WINDOW,  /* store traffic the store buffer hides, as channel time */
    P_PF_WINDOW,  /* how far ahead of use the prefetcher may fetch */
    P_PF_TRAIN,   /* lines of a stream seen before it covers the next (x 1000; one value) */
    MM_NPARAM
};

enum { R_RAM = 0, R_NC = 1, R_DEVICE = 2 };

/* A line a store miss allocated in L1 (write-allocate) whose fill from L2
 * or DRAM is still under way: the store itself waits for nothing (the
 * store buffer), but a load of that line before `ready` waits for the
 * rest of the fill, as a load on real hardware waits on the miss in
 * flight for its line.  (The model charges per block: "now" is its end.) */
#define N_FILLS 16
typedef struct {
    uint64_t line;      /* L1 line (addr >> 6) */
    int64_t ready[2];   /* per model, milli-cycles */
} mm_fill;
typedef struct {
    uint64_t lo, hi;
    uint32_t type;
} mm_range;

/* An L2: one per cluster, shared by the cores of the cluster
 * (sov_mm_share_l2), each of which holds a reference.  Lines in
 * most-recently-used order per set: (line + 1) << 1 | dirty. */
typedef struct {
    uint64_t *line;     /* [sets][L2_WAYS] */
    uint32_t sets;      /* a power of two */
    uint32_t refs;
} mm_l2;
#define MM_MAX_RANGES 16

/* Statistics (sov_mm_stats): counts, for tests and reports. */
enum {
    S_ACCESSES,      /* accesses past the fast path (not the MRU line of its set) */
    S_L1_LOAD_MISS,
    S_L1_STORE_MISS,
    S_L2_MISS,
    S_PREFETCHED,    /* L1 misses a sequential stream covered */
    S_DRAM_READ_BYTES,
    S_DRAM_WRITE_BYTES,
    S_NC_READS,
    S_NC_WRITE_BYTES,
    S_DEVICE,
    S_MISPREDICTS,
    S_RETURNS,
    S_STALL_CONS,    /* conservative extra milli-cycles charged by the model */
    S_STALL_OPT,
    S_FILL_WAITS,    /* loads that waited for a line a store miss was still filling */
    MM_NSTATS
};

/* The first fields are mirrored by a ctypes Structure in cpu.py: keep the
 * order and types in step with SovState there. */
typedef struct {
    uint64_t instructions;  /* retired instructions (exact outside a block) */
    int64_t cycles_cons;     /* conservative modelled cycles */
    int64_t cycles_opt;      /* optimistic modelled cycles x 1000 */
    uint64_t idle;           /* time skipped in WFI, in instruction units */
    uint64_t limit;          /* stop once instructions >= limit */
    uint64_t deadline;       /* event when instructions + idle >= deadline */
    uint32_t flags;          /* F_* */
    uint32_t stop_reason;    /* STOP_* set by the hook */
    uint64_t blk_addr;       /* the block most recently counted */
    uint32_t blk_size;
    uint32_t in_sysreg;      /* 1 while a sysreg callback runs */
    int64_t blk_cons, blk_opt; /* what that block was charged */
    uint64_t mid_insns;      /* while in_sysreg: not-yet-retired part of the block */
    int64_t mid_cons, mid_opt;
    int64_t cycles_assumed;  /* milli-cycles of cycles_cons that rest on assumed costs */
    int64_t blk_assumed;     /* what the current block added to it */
    int64_t mid_assumed;
    /* A broadcast TLBI whose completing DSB is still to come (set from
     * Python, harness/machine/m3.py): that DSB waits for the other cores,
     * shoot_cons cycles and shoot_opt milli-cycles (all of it assumed),
     * charged at the entry of the block after the next block that holds
     * a DSB of K_DSB_SYNC (shoot_armed: the current block's DSB, if any,
     * came before the TLBI and does not count). */
    int64_t shoot_cons, shoot_opt;
    uint32_t shoot_armed, shoot_pad;

    /* private from here on */
    uc_emu_stop_fn emu_stop;
    uc_reg_read_fn reg_read;
    uc_reg_write_fn reg_write;
    int reg_pc, reg_pstate;
    boundary_fn boundary;
    cost_fn cost;
    sysreg_read_fn sr_read;
    sysreg_write_fn sr_write;
    observe_fn observe;
    cost_entry *table;
    uint64_t table_mask, table_used;
    uint8_t sr_read_map[8192], sr_write_map[8192]; /* one bit per 16-bit encoding */
    /* Observed MSR (op0 2, 3) and SYS (op0 1) encodings: Python sees the
     * value, then the native access runs as if nobody had looked. */
    uint8_t observe_map[8192];

    /* ---- the memory and branch model (sov_mm_install) ---- */
    int mm_on;                 /* memory hooks registered */
    int bp_on;                 /* the branch model charges */
    int64_t mm_frac;           /* conservative milli-cycles not yet a whole cycle */
    int64_t busy[2];           /* the DRAM channel is busy until (per model, milli-cycles) */
    int64_t p[2][MM_NPARAM];
    mm_range ranges[MM_MAX_RANGES];
    uint32_t nranges;
    uint64_t ram_lo, ram_size; /* the first cacheable range: the fast classification */
    uint64_t *l1;              /* [l1_sets][L1_WAYS], MRU first: (line + 1) << 1 | dirty */
    uint32_t l1_sets;          /* a power of two */
    mm_l2 *l2;                 /* the cluster's, likewise with 128 B lines (shared) */
    uint64_t streams[N_STREAMS];
    uint32_t stream_run[N_STREAMS]; /* lines of the stream seen so far, up to the last */
    uint32_t stream_next;
    mm_fill fills[N_FILLS];    /* lines a store miss allocated, still in flight */
    uint32_t n_fills;
    uint32_t n_streams;        /* streams followed (N_STREAMS; 0: no prefetcher) */
    uint64_t un_pc, un_insns;  /* the last NC/Device access's instruction */
    uint32_t bp_prev_kind;     /* the kind of the block that ran last */
    uint64_t bp_prev_end;      /* and its end address */
    uint64_t ras[RAS_MAX];
    uint32_t ras_top, ras_count, ras_depth;
    uint64_t btb_pc[BTB_SIZE], btb_target[BTB_SIZE];
    uint64_t stats[MM_NSTATS];
    uc_hook mm_hooks[2];
} sov_state;

sov_state *sov_new(void *emu_stop, void *reg_read, void *reg_write, int reg_pc, int reg_pstate)
{
    sov_state *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->emu_stop = (uc_emu_stop_fn)emu_stop;
    st->reg_read = (uc_reg_read_fn)reg_read;
    st->reg_write = (uc_reg_write_fn)reg_write;
    st->reg_pc = reg_pc;
    st->reg_pstate = reg_pstate;
    st->limit = UINT64_MAX;
    st->deadline = UINT64_MAX;
    return st;
}

static void l2_release(mm_l2 *c)
{
    if (c && --c->refs == 0) {
        free(c->line);
        free(c);
    }
}

void sov_free(sov_state *st)
{
    if (st) {
        free(st->table);
        free(st->l1);
        l2_release(st->l2);
        free(st);
    }
}

void sov_set_callbacks(sov_state *st, void *boundary, void *sr_read, void *sr_write, void *observe)
{
    st->boundary = (boundary_fn)boundary;
    st->sr_read = (sysreg_read_fn)sr_read;
    st->sr_write = (sysreg_write_fn)sr_write;
    st->observe = (observe_fn)observe;
}

/* ---- per-block cost cache: open addressing keyed by (addr, size) ---- */

static uint64_t slot_of(const sov_state *st, uint64_t addr, uint32_t size)
{
    uint64_t h = (addr >> 2) * 0x9E3779B97F4A7C15ull ^ (uint64_t)size * 0xC2B2AE3D27D4EB4Full;
    return (h ^ (h >> 29)) & st->table_mask;
}

static void table_put(sov_state *st, uint64_t addr, uint32_t size, int64_t cons, int64_t opt, uint32_t kind)
{
    uint64_t i = slot_of(st, addr, size);
    while (st->table[i].used && !(st->table[i].addr == addr && st->table[i].size == size))
        i = (i + 1) & st->table_mask;
    if (!st->table[i].used)
        st->table_used++;
    st->table[i] = (cost_entry){addr, size, 1, cons, opt, kind};
}

/* Rebuild with the given capacity, keeping entries outside [lo, hi). */
static int table_rebuild(sov_state *st, uint64_t cap, uint64_t lo, uint64_t hi)
{
    cost_entry *old = st->table;
    uint64_t old_n = old ? st->table_mask + 1 : 0;
    cost_entry *t = calloc(cap, sizeof *t);
    if (!t)
        return -1;
    st->table = t;
    st->table_mask = cap - 1;
    st->table_used = 0;
    for (uint64_t i = 0; i < old_n; i++) {
        cost_entry *e = &old[i];
        if (e->used && !(e->addr < hi && e->addr + e->size > lo))
            table_put(st, e->addr, e->size, e->cons, e->opt, e->kind);
    }
    free(old);
    return 0;
}

/* Enable (cost != NULL) or disable per-block costs; clears the cache. */
int sov_set_cost_fn(sov_state *st, void *cost)
{
    st->cost = (cost_fn)cost;
    free(st->table);
    st->table = NULL;
    st->table_mask = st->table_used = 0;
    return cost ? table_rebuild(st, 1u << 14, 0, 0) : 0;
}

/* Drop cached costs of every block overlapping [lo, hi). */
int sov_invalidate_costs(sov_state *st, uint64_t lo, uint64_t hi)
{
    if (!st->table)
        return 0;
    return table_rebuild(st, st->table_mask + 1, lo, hi);
}

static void block_cost(sov_state *st, uint64_t addr, uint32_t size, int64_t *cons, int64_t *opt,
                       uint32_t *kind)
{
    *kind = K_NONE;
    if (!st->cost || size == 0) {
        /* Default model: one cycle per instruction. */
        *cons = size >> 2;
        *opt = (int64_t)(size >> 2) * 1000;
        return;
    }
    uint64_t i = slot_of(st, addr, size);
    while (st->table[i].used) {
        if (st->table[i].addr == addr && st->table[i].size == size) {
            *cons = st->table[i].cons;
            *opt = st->table[i].opt;
            *kind = st->table[i].kind;
            return;
        }
        i = (i + 1) & st->table_mask;
    }
    *cons = (int64_t)(size >> 2);
    *opt = *cons * 1000;
    st->cost(addr, size, cons, opt, kind);
    if ((st->table_used + 1) * 2 > st->table_mask + 1)
        table_rebuild(st, (st->table_mask + 1) * 2, 0, 0);
    table_put(st, addr, size, *cons, *opt, *kind);
}

/* ---- the memory model ----
 *
 * One cache hierarchy (L1D, L2, a next-line stream prefetcher) and one
 * DRAM channel, charged twice: the conservative model's parameters are the
 * costly end of each range, the optimistic model's the cheap end (harness/
 * costs.py MEMORY).  The static block cost already charges every load its
 * L1 hit, so only what lies beyond it is added here, in milli-cycles, at
 * the access (the block's own cycles were charged on entry, so "now" is
 * the end of the current block: the model is exact per block, not per
 * instruction).
 *
 * The channel clock busy[m]: every DRAM or Normal-NC transfer occupies it
 * for bytes x milli-cycles-per-byte.  A demand load waits for the channel
 * and then its latency; a load a sequential stream covers (prefetched)
 * waits only until its bytes are through (the prefetcher may have used
 * the channel up to P_PF_WINDOW earlier); stores wait only when the
 * channel is more than the store buffer's worth (P_SB_WINDOW) ahead.  So
 * streaming costs max(core cycles, bytes / bandwidth).  Nothing here reads
 * host time: the same run charges the same cycles. */

static inline int64_t mm_now(const sov_state *st, int m)
{
    return m ? st->cycles_opt : st->cycles_cons * 1000 + st->mm_frac;
}

/* Every memory-model charge rests on assumed parameters (costs.py MEMORY:
 * L2, DRAM, bandwidths, Device), except a mispredict (measured): `assumed`. */
static inline void mm_charge_as(sov_state *st, int m, int64_t milli, int assumed)
{
    if (milli <= 0)
        return;
    if (m) {
        st->cycles_opt += milli;
        st->stats[S_STALL_OPT] += (uint64_t)milli;
    } else {
        if (assumed)
            st->cycles_assumed += milli;
        st->mm_frac += milli;
        st->cycles_cons += st->mm_frac / 1000;
        st->mm_frac %= 1000;
        st->stats[S_STALL_CONS] += (uint64_t)milli;
    }
}

static inline void mm_charge(sov_state *st, int m, int64_t milli) { mm_charge_as(st, m, milli, 1); }

static inline int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* A demand read of `bytes` from DRAM: queue behind the channel, then pay
 * the latency `lat` (a P_* index). */
static void mm_demand_read(sov_state *st, uint32_t bytes, int lat)
{
    st->stats[S_DRAM_READ_BYTES] += bytes;
    for (int m = 0; m < 2; m++) {
        int64_t now = mm_now(st, m);
        int64_t start = max64(st->busy[m], now);
        st->busy[m] = start + (int64_t)bytes * st->p[m][P_RD_MPB];
        mm_charge(st, m, start - now + st->p[m][lat]);
    }
}

/* A read the prefetcher fetched ahead: the core waits only for the bytes. */
static void mm_streamed_read(sov_state *st, uint32_t bytes)
{
    st->stats[S_DRAM_READ_BYTES] += bytes;
    for (int m = 0; m < 2; m++) {
        int64_t now = mm_now(st, m);
        int64_t start = max64(st->busy[m], now - st->p[m][P_PF_WINDOW]);
        st->busy[m] = start + (int64_t)bytes * st->p[m][P_RD_MPB];
        mm_charge(st, m, st->busy[m] - now);
    }
}

/* Traffic behind stores (a line fetched for a store, write-combined NC
 * bytes): the store buffer hides it until it is more than P_SB_WINDOW
 * ahead of the core. */
static void mm_store_traffic(sov_state *st, uint32_t bytes, int mpb, int streamed)
{
    for (int m = 0; m < 2; m++) {
        int64_t now = mm_now(st, m);
        int64_t start = max64(st->busy[m], streamed ? now - st->p[m][P_PF_WINDOW] : now);
        st->busy[m] = start + (int64_t)bytes * st->p[m][mpb];
        mm_charge(st, m, st->busy[m] - now - st->p[m][P_SB_WINDOW]);
    }
}

/* A dirty L2 line written back: it uses the channel (idle time included:
 * write-backs are posted), nobody waits for it. */
static void mm_writeback(sov_state *st, uint32_t bytes)
{
    st->stats[S_DRAM_WRITE_BYTES] += bytes;
    for (int m = 0; m < 2; m++) {
        int64_t now = mm_now(st, m);
        int64_t start = max64(st->busy[m], now - st->p[m][P_PF_WINDOW]);
        st->busy[m] = start + (int64_t)bytes * st->p[m][P_WR_MPB];
    }
}

/* Everything outstanding completes (a DSB, or the core went idle). */
static void mm_drain(sov_state *st, int wait)
{
    for (int m = 0; m < 2; m++) {
        int64_t now = mm_now(st, m);
        if (wait)
            mm_charge(st, m, st->busy[m] - now);
        else if (st->busy[m] > now)
            st->busy[m] = now;
    }
}

/* Find `tag` in a set kept in most-recently-used order and move it to the
 * front; 1 if found.  On a miss the LRU way is dropped (returned in
 * *victim) and tag goes to the front. */
static inline int set_touch(uint64_t *set, int ways, uint64_t tag, int dirty, uint64_t *victim)
{
    for (int k = 0; k < ways; k++) {
        if ((set[k] >> 1) == tag) {
            uint64_t v = set[k] | (uint64_t)dirty;
            memmove(set + 1, set, (size_t)k * sizeof *set);
            set[0] = v;
            return 1;
        }
    }
    *victim = set[ways - 1];
    memmove(set + 1, set, (size_t)(ways - 1) * sizeof *set);
    set[0] = tag << 1 | (uint64_t)dirty;
    return 0;
}

/* The L2 line (addr >> 7) is needed (dirty: written back from L1).
 * Returns 1 on a hit. */
static int l2_access(sov_state *st, uint64_t l2line, int dirty)
{
    uint64_t victim = 0;
    uint64_t *set = st->l2->line + (l2line & (st->l2->sets - 1)) * L2_WAYS;
    if (set_touch(set, L2_WAYS, l2line + 1, dirty, &victim))
        return 1;
    st->stats[S_L2_MISS]++;
    if (victim & 1)
        mm_writeback(st, 1u << L2_LINE_SHIFT);
    return 0;
}

/* The next-line prefetcher: 1 if line continues a stream it follows
 * (ascending or descending) that has been confirmed by P_PF_TRAIN lines in
 * a row before it (a prefetcher issues nothing for a single miss, so the
 * second line of a two-line structure is a demand miss too); else the
 * stream grows, or a new one starts with this line. */
static int stream_covers(sov_state *st, uint64_t line)
{
    if (st->n_streams == 0)
        return 0;
    for (uint32_t i = 0; i < st->n_streams; i++) {
        uint64_t last = st->streams[i];
        if (last && (line == last + 1 || line + 1 == last)) {
            st->streams[i] = line;
            int trained = (int64_t)st->stream_run[i] * 1000 >= st->p[0][P_PF_TRAIN];
            if (st->stream_run[i] < UINT32_MAX)
                st->stream_run[i]++;
            return trained;
        }
    }
    st->streams[st->stream_next] = line;
    st->stream_run[st->stream_next] = 1;
    st->stream_next = (st->stream_next + 1) % st->n_streams;
    return 0;
}

/* A store miss's line is in flight until ready[m]: remember it (the
 * oldest entry goes when all are in use: its load will not wait). */
static void fill_note(sov_state *st, uint64_t line, const int64_t ready[2])
{
    uint32_t i = 0;
    while (i < st->n_fills && st->fills[i].line != line)
        i++;
    if (i == st->n_fills) {
        if (st->n_fills < N_FILLS)
            st->n_fills++;
        else {
            memmove(st->fills, st->fills + 1, (N_FILLS - 1) * sizeof *st->fills);
            i = N_FILLS - 1;
        }
    }
    st->fills[i] = (mm_fill){line, {ready[0], ready[1]}};
}

/* A load of [addr, addr + size): if a line of it is still being filled
 * for a store, wait for the rest of the fill.  Fills that are done (in
 * both models) are forgotten on the way. */
static void fill_wait(sov_state *st, uint64_t addr, uint32_t size)
{
    uint64_t first = addr >> L1_LINE_SHIFT, last = (addr + size - 1) >> L1_LINE_SHIFT;
    int64_t now0 = mm_now(st, 0), now1 = mm_now(st, 1);
    uint32_t k = 0;
    for (uint32_t i = 0; i < st->n_fills; i++) {
        mm_fill f = st->fills[i];
        if (f.line >= first && f.line <= last) {
            if (f.ready[0] > now0 || f.ready[1] > now1)
                st->stats[S_FILL_WAITS]++;
            mm_charge(st, 0, f.ready[0] - now0);
            mm_charge(st, 1, f.ready[1] - now1);
            continue; /* it is there now */
        }
        if (f.ready[0] <= now0 && f.ready[1] <= now1)
            continue; /* done */
        st->fills[k++] = f;
    }
    st->n_fills = k;
}

/* One cacheable L1 line touched by a load (w = 0) or a store (w = 1). */
static void l1_access(sov_state *st, uint64_t line, int w)
{
    uint64_t victim = 0;
    uint64_t *set = st->l1 + (line & (st->l1_sets - 1)) * L1_WAYS;
    int hit = set_touch(set, L1_WAYS, line + 1, w, &victim);
    if (hit)
        return;
    st->stats[w ? S_L1_STORE_MISS : S_L1_LOAD_MISS]++;
    if (victim & 1) /* a dirty line leaves L1 for L2 (allocated there, no fetch) */
        l2_access(st, ((victim >> 1) - 1) >> (L2_LINE_SHIFT - L1_LINE_SHIFT), 1);
    int streamed = stream_covers(st, line);
    st->stats[S_PREFETCHED] += (uint64_t)streamed;
    int l2hit = l2_access(st, line >> (L2_LINE_SHIFT - L1_LINE_SHIFT), 0);
    if (w) {
        /* write-allocate: the line is fetched behind the store buffer; a
         * load of it before the fill is done waits (fill_wait) */
        int64_t ready[2];
        for (int m = 0; m < 2; m++) {
            int64_t now = mm_now(st, m);
            ready[m] = streamed ? now : l2hit ? now + st->p[m][P_L2]
                                             : max64(st->busy[m], now) + st->p[m][P_DRAM];
        }
        if (!l2hit) {
            st->stats[S_DRAM_READ_BYTES] += 1u << L2_LINE_SHIFT;
            mm_store_traffic(st, 1u << L2_LINE_SHIFT, P_RD_MPB, streamed);
        }
        if (!streamed)
            fill_note(st, line, ready);
        return;
    }
    if (l2hit) {
        if (!streamed)
            for (int m = 0; m < 2; m++)
                mm_charge(st, m, st->p[m][P_L2]);
        return;
    }
    if (streamed)
        mm_streamed_read(st, 1u << L2_LINE_SHIFT);
    else
        mm_demand_read(st, 1u << L2_LINE_SHIFT, P_DRAM);
}

static inline uint32_t mm_classify(const sov_state *st, uint64_t addr)
{
    if (addr - st->ram_lo < st->ram_size)
        return R_RAM;
    for (uint32_t i = 0; i < st->nranges; i++)
        if (addr >= st->ranges[i].lo && addr < st->ranges[i].hi)
            return st->ranges[i].type;
    return R_DEVICE; /* anything the machine did not describe */
}

/* Is this NC/Device access the second part of the instruction before it
 * (an LDP, or a 16-byte access unicorn splits into two 8-byte ones)?  The
 * PC is synced before memory hooks run (cputlb.c load_helper); with the
 * retired count it names one dynamic instruction. */
static int same_instruction(sov_state *st, uc_engine *uc)
{
    uint64_t pc = 0;
    st->reg_read(uc, st->reg_pc, &pc);
    int same = pc == st->un_pc && st->instructions == st->un_insns;
    st->un_pc = pc;
    st->un_insns = st->instructions;
    return same;
}

static void mm_access(sov_state *st, uc_engine *uc, uint64_t addr, uint32_t size, int w)
{
    st->stats[S_ACCESSES]++;
    uint32_t type = mm_classify(st, addr);
    if (type == R_RAM) {
        uint64_t first = addr >> L1_LINE_SHIFT, last = (addr + size - 1) >> L1_LINE_SHIFT;
        for (uint64_t line = first; line <= last; line++)
            l1_access(st, line, w);
        return;
    }
    if (type == R_NC && w) { /* write-combined: bytes only, whichever instruction */
        st->stats[S_NC_WRITE_BYTES] += size;
        mm_store_traffic(st, size, P_NC_MPB, 0);
        return;
    }
    int again = same_instruction(st, uc);
    if (type == R_NC) { /* uncached: every access a DRAM round trip */
        st->stats[S_NC_READS] += (uint64_t)!again;
        if (!again) {
            mm_demand_read(st, size, P_NC_READ);
            return;
        }
        /* the rest of the same access: its bytes, hidden under the latency paid */
        st->stats[S_DRAM_READ_BYTES] += size;
        for (int m = 0; m < 2; m++) {
            int64_t now = mm_now(st, m);
            st->busy[m] = max64(st->busy[m], now) + (int64_t)size * st->p[m][P_RD_MPB];
            mm_charge(st, m, st->busy[m] - now - st->p[m][P_NC_READ]);
        }
        return;
    }
    if (!again) {
        st->stats[S_DEVICE]++;
        for (int m = 0; m < 2; m++)
            mm_charge(st, m, st->p[m][P_DEVICE]);
    }
}

void sov_mem_read_hook(uc_engine *uc, int type, uint64_t addr, int size, int64_t value, void *user)
{
    sov_state *st = user;
    (void)type;
    (void)value;
    /* The fast path: the line is already the most recently used of its
     * set (so LRU order stays exact without touching it).  NC and Device
     * lines never enter L1, so they never match. */
    if (st->n_fills)
        fill_wait(st, addr, (uint32_t)size);
    uint64_t line = addr >> L1_LINE_SHIFT;
    uint64_t mru = st->l1[(line & (st->l1_sets - 1)) * L1_WAYS];
    if ((mru >> 1) == line + 1 && ((addr + (uint64_t)size - 1) >> L1_LINE_SHIFT) == line)
        return;
    mm_access(st, uc, addr, (uint32_t)size, 0);
}

void sov_mem_write_hook(uc_engine *uc, int type, uint64_t addr, int size, int64_t value, void *user)
{
    sov_state *st = user;
    (void)type;
    (void)value;
    uint64_t line = addr >> L1_LINE_SHIFT;
    uint64_t mru = st->l1[(line & (st->l1_sets - 1)) * L1_WAYS];
    if (mru == ((line + 1) << 1 | 1) && ((addr + (uint64_t)size - 1) >> L1_LINE_SHIFT) == line)
        return; /* MRU and already dirty */
    mm_access(st, uc, addr, (uint32_t)size, 1);
}

/* ---- the branch model: a return stack and last-target indirect prediction ---- */

static inline void bp_mispredict(sov_state *st)
{
    st->stats[S_MISPREDICTS]++;
    for (int m = 0; m < 2; m++)
        mm_charge_as(st, m, st->p[m][P_MISPREDICT], 0);
}

static void bp_indirect(sov_state *st, uint64_t pc, uint64_t target)
{
    uint32_t i = (uint32_t)(pc >> 2) & (BTB_SIZE - 1);
    if (st->btb_pc[i] != pc || st->btb_target[i] != target)
        bp_mispredict(st);
    st->btb_pc[i] = pc;
    st->btb_target[i] = target;
}

/* The block at addr is about to run after the block bp_prev_*: was the
 * branch that ended that one predicted? */
static void bp_resolve(sov_state *st, uint64_t addr)
{
    uint32_t kind = st->bp_prev_kind;
    uint64_t end = st->bp_prev_end;
    st->bp_prev_kind = K_NONE;
    if (kind & K_DSB)
        mm_drain(st, 1);
    switch (kind & K_END_MASK) {
    case K_CALL_IND:
        bp_indirect(st, end - 4, addr);
        /* fall through: and push */
    case K_CALL:
        st->ras_top = (st->ras_top + 1) % st->ras_depth;
        st->ras[st->ras_top] = end;
        if (st->ras_count < st->ras_depth)
            st->ras_count++;
        break;
    case K_JUMP_IND:
        bp_indirect(st, end - 4, addr);
        break;
    case K_RET: {
        st->stats[S_RETURNS]++;
        uint64_t predicted = 0;
        if (st->ras_count) {
            predicted = st->ras[st->ras_top];
            st->ras_top = (st->ras_top + st->ras_depth - 1) % st->ras_depth;
            st->ras_count--;
        }
        if (predicted != addr)
            bp_mispredict(st);
        break;
    }
    case K_ERET:
        bp_mispredict(st);
        break;
    default:
        break;
    }
}

static void mm_reset_state(sov_state *st)
{
    if (st->l1)
        memset(st->l1, 0, sizeof(uint64_t) * st->l1_sets * L1_WAYS);
    if (st->l2) /* the cluster's: every core of it loses its lines too */
        memset(st->l2->line, 0, sizeof(uint64_t) * st->l2->sets * L2_WAYS);
    memset(st->streams, 0, sizeof st->streams);
    memset(st->stream_run, 0, sizeof st->stream_run);
    st->stream_next = 0;
    st->n_fills = 0;
    st->un_pc = st->un_insns = UINT64_MAX;
    st->bp_prev_kind = K_NONE;
    st->ras_top = st->ras_count = 0;
    memset(st->btb_pc, 0, sizeof st->btb_pc);
    memset(st->btb_target, 0, sizeof st->btb_target);
}

static int pow2(uint32_t x) { return x && !(x & (x - 1)); }

/* Install the model: params[2 * MM_NPARAM] (conservative then optimistic,
 * milli-cycles, see P_*), ras_depth, n ranges (lo, hi, type: 0 cacheable,
 * 1 Normal-NC, 2 Device; anything outside them is Device; the first
 * cacheable one is checked first), the sets of this core's L1D and of an
 * L2 of its own (powers of two, at most L1_SETS / L2_SETS; a core of a
 * cluster then shares one: sov_mm_share_l2), then the read and write
 * hooks are registered.  Returns 0 or the uc_err / -1. */
int sov_mm_install(sov_state *st, uc_engine *uc, void *hook_add_ptr, const int64_t *params,
                   uint32_t ras_depth, uint32_t n, const uint64_t *lo, const uint64_t *hi,
                   const uint32_t *type, uint32_t l1_sets, uint32_t l2_sets)
{
    if (st->mm_on || n > MM_MAX_RANGES || ras_depth == 0 || ras_depth > RAS_MAX)
        return -1;
    if (!pow2(l1_sets) || l1_sets > L1_SETS || !pow2(l2_sets) || l2_sets > L2_SETS)
        return -1;
    st->l1_sets = l1_sets;
    st->l1 = calloc((size_t)l1_sets * L1_WAYS, sizeof(uint64_t));
    st->l2 = calloc(1, sizeof *st->l2);
    if (!st->l1 || !st->l2)
        return -1;
    st->l2->refs = 1;
    st->l2->sets = l2_sets;
    st->l2->line = calloc((size_t)l2_sets * L2_WAYS, sizeof(uint64_t));
    if (!st->l2->line)
        return -1;
    memcpy(st->p, params, sizeof st->p);
    st->ras_depth = ras_depth;
    st->nranges = n;
    st->ram_lo = 1;
    st->ram_size = 0;
    for (uint32_t i = 0; i < n; i++) {
        st->ranges[i] = (mm_range){lo[i], hi[i], type[i]};
        if (type[i] == R_RAM && st->ram_size == 0) {
            st->ram_lo = lo[i];
            st->ram_size = hi[i] - lo[i];
        }
    }
    st->n_streams = N_STREAMS;
    mm_reset_state(st);
    st->busy[0] = mm_now(st, 0);
    st->busy[1] = mm_now(st, 1);
    uc_hook_add_fn hook_add = (uc_hook_add_fn)hook_add_ptr;
    int err = hook_add(uc, &st->mm_hooks[0], UC_HOOK_MEM_READ, (void *)sov_mem_read_hook, st, (uint64_t)1,
                       (uint64_t)0);
    if (!err)
        err = hook_add(uc, &st->mm_hooks[1], UC_HOOK_MEM_WRITE, (void *)sov_mem_write_hook, st, (uint64_t)1,
                       (uint64_t)0);
    if (err)
        return err;
    st->mm_on = st->bp_on = 1;
    return 0;
}

/* Cold caches and predictors: every line invalidated.  Dirty lines are
 * discarded (writeback = 0) or their bytes put on the channel as
 * write-backs (writeback = 1: the next DRAM access waits behind them). */
void sov_mm_flush(sov_state *st, int writeback)
{
    if (!st->mm_on)
        return;
    if (writeback) {
        uint64_t dirty = 0;
        for (size_t i = 0; i < (size_t)st->l1_sets * L1_WAYS; i++)
            dirty += (st->l1[i] & 1) << L1_LINE_SHIFT;
        for (size_t i = 0; i < (size_t)st->l2->sets * L2_WAYS; i++)
            dirty += (st->l2->line[i] & 1) << L2_LINE_SHIFT;
        if (dirty)
            mm_writeback(st, (uint32_t)(dirty > UINT32_MAX ? UINT32_MAX : dirty));
    }
    mm_reset_state(st);
}

/* st's L2 becomes the one `owner` has (the cores of a cluster share
 * theirs): its own is dropped, lines and all.  Both must have the model
 * installed.  Returns 0, or -1. */
int sov_mm_share_l2(sov_state *st, sov_state *owner)
{
    if (!st->mm_on || !owner->mm_on)
        return -1;
    if (st->l2 == owner->l2)
        return 0;
    l2_release(st->l2);
    st->l2 = owner->l2;
    st->l2->refs++;
    return 0;
}

/* The sets of st's L2 (tests: shared or not is the same L2). */
uint64_t sov_mm_l2_id(const sov_state *st) { return (uint64_t)(uintptr_t)st->l2; }

/* How many sequential streams the prefetcher follows (at most N_STREAMS;
 * 0 turns it off: the pessimistic pass).  Returns the number set. */
uint32_t sov_mm_set_streams(sov_state *st, uint32_t n)
{
    st->n_streams = n > N_STREAMS ? N_STREAMS : n;
    st->stream_next = 0;
    memset(st->streams, 0, sizeof st->streams);
    return st->n_streams;
}

/* The core waited (WFI): the channel drained meanwhile. */
void sov_mm_idle(sov_state *st)
{
    if (st->mm_on)
        mm_drain(st, 0);
}

/* A broadcast TLBI's completion: the block that just ran held the DSB
 * that waits for the other cores (charged once, whatever follows; a DSB
 * in the TLBI's own block before it does not count: shoot_armed). */
static void shoot_check(sov_state *st)
{
    if ((st->bp_prev_kind & K_DSB_SYNC) && st->shoot_armed) {
        st->cycles_cons += st->shoot_cons;
        st->cycles_opt += st->shoot_opt;
        st->cycles_assumed += st->shoot_cons * 1000;
        st->shoot_cons = st->shoot_opt = 0;
    }
    st->shoot_armed = 1;
}

/* An exception was taken: the next block is its vector, not the target
 * of the branch that ended the last one (a DSB that ended that one has
 * completed). */
void sov_bp_exception(sov_state *st)
{
    if (st->shoot_cons | st->shoot_opt)
        shoot_check(st);
    st->bp_prev_kind = K_NONE;
}

void sov_mm_stats(const sov_state *st, uint64_t *out)
{
    memcpy(out, st->stats, sizeof st->stats);
}

uint32_t sov_mm_nstats(void) { return MM_NSTATS; }
uint32_t sov_mm_nparams(void) { return MM_NPARAM; }

/* ---- the block hook ---- */

static int irq_deliverable(sov_state *st, uc_engine *uc)
{
    uint64_t pstate = 0;
    st->reg_read(uc, st->reg_pstate, &pstate);
    /* Below EL2 the routing (HCR_EL2.IMO/FMO/TGE) decides; let Python look. */
    if (((pstate >> 2) & 3) < 2)
        return 1;
    if ((st->flags & F_IRQ) && !(pstate & (1u << 7)))
        return 1;
    if ((st->flags & F_FIQ) && !(pstate & (1u << 6)))
        return 1;
    return 0;
}

void sov_block_hook(uc_engine *uc, uint64_t addr, uint32_t size, void *user)
{
    sov_state *st = user;
    if (st->shoot_cons | st->shoot_opt)
        shoot_check(st);
    /* The branch that led here was taken whatever happens to this block
     * (a stop resumes here, an interrupt enters its vector instead). */
    if (st->bp_on && st->bp_prev_kind)
        bp_resolve(st, addr);
    /* Stopping from the hook cancels the block before it runs: do not count. */
    if (st->flags & F_STOP) {
        st->stop_reason = STOP_REQUESTED;
        st->emu_stop(uc);
        return;
    }
    if (st->instructions >= st->limit) {
        st->stop_reason = STOP_LIMIT;
        st->emu_stop(uc);
        return;
    }
    if (st->instructions + st->idle >= st->deadline ||
        ((st->flags & (F_IRQ | F_FIQ)) && irq_deliverable(st, uc))) {
        /* Nonzero: Python wrote PC (interrupt entry) or asked to stop;
         * either way this block will not run. */
        int redirected = st->boundary(addr, size);
        if (st->flags & F_STOP) {
            st->stop_reason = STOP_REQUESTED;
            st->emu_stop(uc);
            return;
        }
        if (redirected)
            return;
    }
    int64_t cons, opt;
    uint32_t kind;
    block_cost(st, addr, size, &cons, &opt, &kind);
    int64_t assumed = (int64_t)(kind >> K_ASSUMED_SHIFT) * 1000;
    st->bp_prev_kind = kind & K_FLAGS_MASK;
    st->bp_prev_end = addr + size;
    st->instructions += size >> 2;
    st->cycles_cons += cons;
    st->cycles_opt += opt;
    st->cycles_assumed += assumed;
    st->blk_addr = addr;
    st->blk_size = size;
    st->blk_cons = cons;
    st->blk_opt = opt;
    st->blk_assumed = assumed;
}

/* The current block was left at pc (pc itself not retired): take back the
 * instructions from pc to its end, and re-cost the executed prefix. */
void sov_uncount(sov_state *st, uint64_t pc)
{
    uint64_t end = st->blk_addr + st->blk_size;
    if (st->blk_size == 0 || pc < st->blk_addr || pc >= end)
        return;
    int64_t cons, opt;
    uint32_t kind;
    block_cost(st, st->blk_addr, (uint32_t)(pc - st->blk_addr), &cons, &opt, &kind);
    int64_t assumed = (int64_t)(kind >> K_ASSUMED_SHIFT) * 1000;
    st->bp_prev_kind = K_NONE; /* its last instruction did not run */
    st->instructions -= (end - pc) >> 2;
    st->cycles_cons += cons - st->blk_cons;
    st->cycles_opt += opt - st->blk_opt;
    st->cycles_assumed += assumed - st->blk_assumed;
    st->blk_size = (uint32_t)(pc - st->blk_addr);
    st->blk_cons = cons;
    st->blk_opt = opt;
    st->blk_assumed = assumed;
}

/* ---- MRS / MSR dispatch ---- */

/* The standard 16-bit system-register encoding op0:op1:CRn:CRm:op2. */
static uint32_t sysreg_key(const uc_arm64_cp_reg *r)
{
    return (r->op0 << 14) | (r->op1 << 11) | (r->crn << 7) | (r->crm << 3) | r->op2;
}

void sov_serve_sysreg(sov_state *st, uint32_t key, int read, int write)
{
    uint8_t bit = (uint8_t)(1u << (key & 7));
    if (read)
        st->sr_read_map[key >> 3] |= bit;
    else
        st->sr_read_map[key >> 3] &= (uint8_t)~bit;
    if (write)
        st->sr_write_map[key >> 3] |= bit;
    else
        st->sr_write_map[key >> 3] &= (uint8_t)~bit;
}

static int map_has(const uint8_t *map, uint32_t key)
{
    return (map[key >> 3] >> (key & 7)) & 1;
}

void sov_observe(sov_state *st, uint32_t key, int on)
{
    uint8_t bit = (uint8_t)(1u << (key & 7));
    if (on)
        st->observe_map[key >> 3] |= bit;
    else
        st->observe_map[key >> 3] &= (uint8_t)~bit;
}

/* Before calling Python from an instruction hook: let Python see counts as
 * of just before the instruction at PC (synced by unicorn before the
 * hook: translate-a64.c gen_hook_sys).  The block was counted whole on
 * entry, so hold back [pc, end) and its cost.  Returns PC. */
static uint64_t hold_back(sov_state *st, uc_engine *uc)
{
    uint64_t pc = 0;
    st->reg_read(uc, st->reg_pc, &pc);
    uint64_t end = st->blk_addr + st->blk_size;
    if (pc >= st->blk_addr && pc < end) {
        int64_t cons, opt;
        uint32_t kind;
        block_cost(st, st->blk_addr, (uint32_t)(pc - st->blk_addr), &cons, &opt, &kind);
        st->mid_insns = (end - pc) >> 2;
        st->mid_cons = st->blk_cons - cons;
        st->mid_opt = st->blk_opt - opt;
        st->mid_assumed = st->blk_assumed - (int64_t)(kind >> K_ASSUMED_SHIFT) * 1000;
    }
    st->in_sysreg = 1;
    return pc;
}

/* The exception level the instruction runs at (PSTATE.EL). */
static uint32_t current_el(sov_state *st, uc_engine *uc)
{
    uint64_t pstate = 0;
    st->reg_read(uc, st->reg_pstate, &pstate);
    return (uint32_t)((pstate >> 2) & 3);
}

static void release(sov_state *st)
{
    st->in_sysreg = 0;
    st->mid_insns = 0;
    st->mid_cons = st->mid_opt = st->mid_assumed = 0;
}

static uint32_t sysreg_hook(uc_engine *uc, int reg, const uc_arm64_cp_reg *cp, sov_state *st, int is_read)
{
    uint32_t key = sysreg_key(cp);
    int observed = !is_read && map_has(st->observe_map, key);
    int served = map_has(is_read ? st->sr_read_map : st->sr_write_map, key);
    if (!observed && !served)
        return 0; /* not ours: unicorn performs the native access */

    uint64_t pc = hold_back(st, uc);
    if (observed) /* the value about to be written; the hook runs before the access check */
        st->observe(key, cp->val, pc, current_el(st, uc));
    if (served) {
        if (is_read) {
            uint64_t v = st->sr_read(key);
            st->reg_write(uc, reg, &v); /* XZR destination: unicorn ignores it */
        } else {
            st->sr_write(key, cp->val);
        }
    }
    release(st);
    if (!served)
        return 0; /* observed only: the native write happens now */

    /* Returning 1 skips the native access.  If the MRS/MSR ends its block
     * (an UNDEF register such as Apple's S3_x_C15, or one that ends the TB)
     * nothing after it sets PC and the instruction would repeat forever,
     * so advance PC.  In the middle of a block the block carries on by
     * itself and PC must be left alone: writing it makes unicorn leave the
     * block at the next boundary (quit_request) for nothing. */
    uint64_t end = st->blk_addr + st->blk_size;
    if (pc + 4 == end) {
        uint64_t next = pc + 4;
        st->reg_write(uc, st->reg_pc, &next);
    }
    return 1;
}

uint32_t sov_mrs_hook(uc_engine *uc, int reg, const uc_arm64_cp_reg *cp, void *user)
{
    return sysreg_hook(uc, reg, cp, user, 1);
}

uint32_t sov_msr_hook(uc_engine *uc, int reg, const uc_arm64_cp_reg *cp, void *user)
{
    return sysreg_hook(uc, reg, cp, user, 0);
}

/* SYS (op0 = 1: TLBI, DC, IC, AT): observed encodings only, and always
 * return 0 so the native operation still runs (unicorn must flush its own
 * TLB on a TLBI).  cp->val is Xt (op_helper.c HELPER(uc_hooksys64)). */
uint32_t sov_sys_hook(uc_engine *uc, int reg, const uc_arm64_cp_reg *cp, void *user)
{
    sov_state *st = user;
    uint32_t key = sysreg_key(cp);
    (void)reg;
    if (!map_has(st->observe_map, key))
        return 0;
    uint64_t pc = hold_back(st, uc);
    st->observe(key, cp->val, pc, current_el(st, uc));
    release(st);
    return 0;
}

/* ---- memory comparison for checkers (harness/machine/mmu_rules.py) ----
 *
 * For each of n regions (at most 16 KiB each): read it from guest
 * physical memory and compare it with its shadow copy.  changed[i] = 0
 * (same), 1 (different) or 2 (unreadable).  Returns how many are not 0.
 * One call per checkpoint instead of one Python round trip per table. */
int sov_compare_regions(uc_engine *uc, void *mem_read_ptr, uint32_t n, const uint64_t *addr,
                        const uint32_t *size, const uint8_t *const *shadow, uint8_t *changed)
{
    uc_mem_read_fn mem_read = (uc_mem_read_fn)mem_read_ptr;
    uint8_t buf[16384];
    int count = 0;
    for (uint32_t i = 0; i < n; i++) {
        size_t sz = size[i] > sizeof buf ? sizeof buf : size[i];
        if (mem_read(uc, addr[i], buf, sz))
            changed[i] = 2;
        else
            changed[i] = memcmp(buf, shadow[i], sz) != 0;
        count += changed[i] != 0;
    }
    return count;
}

/* Register the four hooks on uc (from C, so the variadic uc_hook_add is
 * called with the platform's varargs convention: ctypes cannot do that
 * portably, e.g. on arm64 macOS). Returns 0 or the first uc_err.  MRS,
 * MSR and SYS are distinct UC_HOOK_INSN types, so each instruction finds
 * exactly one of these (handle_sys takes only the first match). */
int sov_attach(sov_state *st, uc_engine *uc, void *hook_add_ptr, uc_hook *hooks)
{
    uc_hook_add_fn hook_add = (uc_hook_add_fn)hook_add_ptr;
    int err = hook_add(uc, &hooks[0], UC_HOOK_BLOCK, (void *)sov_block_hook, st, (uint64_t)1, (uint64_t)0);
    if (!err)
        err = hook_add(uc, &hooks[1], UC_HOOK_INSN, (void *)sov_mrs_hook, st, (uint64_t)1, (uint64_t)0,
                       (int)UC_ARM64_INS_MRS);
    if (!err)
        err = hook_add(uc, &hooks[2], UC_HOOK_INSN, (void *)sov_msr_hook, st, (uint64_t)1, (uint64_t)0,
                       (int)UC_ARM64_INS_MSR);
    if (!err)
        err = hook_add(uc, &hooks[3], UC_HOOK_INSN, (void *)sov_sys_hook, st, (uint64_t)1, (uint64_t)0,
                       (int)UC_ARM64_INS_SYS);
    return err;
}
