package ugm.core.exec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import ugm.core.DType;
import ugm.core.TensorInfo;
import ugm.core.kernel.KernelPolicy;

/**
 * The read-ahead window against a prefetch that records what it is told: every chunk's bytes are
 * advised before a worker reaches them, no more than about a window is advised ahead, and only
 * what every worker is past is released.
 */
class ReadAheadTest {

    /** Records, per segment (one byte array each), which bytes were advised and which released. */
    static final class Recording implements Prefetch {
        final Map<byte[], boolean[]> advised = new IdentityHashMap<>();
        final Map<byte[], boolean[]> released = new IdentityHashMap<>();
        final AtomicInteger calls = new AtomicInteger();
        long advisedBytes;

        Recording(List<ChunkExecutor.Job> jobs) {
            for (ChunkExecutor.Job j : jobs) {
                for (MemorySegment m : j.memory()) {
                    byte[] a = array(m);
                    advised.put(a, new boolean[a.length]);
                    released.put(a, new boolean[a.length]);
                }
            }
        }

        static byte[] array(MemorySegment m) {
            return (byte[]) m.heapBase().orElseThrow();
        }

        @Override
        public synchronized void willNeed(List<MemorySegment> ranges) {
            calls.incrementAndGet();
            for (MemorySegment range : ranges) {
                advisedBytes += range.byteSize();
                mark(advised, range);
            }
        }

        @Override
        public synchronized void done(List<MemorySegment> ranges) {
            calls.incrementAndGet();
            for (MemorySegment range : ranges) {
                mark(released, range);
            }
        }

        static void mark(Map<byte[], boolean[]> marks, MemorySegment range) {
            boolean[] m = marks.get(array(range));
            for (long i = range.address(); i < range.address() + range.byteSize(); i++) { // (heap slices: address = offset)
                m[(int) i] = true;
            }
        }

        /** Whether every byte of the chunk's share of every segment is marked in {@code marks}. */
        synchronized boolean all(Map<byte[], boolean[]> marks, ChunkExecutor.Job job, long c) {
            return count(marks, job, c) == share(job, c);
        }

        /** Whether any byte of the chunk's share is marked. */
        synchronized boolean any(Map<byte[], boolean[]> marks, ChunkExecutor.Job job, long c) {
            return count(marks, job, c) > 0;
        }

        private long count(Map<byte[], boolean[]> marks, ChunkExecutor.Job job, long c) {
            long n = 0;
            for (MemorySegment m : job.memory()) {
                boolean[] b = marks.get(array(m));
                for (long i = lo(m, job, c); i < lo(m, job, c + 1); i++) {
                    n += b[(int) i] ? 1 : 0;
                }
            }
            return n;
        }

        synchronized long advisedNotReleased() {
            long n = 0;
            for (Map.Entry<byte[], boolean[]> e : advised.entrySet()) {
                boolean[] r = released.get(e.getKey());
                for (int i = 0; i < e.getValue().length; i++) {
                    n += e.getValue()[i] && !r[i] ? 1 : 0;
                }
            }
            return n;
        }
    }

    /** Chunk c's share of segment m, computed here independently: elements of c·size/n rounded down. */
    static long lo(MemorySegment m, ChunkExecutor.Job job, long c) {
        return (long) Math.floor((double) m.byteSize() * c / job.chunks());
    }

    static long share(ChunkExecutor.Job job, long c) {
        long n = 0;
        for (MemorySegment m : job.memory()) {
            n += lo(m, job, c + 1) - lo(m, job, c);
        }
        return n;
    }

    /** Jobs of the given chunk counts, each reading and writing segments of the given sizes. */
    static List<ChunkExecutor.Job> jobs(long[] chunks, int[]... sizes) {
        List<ChunkExecutor.Job> jobs = new ArrayList<>();
        for (int i = 0; i < chunks.length; i++) {
            List<MemorySegment> memory = new ArrayList<>();
            for (int size : sizes[i]) {
                memory.add(MemorySegment.ofArray(new byte[size]));
            }
            jobs.add(new ChunkExecutor.Job(new TensorInfo("t" + i, DType.F32, new long[] {1}), chunks[i], List.of(), memory));
        }
        return jobs;
    }

    static long[] firstChunks(List<ChunkExecutor.Job> jobs) {
        long[] first = new long[jobs.size() + 1];
        for (int i = 0; i < jobs.size(); i++) {
            first[i + 1] = first[i] + jobs.get(i).chunks();
        }
        return first;
    }

    static int jobOf(long[] first, long g) {
        int j = 0;
        while (first[j + 1] <= g) {
            j++;
        }
        return j;
    }

