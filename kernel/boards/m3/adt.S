/*
 * The Apple Device Tree (ADT): the tree iBoot builds and m1n1 hands over
 * in boot_args.devtree (a virtual address: physical = devtree - virt_base
 * + phys_base, as XNU computes it).  Everything board m3 knows about the
 * machine (console UART, AIC, watchdog, PMGR, the cores, the chip) comes
 * from here: nothing is assumed per chip.
 *
 * Format (m1n1 proxyclient/m1n1/adt.py, rust/src/adt.rs): little endian;
 * a node is u32 property count, u32 child count, its properties, then its
 * children; a property is a 32-byte NUL-padded name, a u32 size (bit 31 a
 * flag, masked off), the value, zero padding to 4 bytes.  Every node has
 * a "name" property.  Multi-cell numbers in reg/ranges: low word first.
 *
 * Every read is checked against the tree's bounds (adt_lo .. adt_hi, set
 * by adt_init): a malformed or truncated tree makes a lookup fail with 0,
 * never a read outside it.  m1n1's sanity limits hold too: at most 2048
 * properties (at least one) and 2048 children per node.
 *
 * Runs with the MMU off (boot) or on (the Forth words in
 * kernel/boards/m3/words.inc).  No allocation; the boot stack is enough for the
 * recursion (ADT_MAX_DEPTH frames of 32 bytes).
 */
#include "macros.inc"
#include BOARD_INC

#define ADT_MAX_COUNT   2048
#define ADT_MAX_DEPTH   16
#define ADT_TRACE_MAX   8               /* path components adt_find keeps */
#define PROP_HDR        36              /* name[32] + size */

    .text

/* adt_init ( x0 = tree, x1 = size -- x0 = root or 0 ): the bounds every
   later lookup checks; 0 if the tree cannot even hold its root header.
   Clobbers x0-x3. */
    .globl adt_init
adt_init:
    ladr    x2, adt_bounds
    add     x3, x0, x1
    stp     x0, x3, [x2]
    cmp     x1, #8
    b.lo    1f
    tst     x0, #3
    b.ne    1f
    ret
1:  stp     xzr, xzr, [x2]
    mov     x0, #0
    ret

/*
 * adt_node_check ( x0 = node -- x1 = first property, x2 = property count,
 * x3 = child count; Z clear if the header is sane ): 0 in x1 and Z set
 * when the node's header lies outside the tree or its counts are out of
 * range.  Clobbers x1-x5.
 */
adt_node_check:
    ladr    x4, adt_bounds
    ldp     x4, x5, [x4]
    cmp     x0, x4
    b.lo    9f
    add     x1, x0, #8
    cmp     x1, x5
    b.hi    9f
    ldp     w2, w3, [x0]
    cbz     w2, 9f
    cmp     w2, #ADT_MAX_COUNT
    b.hi    9f
    cmp     w3, #ADT_MAX_COUNT
    b.hi    9f
    cmp     x1, #0                      /* Z clear: fine */
    ret
9:  mov     x1, #0
    cmp     x1, #0                      /* Z set: bad */
    ret

/* adt_node_props ( x0 = node -- x0 = its first property or 0, x1 = how
   many ).  Clobbers x0-x6. */
    .globl adt_node_props
adt_node_props:
    mov     x6, x30
    bl      adt_node_check
    mov     x0, x1
    mov     x1, x2
    b.ne    1f
    mov     x1, #0
1:  ret     x6

/*
 * adt_prop_next ( x1 = property -- x1 = the one after it, or 0 when this
 * one does not fit in the tree; x6 = its value length ).  Clobbers x4-x6.
 */
    .globl adt_prop_next
