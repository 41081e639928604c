package ugm.io;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import ugm.core.exec.Prefetch;

/**
 * The {@link Prefetch} for memory-mapped inputs and outputs: the ranges the workers reach next
 * are faulted in by a few daemon threads, {@code ugm-readahead} ({@code madvise(MADV_POPULATE_READ)},
 * span after span, as the workers will take them, so the reads are in flight while the workers
 * compute); the ranges they are done with leave the resident set ({@code madvise(MADV_DONTNEED)};
 * their data stay in the page cache, and dirty pages are still written).
 * {@code MADV_WILLNEED} was measured slower: its read-ahead brings files in as small pages, which
 * costs the workers more CPU than the kernel's own read path. Only segments of file mappings get hints (every mapping in io is
 * shared); any other memory is passed over: heap arrays, and anonymous native memory, which
 * DONTNEED would discard.
 */
public final class MappedPrefetch implements Prefetch {
    private static final MappedPrefetch INSTANCE = new MappedPrefetch();
    private static final int THREADS = 4;
    /** Spans waiting to be read at most: about a window's worth (a quarter-window step is a span per input). */
    private static final int PENDING = 32;
    /**
     * Reads ahead, span by span in the order asked, on a few daemon threads (never keeping the
     * JVM up): each populate waits for its reads, so several keep the device busy. Measured on a
     * 30 GB family read cold: with the kernel's read-ahead at 128 KB (a common default) four
     * threads made the merge 0.87x as long as none (53-57 s against 60-66 s); at 8 MB all ran
     * within the noise. When the readers fall behind, the oldest hints are dropped: a span
     * populated after the workers released it would stay in the resident set (one thread did
     * fall behind: 3.2-3.4 GB resident).
     */
    private static final Executor READER = new ThreadPoolExecutor(THREADS, THREADS, 0, TimeUnit.SECONDS,
            new ArrayBlockingQueue<>(PENDING), task -> Thread.ofPlatform().daemon().name("ugm-readahead").unstarted(task),
            new ThreadPoolExecutor.DiscardOldestPolicy());

    private MappedPrefetch() {
    }

    /** The prefetch for mapped files, or {@link Prefetch#NONE} where the kernel cannot be told (not Linux, no native access). */
    public static Prefetch of() {
        return Pages.available() ? INSTANCE : Prefetch.NONE;
    }

    @Override
    public void willNeed(List<MemorySegment> ranges) {
        long[][] spans = Pages.spans(mapped(ranges), true);
        for (long[] span : spans) {
            READER.execute(() -> Pages.populate(span[0], span[1]));
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