    @Test
    void eachChunkIsAdvisedBeforeItIsReachedAndLittleMoreThanAWindowIsAhead() {
        // Jobs of unequal sizes, one without chunks, segments of odd sizes (a reader of another width, an output).
        List<ChunkExecutor.Job> jobs = jobs(new long[] {7, 0, 40, 3, 25},
                new int[] {7000, 3500, 14000}, new int[] {}, new int[] {40_001, 20_000, 80_003}, new int[] {999},
                new int[] {25_000, 50_000, 12_500});
        long window = 20_000;
        long biggestChunk = 0;
        for (ChunkExecutor.Job j : jobs) {
            for (long c = 0; c < j.chunks(); c++) {
                biggestChunk = Math.max(biggestChunk, share(j, c));
            }
        }
        Recording r = new Recording(jobs);
        long[] first = firstChunks(jobs);
        ReadAhead ahead = new ReadAhead(jobs, first, 1, r, window);
        ahead.start();
        assertTrue(r.advisedBytes >= window - biggestChunk, "the first window is advised before any worker starts: " + r.advisedBytes);
        for (long g = 0; g < first[jobs.size()]; g++) {
            int j = jobOf(first, g);
            ahead.taking(0, g, j);
            long c = g - first[j];
            assertTrue(r.all(r.advised, jobs.get(j), c), "chunk " + c + " of job " + j + " advised before it is worked on");
            assertFalse(r.any(r.released, jobs.get(j), c), "chunk " + c + " of job " + j + " released while worked on");
            // Bounded: the advised and not yet released bytes stay within a window and a step, plus rounding and one chunk.
            long ahead1 = r.advisedNotReleased();
            assertTrue(ahead1 <= window + window / 4 + 2 * biggestChunk + 64, "advised and kept at chunk " + g + ": " + ahead1);
        }
        ahead.stopped(0);
        long total = 0;
        for (boolean[] a : r.advised.values()) {
            total += a.length;
            for (int i = 0; i < a.length; i++) {
                assertTrue(a[i], "every byte is advised once the run is over");
            }
        }
        // Outward rounding may advise a byte twice at a boundary, no more.
        assertTrue(r.advisedBytes <= total + 64, r.advisedBytes + " bytes advised for " + total);
    }

    @Test
    void nothingIsReleasedThatASlowWorkerIsStillOn() {
        List<ChunkExecutor.Job> jobs = jobs(new long[] {100}, new int[] {100_000, 100_000});
        long[] first = firstChunks(jobs);
        Recording r = new Recording(jobs);
        ReadAhead ahead = new ReadAhead(jobs, first, 2, r, 8_000);
        ahead.start();
        ahead.taking(0, 0, 0);
        ahead.taking(1, 1, 0);
        ahead.taking(0, 2, 0);
        ahead.taking(1, 3, 0);
        ahead.taking(0, 4, 0); // worker 0 now stays on chunk 4 while worker 1 runs on
        for (long g = 5; g < 60; g++) {
            ahead.taking(1, g, 0);
            assertTrue(r.all(r.advised, jobs.get(0), g), "chunk " + g + " advised before it is reached");
        }
        assertTrue(r.all(r.released, jobs.get(0), 3), "what both workers are past is released");
        assertFalse(r.any(r.released, jobs.get(0), 4), "the slow worker's chunk is kept");
        for (long c = 5; c < 60; c++) {
            assertFalse(r.any(r.released, jobs.get(0), c), "chunk " + c + " is past the slow worker: kept");
        }
        ahead.stopped(0);
        ahead.taking(1, 60, 0);
        ahead.taking(1, 61, 0);
        ahead.taking(1, 62, 0);
        ahead.taking(1, 63, 0); // the next step releases everything below worker 1
        assertTrue(r.all(r.released, jobs.get(0), 50), "once the slow worker stopped, its chunks are released");
    }

    /** Through the executor on several threads: each chunk finds its bytes advised and not released. */
    @Test
    void theExecutorAdvisesAheadOfEveryWorker() {
        List<ChunkExecutor.Job> jobs = jobs(new long[] {50, 1, 200, 30},
                new int[] {50_000, 100_000}, new int[] {10}, new int[] {200_000, 400_003, 100_000}, new int[] {3_000, 6_000});
        Recording r = new Recording(jobs);
        AtomicInteger bad = new AtomicInteger();
        ChunkExecutor.Work<Object> work = new ChunkExecutor.Work<>() {
            @Override
            public Object scratch() {
                return new Object();
            }

            @Override
            public long chunk(int job, long chunk, Object scratch, KernelPolicy.Worker kernels) {
                ChunkExecutor.Job j = jobs.get(job);
                if (!r.all(r.advised, j, chunk)) {
                    bad.addAndGet(1000);
                }
                if (r.any(r.released, j, chunk)) {
                    bad.incrementAndGet();
                }
                kernels.done(0);
                return 0;
            }
        };
        ChunkExecutor.of(KernelPolicy.scalarOnly()).withPrefetch(r, 30_000).run("test", jobs, 0, 4, work, b -> { }, t -> { });
        assertEquals(0, bad.get(), "chunks reached before they were advised, or after they were released");
    }

    @Test
    void withoutAWindowOrWithoutAPrefetchNothingIsAdvised() {
        List<ChunkExecutor.Job> jobs = jobs(new long[] {20}, new int[] {20_000});
        Recording r = new Recording(jobs);
        ChunkExecutorTest.Recorder work = new ChunkExecutorTest.Recorder();
        ChunkExecutor.of(KernelPolicy.scalarOnly()).withPrefetch(r, 0).run("test", jobs, 0, 2, work, b -> { }, t -> { });
        assertEquals(20, work.chunks.get());
        assertEquals(0, r.calls.get());
    }
}
