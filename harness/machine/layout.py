"""Where things lie in the emulated M3's physical memory at the hand-over.

Real machines, not a convenient one:
- usable RAM [phys_base, phys_base + mem_size) does not start at the DRAM
  base and is not 32 MiB aligned (an M1 boot log shows phys_base
  0x819b34000: DRAM_BASE + 0x19b34000); what lies around it is
  coprocessor, SEP and TZ carveouts that m1n1 keeps unmapped (src/mcc.c
  mcc_unmap_carveouts): the emulated machine does not map them at all, so
  touching one stops the run, and the kernel must not map them as Normal
  memory (harness/machine/mmu_rules.py checks);
- the framebuffer either stays where iBoot put it, above usable RAM
  ("outside"), or m1n1 moves it to the top of usable RAM
  (src/utils.c top_of_memory_alloc: mem_size shrinks by the framebuffer
  and a 16 KiB guard page below it, src/display.c) ("top"), so it sits
  right above the last usable page, in the same 32 MiB block;
- the ADT iBoot built stays where it is (chainload.py only rewrites it in
  place: u.push_adt()), inside usable RAM below the image;
- m1n1 loads the image at its own base, above phys_base, and puts the
  4 zero bytes, SEPFW, preoslog and boot_args after it (harness/bootargs.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from harness import bootargs

PAGE = 0x4000
DEFAULT_PHYS_OFFSET = 0x19B3_4000          # phys_base - DRAM base, from the M1 boot log above
DEFAULT_LOAD_OFFSET = 0x20_4000            # image base - phys_base: 16 KiB aligned, not 32 MiB
ADT_OFFSET = 0x4000                        # the ADT's place above phys_base (below the image)
VIRT_BASE = 0xFFFF_FE00_1000_0000          # XNU's kernel virtual base: boot_args.virt_base


class LayoutError(ValueError):
    """A configuration no m1n1 hand-over could produce."""


def align_up(v: int, a: int = PAGE) -> int:
    return -(-v // a) * a


@dataclass(frozen=True)
class Layout:
    dram_base: int
    dram_size: int
    phys_base: int
    mem_size: int                  # boot_args.mem_size (after m1n1 took the framebuffer, if it did)
    fb: bootargs.Video
    fb_size: int                   # whole pages
    fb_placement: str
    adt_base: int
    load_base: int

    @property
    def mem_end(self) -> int:
        return self.phys_base + self.mem_size

    @property
    def dram_end(self) -> int:
        return self.dram_base + self.dram_size

    @property
    def fb_end(self) -> int:
        return self.fb.base + self.fb_size

    def carveouts(self) -> list[tuple[int, int]]:
        """Everything of DRAM that is neither usable RAM nor the framebuffer."""
        out, at = [], self.dram_base
        for lo, hi in sorted([(self.phys_base, self.mem_end), (self.fb.base, self.fb_end)]):
            if lo > at:
                out.append((at, lo - at))
            at = max(at, hi)
        if at < self.dram_end:
            out.append((at, self.dram_end - at))
        return out

    def normal_ranges(self) -> list[tuple[int, int]]:
        """[lo, hi) that may be mapped as Normal memory: usable RAM, the framebuffer."""
        return [(self.phys_base, self.mem_end), (self.fb.base, self.fb_end)]

    def devtree_va(self) -> int:
        return self.adt_base - self.phys_base + VIRT_BASE


def plan(dram_base: int, dram_size: int, phys_offset: int, mem_size: int, video: bootargs.Video,
         fb_placement: str, load_base: int | None, image_size: int) -> Layout:
    """The layout for one configuration, checked as m1n1 would leave it."""
    for name, v in (("phys offset", phys_offset), ("memory size", mem_size), ("DRAM size", dram_size)):
        if v < 0 or v % PAGE:
            raise LayoutError(f"{name} {v:#x} must be a non-negative multiple of 16 KiB")
    if mem_size < 64 << 20:
        raise LayoutError(f"memory size {mem_size:#x}: at least 64 MiB of usable RAM")
    phys_base = dram_base + phys_offset
    fb_size = align_up(video.stride * video.height)
    if fb_placement == "top":
        # m1n1 src/utils.c top_of_memory_alloc: mem_size -= fb, then -= a 16 KiB guard
        fb_base = phys_base + mem_size + PAGE
        top = fb_base + fb_size
    elif fb_placement == "outside":
        # iBoot's own: above usable RAM with carveouts in between (placement ours)
        fb_base = align_up(phys_base + mem_size + (64 << 20), 1 << 25)
        top = fb_base + fb_size
    else:
        raise LayoutError(f"framebuffer placement {fb_placement!r}: 'top' (m1n1 moved it) or 'outside'")
    if top > dram_base + dram_size:
        raise LayoutError(f"DRAM size {dram_size:#x} ends below usable RAM and the framebuffer "
                          f"(they reach {top:#x})")
    if load_base is None:
        load_base = phys_base + DEFAULT_LOAD_OFFSET
    if load_base % PAGE:
        raise LayoutError(f"load base {load_base:#x} must be 16 KiB aligned")
    adt_base = phys_base + ADT_OFFSET
    if load_base < adt_base + PAGE:
        raise LayoutError(f"load base {load_base:#x} must lie in usable RAM above the ADT "
                          f"(from {adt_base + PAGE:#x}; usable RAM starts at {phys_base:#x})")
    after = bootargs.layout_after_image(load_base, image_size)
    if after.top_of_kernel_data + (64 << 20) > phys_base + mem_size:
        raise LayoutError(f"memory size {mem_size:#x} leaves no room above the image at {load_base:#x}")
    return Layout(dram_base, dram_size, phys_base, mem_size, video._replace(base=fb_base), fb_size,
                  fb_placement, adt_base, load_base)
