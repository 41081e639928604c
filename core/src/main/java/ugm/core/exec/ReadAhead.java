package ugm.core.exec;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The read-ahead window of one run. Workers take chunks in order from one cursor, so what they
 * reach next is known: the chunks after the cursor. Each job's chunks are taken to cover each of
 * its memory segments in proportion (chunk c of n covers bytes [c·size/n, (c+1)·size/n) of every
 * segment), and the run is laid out as one stream of bytes, job after job. The {@link Prefetch}
 * is told of the next {@code window} bytes of that stream ahead of the cursor, in steps of a
 * quarter window, and of every range below the lowest chunk still being worked on once all
 * workers are past it. Whatever a worker is on, at most a window's worth is advised and not yet
 * released.
 *
 * <p>Workers call {@link #taking} for each chunk they take and {@link #stopped} when they take
 * no more; the worker that finds the advised end less than three quarters of a window ahead
 * moves the window (one at a time; the others go on working, unless even their own chunk is not
 * advised yet: then they wait for their turn, so no chunk is reached before it is advised).
 */
final class ReadAhead {
    private final List<ChunkExecutor.Job> jobs;
    /** Global index of each job's first chunk; one more entry for the end. */
    private final long[] firstChunk;
    /** Position of each job's first byte in the run's stream; one more entry for the end. */
    private final long[] firstByte;
    private final long window;
    private final long step;
    private final Prefetch prefetch;
    /** The chunk each worker is on (0 before its first, Long.MAX_VALUE once it takes no more). */
    private final AtomicLongArray on;
    private final ReentrantLock moving = new ReentrantLock();
    /** Chunks [0, advised) have been advised (written under the lock, after the hints); the stream position of chunk {@code advised}. */
    private volatile long advised;
    private volatile long advisedByte;
    /** Chunks [0, released) have been released. */
    private long released;

    ReadAhead(List<ChunkExecutor.Job> jobs, long[] firstChunk, int workers, Prefetch prefetch, long window) {
        if (window <= 0) {
            throw new IllegalArgumentException("window " + window);
        }
        this.jobs = jobs;
        this.firstChunk = firstChunk;
        this.firstByte = new long[jobs.size() + 1];
        for (int j = 0; j < jobs.size(); j++) {
            firstByte[j + 1] = firstByte[j] + bytes(jobs.get(j));
        }
        this.window = window;
        this.step = Math.max(1, window / 4);
        this.prefetch = prefetch;
        this.on = new AtomicLongArray(workers);
    }

    private static long bytes(ChunkExecutor.Job job) {
        long sum = 0;
        for (MemorySegment m : job.memory()) {
            sum += m.byteSize();
        }
        return sum;
    }

    private long total() {
        return firstChunk[jobs.size()];
    }

    /** Advises the first window, before any worker starts. */
    void start() {
        moving.lock();
        try {
            move(0);
        } finally {
            moving.unlock();
        }
    }

    /**
     * Worker {@code worker} takes global chunk {@code g}, of job {@code job}. When the window needs
     * moving, the worker moves it, unless another one is at it; when even chunk g is not advised
     * yet (the workers overtook the window), it waits for its turn to move it.
     */
    void taking(int worker, long g, int job) {
        on.set(worker, g);
        if (advised >= total() || advisedByte - position(g, job) >= window - step) {
            return;
        }
        if (advised > g ? moving.tryLock() : lock()) {
            try {
                move(g);
            } finally {
                moving.unlock();
            }
        }
    }

    private boolean lock() {
        moving.lock();
        return true;
    }

    /** Worker {@code worker} takes no more chunks. */
    void stopped(int worker) {
        on.set(worker, Long.MAX_VALUE);
    }

    /** Advises up to a window past chunk g and releases what every worker is past. Under the lock. */
    private void move(long g) {
        long to = Math.min(total(), Math.max(g + 1, chunkAt(position(g, jobOf(g)) + window)));
        if (to > advised) {
            each(advised, to, true);
            advisedByte = position(to, jobOf(to));
            advised = to;
        }
        long low = g;
        for (int w = 0; w < on.length(); w++) {
            low = Math.min(low, on.get(w));
        }
        if (low > released) {
            each(released, low, false);
            released = low;
        }
    }

    /** Tells the prefetch of every segment's share of chunks [from, to): to be needed, or done. */
    private void each(long from, long to, boolean willNeed) {
        List<MemorySegment> ranges = new ArrayList<>();
        for (int j = jobOf(from); j < jobs.size() && firstChunk[j] < to; j++) {
            long n = jobs.get(j).chunks();
            long c0 = Math.max(from, firstChunk[j]) - firstChunk[j];
            long c1 = Math.min(to, firstChunk[j + 1]) - firstChunk[j];
            if (c1 <= c0) {
                continue;
            }
            for (MemorySegment m : jobs.get(j).memory()) {
                long size = m.byteSize();
                // Needed: rounded out, so nothing a chunk reads is left out. Done: rounded in,
                // so nothing a later chunk reads is let go.
                long lo = share(size, c0, n, false);
                long hi = share(size, c1, n, willNeed);
                if (hi > lo) {
                    ranges.add(m.asSlice(lo, hi - lo));
                }
            }
        }
        if (willNeed) {
            prefetch.willNeed(ranges);
        } else {
            prefetch.done(ranges);
        }
    }

    /** size·c/n, rounded down or up, without overflow (c ≤ n). */
    static long share(long size, long c, long n, boolean up) {
        long q = size / n;
        long r = size % n;
        long whole = q * c + r * c / n; // r·c < n², and n (chunks) is far below 2^31 in practice
        return up && (r * c) % n != 0 ? whole + 1 : whole;
    }

    /** The stream position of global chunk g (the end of the stream for g = total), g in job j. */
    private long position(long g, int j) {
        if (j >= jobs.size()) {
            return firstByte[jobs.size()];
        }
        long n = jobs.get(j).chunks();
        return firstByte[j] + (n == 0 ? 0 : share(firstByte[j + 1] - firstByte[j], g - firstChunk[j], n, false));
    }

    /** The first chunk whose stream position is at least {@code at}, or the total. */
    private long chunkAt(long at) {
        int j = jobOf(advised);
        while (j < jobs.size() && firstByte[j + 1] <= at) {
            j++;
        }
        if (j >= jobs.size()) {
            return total();
        }
        long size = firstByte[j + 1] - firstByte[j];
        long inJob = at - firstByte[j];
        if (inJob <= 0) {
            return firstChunk[j];
        }
        long c = (long) Math.ceil((double) inJob * jobs.get(j).chunks() / size); // (a hint: rounding does not matter)
        return firstChunk[j] + Math.min(c, jobs.get(j).chunks());
    }

    /** The job of global chunk g (the first job with chunks at or after g); jobs.size() for g = total. */
    private int jobOf(long g) {
        int j = 0;
        int hi = jobs.size();
        while (j < hi) { // the last job whose first chunk is at or before g, skipping empty ones
            int mid = (j + hi) >>> 1;
            if (firstChunk[mid + 1] <= g) {
                j = mid + 1;
            } else {
                hi = mid;
            }
        }
        return j;
    }
}
