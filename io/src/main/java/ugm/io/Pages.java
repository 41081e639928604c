package ugm.io;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * Faults in the pages of a file mapping ahead of the engine ({@code madvise(MADV_POPULATE_READ)}),
 * and drops them from this process's resident set once the engine is done with them
 * ({@code madvise(MADV_DONTNEED)}). On a shared file mapping that loses nothing: the
 * data stay in the page cache (dirty pages are still written back) and a later access faults
 * them in again. Without it, a merge that touches every page of 100 GB of inputs would show
 * 100 GB of RSS. Linux only; elsewhere, and without native access, it does nothing.
 */
final class Pages {
    private static final int MADV_DONTNEED = 4;
    private static final int MADV_POPULATE_READ = 22;
    private static final long PAGE = 4096;
    private static final MethodHandle MADVISE = Libc.call("madvise",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));

    private Pages() {
    }

    /** Whether the hints reach the kernel (Linux with native access); elsewhere both calls do nothing. */
    static boolean available() {
        return MADVISE != null;
    }

    /**
     * Faults in the pages of [start, end) ({@code madvise(MADV_POPULATE_READ)}, Linux 5.14+), waiting
     * for the reads: the kernel's own read path, with its read-ahead and large pages, only ahead
     * of the engine. A range beyond the end of its file (truncated underneath) gives an error
     * instead of a signal; errors are ignored here (a hint: the pages are read when touched).
     */
    static void populate(long start, long end) {
        advise(start, end, MADV_POPULATE_READ);
    }

    /** {@link #release(MemorySegment)} of each range, ranges that touch taken as one. */
    static void release(List<MemorySegment> ranges) {
        for (long[] s : spans(ranges, false)) {
            advise((s[0] + PAGE - 1) & -PAGE, s[1] & -PAGE, MADV_DONTNEED);
        }
    }

    /**
     * The native ranges as [start, end) spans sorted by address, those that touch merged (so the
     * disk sees few large reads); rounded out to whole pages if asked, which lie in the same mappings.
     */
    static long[][] spans(List<MemorySegment> ranges, boolean pagesOut) {
        long[][] spans = ranges.stream().filter(MemorySegment::isNative).map(m -> pagesOut
                ? new long[] {m.address() & -PAGE, (m.address() + m.byteSize() + PAGE - 1) & -PAGE}
                : new long[] {m.address(), m.address() + m.byteSize()}).sorted(Comparator.comparingLong(s -> s[0]))
                .toArray(long[][]::new);
        int n = 0;
        for (long[] s : spans) {
            if (n > 0 && s[0] <= spans[n - 1][1]) {
                spans[n - 1][1] = Math.max(spans[n - 1][1], s[1]);
            } else {
                spans[n++] = s;
            }
        }
        return Arrays.copyOf(spans, n);
    }

    /**
     * Releases the whole pages inside {@code mapped}, which must be part of a shared file
     * mapping (never anonymous memory: there MADV_DONTNEED discards the data).
     */
    static void release(MemorySegment mapped) {
        if (mapped.isNative()) {
            advise((mapped.address() + PAGE - 1) & -PAGE, (mapped.address() + mapped.byteSize()) & -PAGE, MADV_DONTNEED);
        }
    }

    private static void advise(long start, long end, int advice) {
        if (MADVISE == null || end <= start) {
            return;
        }
        try {
            int rc = (int) MADVISE.invokeExact(start, end - start, advice);
            assert rc == 0 || rc == -1; // a hint: failure only means the pages are read when touched, or stay resident
        } catch (Throwable e) {
            // a hint only
        }
    }
}
