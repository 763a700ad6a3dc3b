//! Keeping freed memory in the process between certified steps.
//!
//! A certified step allocates and frees large tensors: a this-run step of `bench_mlp`'s
//! 784-512-512-10 MLP holds about 35 MiB more than the runtime step at its peak (`Ball`
//! enclosures are 16 bytes per entry), an any-implementation step more. glibc's `malloc` gives
//! large freed blocks back to the kernel (blocks above its *mmap threshold* are unmapped, and
//! the top of the heap is trimmed once more than twice that threshold is free), so the next
//! step maps the same memory again and the kernel zeroes every page on first touch. On the
//! measurement VM that cost about 2 µs per 4 KiB page — a third of a this-run step — while the
//! runtime step, whose tensors fit under the threshold, hardly paid it.
//!
//! [`retain_freed_memory`] turns that off for the rest of the process, the way `mallopt(3)`
//! documents: glibc raises its (dynamic) mmap threshold to the size of a freed mapped block,
//! up to 32 MiB, and its trim threshold to twice that. It is opt-in because it is
//! process-wide: afterwards up to about 62 MiB of freed memory stays in the process for the
//! next allocation. The benchmarks call it (and say so); a training loop that certifies every
//! step should too. With another allocator (or off glibc) it does nothing.

/// The block whose release raises glibc's thresholds: the largest that glibc's dynamic
/// threshold still follows (`DEFAULT_MMAP_THRESHOLD_MAX` is 32 MiB on 64-bit targets, and the
/// chunk header and page rounding must stay within it).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const BLOCK: usize = 31 << 20;

/// Keep freed memory in the process (glibc): afterwards `malloc` maps blocks only above 31 MiB
/// and trims the heap only when more than 62 MiB of it is free, so repeated certified steps
/// reuse their pages instead of faulting fresh zeroed ones in every step. Idempotent; a no-op
/// off glibc. Same effect as running under
/// `GLIBC_TUNABLES=glibc.malloc.mmap_threshold=32505856:glibc.malloc.trim_threshold=65011712`.
///
/// ```
/// scale_core::memory::retain_freed_memory();
/// // ... certify one step after another: freed tensors stay in the process for the next.
/// ```
pub fn retain_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // Never touched, so never faulted in: glibc maps it and, on release, unmaps it and
            // raises its thresholds to its size. `black_box` keeps the optimiser from eliding
            // the allocation.
            let block: Vec<u8> = Vec::with_capacity(BLOCK);
            drop(std::hint::black_box(block));
        });
    }
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    /// Minor page faults of the calling thread so far (`/proc/thread-self/stat`, field 10).
    fn minor_faults() -> u64 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("procfs");
        // Fields after the command name (which may hold spaces) start at field 3.
        let rest = &stat[stat.rfind(')').expect("stat format") + 1..];
        rest.split_whitespace()
            .nth(7)
            .and_then(|f| f.parse().ok())
            .expect("minflt")
    }

    /// One certified step's pattern: several large tensors live at once, then all freed.
    /// Returns the pages faulted in.
    fn step() -> u64 {
        let before = minor_faults();
        let blocks: Vec<Vec<u8>> = (0..8).map(|i| vec![i as u8 + 1; 4 << 20]).collect();
        std::hint::black_box(&blocks);
        drop(blocks);
        minor_faults() - before
    }

    /// 32 MiB freed at once exceeds the trim threshold glibc would reach by itself (twice the
    /// largest block, 8 MiB): without the call every step would fault its 8192 pages again.
    #[test]
    fn freed_blocks_are_reused_without_faults() {
        super::retain_freed_memory();
        super::retain_freed_memory();
        let first = step();
        let (second, third) = (step(), step());
        assert!(first >= 4096, "the first step faults its pages in: {first}");
        assert!(
            second.max(third) < first / 10,
            "later steps reuse them: {first} then {second}, {third}"
        );
    }
}
