package ugm.core.exec;

import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * Hints about the memory a run's jobs read and write ({@link ChunkExecutor.Job#memory()}): which
 * bytes the workers reach next, and which they are done with. For memory-mapped files these
 * become read-ahead and release of resident pages ({@code ugm.io.MappedPrefetch}); the bytes a
 * run computes never depend on them. Called from the worker threads, one call at a time.
 */
public interface Prefetch {

    /** No hints: what runs without a prefetch, and where hints cannot be given. */
    Prefetch NONE = new Prefetch() {
        @Override
        public void willNeed(List<MemorySegment> ranges) {
        }

        @Override
        public void done(List<MemorySegment> ranges) {
        }
    };

    /**
     * The workers will reach {@code ranges} soon, in about this order: start bringing them in,
     * without waiting. Ranges that touch may be taken as one.
     */
    void willNeed(List<MemorySegment> ranges);

    /** The workers are done with {@code ranges}: their pages may leave the resident set (their data are kept). */
    void done(List<MemorySegment> ranges);
}