adt_prop_next:
    ladr    x4, adt_bounds
    ldr     x5, [x4, #8]
    add     x4, x1, #PROP_HDR
    cmp     x4, x5
    b.hi    9f
    ldr     w6, [x1, #32]
    and     w6, w6, #0x7fffffff
    add     x4, x4, x6
    cmp     x4, x5
    b.hi    9f
    add     x4, x4, #3
    and     x1, x4, #~3
    ret
9:  mov     x1, #0
    ret

/*
 * adt_node_end ( x0 = node -- x0 = the first byte after the node and its
 * whole subtree, or 0 if any of it is malformed or nests deeper than
 * ADT_MAX_DEPTH ).  Recursive on SP.  Clobbers x0-x7.
 */
    .globl adt_node_end
adt_node_end:
    mov     x7, #ADT_MAX_DEPTH
adt_node_end_depth:
    cbz     x7, 8f
    stp     x29, x30, [sp, #-32]!
    bl      adt_node_check
    b.eq    9f
1:  bl      adt_prop_next               /* skip the properties */
    cbz     x1, 9f
    subs    w2, w2, #1
    b.ne    1b
    mov     x0, x1
    cbz     w3, 3f
    sub     x7, x7, #1
2:  str     x3, [sp, #16]
    bl      adt_node_end_depth          /* skip each child's subtree */
    cbz     x0, 9f
    ldr     x3, [sp, #16]
    subs    w3, w3, #1
    b.ne    2b
    add     x7, x7, #1
3:  ldp     x29, x30, [sp], #32
    ret
9:  ldp     x29, x30, [sp], #32
8:  mov     x0, #0
    ret

/*
 * adt_getprop ( x0 = node, x1 = name (NUL-terminated) -- x0 = value or 0,
 * x1 = its length ).  Clobbers x0-x11.
 */
    .globl adt_getprop
adt_getprop:
    mov     x11, x30
    mov     x8, x1
    bl      adt_node_check
    b.eq    9f
1:  mov     x9, x1                      /* this property */
    bl      adt_prop_next               /* in bounds? (x6 = its length) */
    cbz     x1, 9f
    mov     x10, #0                     /* compare the names, at most 32 bytes */
2:  ldrb    w4, [x9, x10]
    ldrb    w5, [x8, x10]
    cmp     w4, w5
    b.ne    3f
    cbz     w4, 4f                      /* both ended: found */
    add     x10, x10, #1
    cmp     x10, #32
    b.lo    2b
    ldrb    w5, [x8, x10]               /* a 32-byte name: ours must end too */
    cbz     w5, 4f
3:  subs    w2, w2, #1
    b.ne    1b
9:  mov     x0, #0
    mov     x1, #0
    ret     x11
4:  add     x0, x9, #PROP_HDR
    mov     x1, x6
    ret     x11

/*
 * adt_name_is ( x0 = node, x1 = component start, x2 = its length -- Z set
 * if the node's "name" is that component, or that component followed by
 * "@..." ).  Clobbers x0-x13.
 */
adt_name_is:
    mov     x13, x30
    mov     x12, x1
    stp     x2, x3, [sp, #-16]!
    ladr    x1, str_name
    bl      adt_getprop
    ldp     x2, x3, [sp], #16
    cbz     x0, 8f
    cmp     x1, x2                      /* the value must hold the component and a NUL */
    b.ls    8f
    mov     x4, #0
1:  cmp     x4, x2
    b.hs    2f
    ldrb    w5, [x0, x4]
    ldrb    w6, [x12, x4]
    cmp     w5, w6
    b.ne    8f
    add     x4, x4, #1
    b       1b
2:  ldrb    w5, [x0, x4]                /* after the component: NUL or '@' */
    cmp     w5, #'@'
    ccmp    w5, #0, #4, ne
    ret     x13                         /* Z as computed */
8:  mov     x4, #1
    cmp     x4, #0                      /* Z clear: no */
    ret     x13

/*
 * adt_child ( x0 = node, x1 = component, x2 = its length -- x0 = the
 * child of that name or 0 ).  Clobbers x0-x15.
 */
adt_child:
    mov     x15, x30
    mov     x14, x1
    stp     x2, x3, [sp, #-16]!
    bl      adt_node_check
    b.eq    9f
    mov     x0, x1
    cbz     w3, 9f
    mov     x10, x3                     /* children left (kept below) */
1:  bl      adt_prop_next               /* skip the parent's properties */
    cbz     x1, 9f
    subs    w2, w2, #1
    b.ne    1b
    mov     x0, x1                      /* the first child */
2:  str     x10, [sp, #8]
    str     x0, [sp, #-16]!
    mov     x1, x14
    ldr     x2, [sp, #16]
    bl      adt_name_is
    ldr     x0, [sp], #16
    b.eq    8f
    bl      adt_node_end                /* on to the next sibling */
    cbz     x0, 9f
    ldr     x10, [sp, #8]
    subs    x10, x10, #1
    b.ne    2b
9:  mov     x0, #0
8:  add     sp, sp, #16
    ret     x15

/*
 * adt_find ( x0 = path ("/arm-io/uart0", NUL-terminated) -- x0 = node or
 * 0 ).  The nodes on the way (root first) are kept in adt_trace, their
 * number in adt_depth, for adt_reg.  Clobbers x0-x17.
 */
    .globl adt_find
adt_find:
    mov     x17, x30
    mov     x16, x0                     /* cursor in the path */
    ladr    x0, adt_bounds
    ldr     x0, [x0]                    /* the root */
    cbz     x0, 9f
    ladr    x1, adt_trace
    str     x0, [x1]
    mov     x2, #1
    str     x2, [x1, #(ADT_TRACE_MAX * 8)]   /* adt_depth */
1:  ldrb    w2, [x16]
    cmp     w2, #'/'
    b.ne    2f
    add     x16, x16, #1
    b       1b
2:  cbz     w2, 8f                      /* end of the path: found */
    mov     x3, x16                     /* the component: up to '/' or NUL */
3:  ldrb    w2, [x3]
    cbz     w2, 4f
    cmp     w2, #'/'
    b.eq    4f
    add     x3, x3, #1
    b       3b
4:  sub     x2, x3, x16
    mov     x1, x16
    mov     x16, x3
    bl      adt_child
    cbz     x0, 9f
    ladr    x1, adt_trace
    ldr     x2, [x1, #(ADT_TRACE_MAX * 8)]
    cmp     x2, #ADT_TRACE_MAX
    b.hs    9f
    str     x0, [x1, x2, lsl #3]
    add     x2, x2, #1
    str     x2, [x1, #(ADT_TRACE_MAX * 8)]
    b       1b
8:  ret     x17
9:  mov     x0, #0
    ret     x17

/*
 * adt_children ( x0 = node -- x0 = its first child or 0, x1 = the number
 * of children ); the next sibling of a child is adt_node_end of it.
 * Clobbers x0-x7.
 */
    .globl adt_children
adt_children:
    mov     x7, x30
    bl      adt_node_check
    b.eq    9f
    cbz     w3, 9f
    mov     x0, x3
    str     x0, [sp, #-16]!
1:  bl      adt_prop_next
    cbz     x1, 8f
    subs    w2, w2, #1
    b.ne    1b
    mov     x0, x1
    ldr     x1, [sp], #16
    ret     x7
8:  add     sp, sp, #16
9:  mov     x0, #0
    mov     x1, #0
    ret     x7

/* adt_cells ( x0 = node, x1 = "#address-cells" or "#size-cells" -- x0 =
   the count, 0-2, or -1 when missing or larger ).  Clobbers x0-x11. */
adt_cells:
    mov     x12, x30
    bl      adt_getprop
    cmp     x1, #4
    b.lo    9f
    ldr     w0, [x0]
    cmp     w0, #2
    b.hi    9f
    ret     x12
9:  mov     x0, #-1
    ret     x12

/* read_cells ( x0 = cells, x1 = count 0-2 -- x0 = value ) low word first.
   Clobbers x0, x2. */
read_cells:
    cbz     x1, 1f
    ldr     w2, [x0]
    cmp     x1, #1
    b.eq    2f
    ldr     w0, [x0, #4]
    orr     x0, x2, x0, lsl #32
    ret
1:  mov     x0, #0
    ret
2:  mov     x0, x2
    ret

/*
 * adt_reg ( x0 = index -- x0 = physical address, x1 = size, x2 = 0; or
 * x2 = -1 if the node has no such entry or an ancestor's "ranges" does not
 * hold it ): the index-th (address, size) of the "reg" of the node
 * adt_find found last, read with its parent's #address-cells and
 * #size-cells, then translated through every ancestor's "ranges" up to
 * the root (m1n1 rust/src/adt.rs get_reg_container walks the same way).
 * An ancestor without "ranges", or with an empty one, passes addresses
 * through unchanged.  Clobbers x0-x17 (x19-x23 are kept on the stack).
 */
    .globl adt_reg
adt_reg:
    stp     x19, x20, [sp, #-48]!
    stp     x21, x22, [sp, #16]
    stp     x23, x30, [sp, #32]
    mov     x22, x0                     /* the index */
    ladr    x21, adt_trace
    ldr     x20, [x21, #(ADT_TRACE_MAX * 8)]
    cmp     x20, #2                     /* a node and its parent at least */
    b.lo    9f
    sub     x20, x20, #1                /* x20: the node's place in the trace */
    sub     x0, x20, #1
    ldr     x19, [x21, x0, lsl #3]      /* its parent */
    mov     x0, x19
    ladr    x1, str_addr_cells
    bl      adt_cells
    cmp     x0, #1
    b.lt    9f
    mov     x16, x0                     /* address cells */
    mov     x0, x19
    ladr    x1, str_size_cells
    bl      adt_cells
    tbnz    x0, #63, 9f
    mov     x17, x0                     /* size cells */
    ldr     x0, [x21, x20, lsl #3]
    ladr    x1, str_reg
    bl      adt_getprop
    cbz     x0, 9f
    add     x2, x16, x17
    lsl     x2, x2, #2                  /* bytes per entry */
    madd    x3, x2, x22, x2             /* (index + 1) entries */
    cmp     x1, x3
    b.lo    9f
    madd    x13, x2, x22, x0            /* the entry */
    mov     x0, x13
    mov     x1, x16
    bl      read_cells
    mov     x15, x0                     /* x15: the address */
    add     x0, x13, x16, lsl #2
    mov     x1, x17
    bl      read_cells
    mov     x14, x0                     /* x14: the size */
    mov     x22, x16                    /* x22, x17: the cells at this level */
    /* up the trace: each bus translates what its children say */
1:  sub     x20, x20, #1
    cbz     x20, 8f                     /* the root: done */
    ldr     x19, [x21, x20, lsl #3]     /* the bus */
    sub     x0, x20, #1
    ldr     x0, [x21, x0, lsl #3]       /* its parent's cells */
    ladr    x1, str_addr_cells
    bl      adt_cells
    cmp     x0, #1
    b.lt    9f
    mov     x16, x0
    sub     x0, x20, #1
    ldr     x0, [x21, x0, lsl #3]
    ladr    x1, str_size_cells
    bl      adt_cells
    tbnz    x0, #63, 9f
    str     x0, [sp, #-16]!             /* the next level's size cells */
    mov     x0, x19
    ladr    x1, str_ranges
    bl      adt_getprop
    cbz     x0, 7f                      /* no ranges: unchanged from here up */
    cbz     x1, 5f                      /* empty ranges: identity at this bus */
    mov     x13, x0
    mov     x12, x1
    add     x10, x22, x16               /* bytes per range entry */
    add     x10, x10, x17
    lsl     x10, x10, #2
2:  cmp     x12, x10
    b.lo    6f                          /* no range holds it */
    mov     x0, x13
    mov     x1, x22
    bl      read_cells
    mov     x9, x0                      /* child base */
    add     x0, x13, x22, lsl #2
    mov     x1, x16
    bl      read_cells
    mov     x8, x0                      /* parent base */
    add     x0, x13, x22, lsl #2
    add     x0, x0, x16, lsl #2
    mov     x1, x17
    bl      read_cells                  /* range size */
    add     x13, x13, x10
    sub     x12, x12, x10
    subs    x2, x15, x9                 /* offset into the range */
    b.lo    2b
    add     x3, x2, x14
    cmp     x3, x0
    b.hi    2b                          /* it must fit whole */
    add     x15, x8, x2
5:  mov     x22, x16
    ldr     x17, [sp], #16
    b       1b
6:  add     sp, sp, #16
    b       9f
7:  add     sp, sp, #16
8:  mov     x0, x15
    mov     x1, x14
    mov     x2, #0
    b       1f
9:  mov     x0, #0
    mov     x1, #0
    mov     x2, #-1
1:  ldp     x21, x22, [sp, #16]
    ldp     x23, x30, [sp, #32]
    ldp     x19, x20, [sp], #48
    ret

/*
 * adt_compatible ( x0 = node, x1 = string -- x0 = 1 if one of the node's
 * "compatible" strings is exactly it ).  Clobbers x0-x13.
 */
    .globl adt_compatible
adt_compatible:
    mov     x13, x30
    mov     x7, x1
    ladr    x1, str_compatible
    bl      adt_getprop
    cbz     x0, 9f
    add     x1, x0, x1                  /* end of the list */
1:  cmp     x0, x1
    b.hs    9f
    mov     x2, #0                      /* compare one string */
2:  add     x3, x0, x2
    cmp     x3, x1
    b.hs    9f
    ldrb    w4, [x3]
    ldrb    w5, [x7, x2]
    cmp     w4, w5
    b.ne    3f
    cbz     w4, 8f
    add     x2, x2, #1
    b       2b
3:  add     x3, x0, x2                  /* skip to the next string */
4:  cmp     x3, x1
    b.hs    9f
    ldrb    w4, [x3], #1
    cbnz    w4, 4b
    mov     x0, x3
    b       1b
8:  mov     x0, #1
    ret     x13
9:  mov     x0, #0
    ret     x13

/* adt_u32 ( x0 = node, x1 = name -- x0 = the value, x1 = 0; or x1 = -1 when
   missing or shorter than 4 bytes ).  adt_u64 likewise, taking a 4-byte
   value too.  Clobbers x0-x11. */
    .globl adt_u32, adt_u64
adt_u32:
    mov     x12, x30
    bl      adt_getprop
    cmp     x1, #4
    b.lo    9f
    ldr     w0, [x0]
    mov     x1, #0
    ret     x12
adt_u64:
    mov     x12, x30
    bl      adt_getprop
    cmp     x1, #4
    b.lo    9f
    b.eq    1f
    cmp     x1, #8
    b.lo    9f
    ldr     w1, [x0, #4]
    ldr     w0, [x0]
    orr     x0, x0, x1, lsl #32
    mov     x1, #0
    ret     x12
1:  ldr     w0, [x0]
    mov     x1, #0
    ret     x12
9:  mov     x0, #0
    mov     x1, #-1
    ret     x12

    .section .rodata
str_name:           .asciz "name"
str_reg:            .asciz "reg"
str_ranges:         .asciz "ranges"
str_compatible:     .asciz "compatible"
str_addr_cells:     .asciz "#address-cells"
str_size_cells:     .asciz "#size-cells"

    .bss
    .balign 8
    .globl adt_bounds
adt_bounds: .quad 0, 0                  /* the tree: first byte, end */
adt_trace:  .space ADT_TRACE_MAX * 8    /* root .. node of the last adt_find */
adt_depth:  .quad 0
