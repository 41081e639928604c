package ugm.io;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Drops the pages of a file mapping from this process's resident set once the engine is done
 * with them ({@code madvise(MADV_DONTNEED)}). On a shared file mapping that loses nothing: the
 * data stay in the page cache (dirty pages are still written back) and a later access faults
 * them in again. Without it, a merge that touches every page of 100 GB of inputs would show
 * 100 GB of RSS. Linux only; elsewhere, and without native access, it does nothing.
 */
final class Pages {
    private static final int MADV_DONTNEED = 4;
    private static final long PAGE = 4096;
    private static final MethodHandle MADVISE = Libc.call("madvise",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));

    private Pages() {
    }

    /**
     * Releases the whole pages inside {@code mapped}, which must be part of a shared file
     * mapping (never anonymous memory: there MADV_DONTNEED discards the data).
     */
    static void release(MemorySegment mapped) {
        if (MADVISE == null || !mapped.isNative()) {
            return;
        }
        long start = (mapped.address() + PAGE - 1) & -PAGE;
        long end = (mapped.address() + mapped.byteSize()) & -PAGE;
        if (end > start) {
            try {
                int rc = (int) MADVISE.invokeExact(start, end - start, MADV_DONTNEED);
                assert rc == 0 || rc == -1; // a hint: failure only means the pages stay resident
            } catch (Throwable e) {
                // a hint only
            }
        }
    }
}
