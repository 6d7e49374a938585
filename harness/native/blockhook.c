/*
 * Native hooks for the emulated M3 CPU (harness/machine/cpu.py).
 *
 * Why C: a Python UC_HOOK_BLOCK runs at 10-40 M instructions/s, a C one at
 * hundreds of M/s (shared/spec/emulation.md).  This file keeps the exact
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
#define UC_ARM64_INS_MRS 1
#define UC_ARM64_INS_MSR 2
#define UC_ARM64_INS_SYS 3

typedef struct {
    uint32_t crn, crm, op0, op1, op2;
    uint64_t val;
} uc_arm64_cp_reg;

/* Python callbacks (ctypes CFUNCTYPE). */
typedef int (*boundary_fn)(uint64_t addr, uint32_t size);
typedef void (*cost_fn)(uint64_t addr, uint32_t size, int64_t *cons, int64_t *opt_x1000);
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
} cost_entry;

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

void sov_free(sov_state *st)
{
    if (st) {
        free(st->table);
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

static void table_put(sov_state *st, uint64_t addr, uint32_t size, int64_t cons, int64_t opt)
{
    uint64_t i = slot_of(st, addr, size);
    while (st->table[i].used && !(st->table[i].addr == addr && st->table[i].size == size))
        i = (i + 1) & st->table_mask;
    if (!st->table[i].used)
        st->table_used++;
    st->table[i] = (cost_entry){addr, size, 1, cons, opt};
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
            table_put(st, e->addr, e->size, e->cons, e->opt);
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

static void block_cost(sov_state *st, uint64_t addr, uint32_t size, int64_t *cons, int64_t *opt)
{
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
            return;
        }
        i = (i + 1) & st->table_mask;
    }
    *cons = (int64_t)(size >> 2);
    *opt = *cons * 1000;
    st->cost(addr, size, cons, opt);
    if ((st->table_used + 1) * 2 > st->table_mask + 1)
        table_rebuild(st, (st->table_mask + 1) * 2, 0, 0);
    table_put(st, addr, size, *cons, *opt);
}

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
    block_cost(st, addr, size, &cons, &opt);
    st->instructions += size >> 2;
    st->cycles_cons += cons;
    st->cycles_opt += opt;
    st->blk_addr = addr;
    st->blk_size = size;
    st->blk_cons = cons;
    st->blk_opt = opt;
}

/* The current block was left at pc (pc itself not retired): take back the
 * instructions from pc to its end, and re-cost the executed prefix. */
void sov_uncount(sov_state *st, uint64_t pc)
{
    uint64_t end = st->blk_addr + st->blk_size;
    if (st->blk_size == 0 || pc < st->blk_addr || pc >= end)
        return;
    int64_t cons, opt;
    block_cost(st, st->blk_addr, (uint32_t)(pc - st->blk_addr), &cons, &opt);
    st->instructions -= (end - pc) >> 2;
    st->cycles_cons += cons - st->blk_cons;
    st->cycles_opt += opt - st->blk_opt;
    st->blk_size = (uint32_t)(pc - st->blk_addr);
    st->blk_cons = cons;
    st->blk_opt = opt;
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
        block_cost(st, st->blk_addr, (uint32_t)(pc - st->blk_addr), &cons, &opt);
        st->mid_insns = (end - pc) >> 2;
        st->mid_cons = st->blk_cons - cons;
        st->mid_opt = st->blk_opt - opt;
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
    st->mid_cons = st->mid_opt = 0;
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
