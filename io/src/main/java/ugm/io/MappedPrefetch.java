package ugm.io;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import ugm.core.exec.Prefetch;

/**
 * The {@link Prefetch} for memory-mapped inputs and outputs: the ranges the workers reach next
 * are faulted in by one daemon thread, {@code ugm-readahead} ({@code madvise(MADV_POPULATE_READ)},
 * range after range, as the workers will take them, so the reads are in flight while the workers
 * compute); the ranges they are done with leave the resident set ({@code madvise(MADV_DONTNEED)};
 * their data stay in the page cache, and dirty pages are still written).
 * {@code MADV_WILLNEED} was measured slower: its read-ahead brings files in as small pages, which
 * costs the workers more CPU than the kernel's own read path. Only segments of file mappings get hints (every mapping in io is
 * shared); any other memory is passed over: heap arrays, and anonymous native memory, which
 * DONTNEED would discard.
 */
public final class MappedPrefetch implements Prefetch {
    private static final MappedPrefetch INSTANCE = new MappedPrefetch();
    /** Reads ahead, in the order asked; a daemon, so it never keeps the JVM up. */
    private static final Executor READER = Executors.newSingleThreadExecutor(
            task -> Thread.ofPlatform().daemon().name("ugm-readahead").unstarted(task));

    private MappedPrefetch() {
    }

    /** The prefetch for mapped files, or {@link Prefetch#NONE} where the kernel cannot be told (not Linux, no native access). */
    public static Prefetch of() {
        return Pages.available() ? INSTANCE : Prefetch.NONE;
    }

    @Override
    public void willNeed(List<MemorySegment> ranges) {
        long[][] spans = Pages.spans(mapped(ranges), true);
        if (spans.length > 0) {
            READER.execute(() -> Pages.populate(spans));
        }
    }

    @Override
    public void done(List<MemorySegment> ranges) {
        Pages.release(mapped(ranges));
    }

    private static List<MemorySegment> mapped(List<MemorySegment> ranges) {
        return ranges.stream().filter(MemorySegment::isMapped).toList();
    }
}
