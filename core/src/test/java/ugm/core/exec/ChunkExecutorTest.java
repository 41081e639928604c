package ugm.core.exec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import ugm.core.DType;
import ugm.core.MemoryTensors;
import ugm.core.TensorInfo;
import ugm.core.TensorSource;
import ugm.core.UgmException;
import ugm.core.kernel.KernelPolicy;

/** The one executor of merges and conversions: threads, progress, failures, interruption, input faults. */
class ChunkExecutorTest {
    static final ChunkExecutor SCALAR = ChunkExecutor.of(KernelPolicy.scalarOnly());

    /** Records which thread ran each chunk; each chunk "writes" 10 bytes. */
    static final class Recorder implements ChunkExecutor.Work<Object> {
        final Set<Thread> threads = ConcurrentHashMap.newKeySet();
        final List<String> finished = Collections.synchronizedList(new ArrayList<>());
        final AtomicInteger chunks = new AtomicInteger();

        @Override
        public Object scratch() {
            return new Object();
        }

        @Override
        public long chunk(int job, long chunk, Object scratch, KernelPolicy.Worker kernels) {
            threads.add(Thread.currentThread());
            chunks.incrementAndGet();
            kernels.done(0);
            return 10;
        }

        @Override
        public void finished(int job) {
            finished.add("job-" + job);
        }
    }

    static List<ChunkExecutor.Job> jobs(long... chunks) {
        List<ChunkExecutor.Job> jobs = new ArrayList<>();
        for (int i = 0; i < chunks.length; i++) {
            jobs.add(new ChunkExecutor.Job(new TensorInfo("job-" + i, DType.F32, new long[] {chunks[i]}), chunks[i], List.of(),
                    List.of()));
        }
        return jobs;
    }

    @Test
    void everyChunkRunsOnceAndEveryJobIsReportedDoneOnceAfterItIsFinished() {
        Recorder work = new Recorder();
        AtomicLong written = new AtomicLong();
        List<String> done = Collections.synchronizedList(new ArrayList<>());
        ChunkExecutor.Result r = SCALAR.run("test", jobs(3, 0, 5, 1), 0, 3, work, written::addAndGet, t -> {
            assertTrue(t.name().equals("job-1") || work.finished.contains(t.name()), t.name() + " done before it was finished");
            done.add(t.name());
        });
        assertEquals(9, work.chunks.get());
        assertEquals(90, written.get());
        assertEquals(Set.of("job-0", "job-1", "job-2", "job-3"), Set.copyOf(done));
        assertEquals(4, done.size());
        assertEquals(3, work.finished.size(), "the job without chunks has nothing to finish");
        assertEquals(3, r.threads());
        assertEquals("scalar", r.kernels());
    }

    @Test
    void oneWorkerRunsOnTheCallersThread() {
        Recorder work = new Recorder();
        ChunkExecutor.Result r = SCALAR.run("test", jobs(4), 0, 1, work, b -> { }, t -> { });
        assertEquals(Set.of(Thread.currentThread()), work.threads);
        assertEquals(1, r.threads());
        // no more workers than chunks
        assertEquals(1, SCALAR.run("test", jobs(1), 0, 8, new Recorder(), b -> { }, t -> { }).threads());
    }

    @Test
    void memoryConfinedToTheCallerKeepsTheWholeRunOnItsThread() {
        try (Arena confined = Arena.ofConfined()) {
            MemorySegment mine = confined.allocate(16);
            Recorder work = new Recorder();
            List<ChunkExecutor.Job> jobs = List.of(new ChunkExecutor.Job(new TensorInfo("w", DType.F32, new long[] {4}), 6, List.of(),
                    List.of(mine)));
            assertEquals(1, SCALAR.run("test", jobs, 0, 4, work, b -> { }, t -> { }).threads());
            assertEquals(Set.of(Thread.currentThread()), work.threads);
        }
    }

    @Test
    void theDefaultWorkersArePlatformThreadsNamedAfterTheActivity() {
        Recorder work = new Recorder();
        SCALAR.run("test", jobs(64), 0, 2, work, b -> { }, t -> { });
        for (Thread t : work.threads) {
            assertTrue(t.getName().startsWith("ugm-test-"), t.getName());
            assertFalse(t.isVirtual());
        }
    }

    @Test
    void aServersThreadFactoryOrExecutorRunsTheWorkers() throws Exception {
        AtomicInteger made = new AtomicInteger();
        ThreadFactory factory = r -> {
            made.incrementAndGet();
            return Thread.ofVirtual().name("server-worker").unstarted(r);
        };
        Recorder work = new Recorder();
        SCALAR.withThreads(factory).run("test", jobs(64), 0, 3, work, b -> { }, t -> { });
        assertEquals(3, made.get());
        for (Thread t : work.threads) {
            assertEquals("server-worker", t.getName());
        }

        ExecutorService pool = Executors.newFixedThreadPool(2, r -> Thread.ofPlatform().name("pool").unstarted(r));
        try {
            Recorder pooled = new Recorder();
            ChunkExecutor.Result r = SCALAR.withExecutor(pool).run("test", jobs(64), 0, 2, pooled, b -> { }, t -> { });
            assertEquals(2, r.threads());
            assertEquals(64, pooled.chunks.get());
            for (Thread t : pooled.threads) {
                assertEquals("pool", t.getName());
            }
        } finally {
            pool.shutdown();
            assertTrue(pool.awaitTermination(10, TimeUnit.SECONDS));
        }
        // one worker still runs on the caller's thread
        Recorder one = new Recorder();
        SCALAR.withThreads(factory).run("test", jobs(5), 0, 1, one, b -> { }, t -> { });
        assertEquals(Set.of(Thread.currentThread()), one.threads);
    }

    @Test
    void theFirstFailureStopsTheWorkersAndIsRethrownOnTheCallersThread() {
        AtomicInteger ran = new AtomicInteger();
        IllegalStateException boom = new IllegalStateException("boom");
        ChunkExecutor.Work<Object> work = new ChunkExecutor.Work<>() {
            @Override
            public Object scratch() {
                return null;
            }

            @Override
            public long chunk(int job, long chunk, Object scratch, KernelPolicy.Worker kernels) {
                ran.incrementAndGet();
                if (chunk == 3) {
                    throw boom;
                }
                return 1;
            }
        };
        for (int threads : new int[] {1, 2}) {
            ran.set(0);
            assertSame(boom, assertThrows(IllegalStateException.class,
                    () -> SCALAR.run("test", jobs(10_000), 0, threads, work, b -> { }, t -> { })));
            assertTrue(ran.get() < 10_000, "the workers stopped (" + ran.get() + " chunks ran)");
        }
    }

    @Test
    void aMappedPageThatCannotBeReadNamesTheFileThatChanged() {
        TensorSource changed = new TensorSource() {
            @Override
            public String describe() {
                return "/models/m";
            }

            @Override
            public List<TensorInfo> tensors() {
                return List.of();
            }

            @Override
            public TensorInfo info(String name) {
                return null;
            }

            @Override
            public MemorySegment data(String name) {
                return MemorySegment.NULL;
            }

            @Override
            public String changedFile(String name) {
                return "/models/m/model.safetensors";
            }
        };
        ChunkExecutor.Job job = new ChunkExecutor.Job(new TensorInfo("w", DType.F32, new long[] {1}), 4,
                List.of(new MemoryTensors("base"), changed), List.of());
        ChunkExecutor.Work<Object> work = new ChunkExecutor.Work<>() {
            @Override
            public Object scratch() {
                return null;
            }

            @Override
            public long chunk(int j, long chunk, Object scratch, KernelPolicy.Worker kernels) {
                throw new InternalError("a fault occurred in an unsafe memory access operation");
            }
        };
        for (String activity : new String[] {"merge", "conversion"}) {
            UgmException e = assertThrows(UgmException.class, () -> SCALAR.run(activity, List.of(job), 0, 1, work, b -> { }, t -> { }));
            assertEquals(UgmException.Kind.IO, e.kind());
            assertEquals("input changed during " + activity + ": /models/m/model.safetensors", e.getMessage());
            assertTrue(e.getCause() instanceof InternalError);
        }
    }

    @Test
    void interruptingTheCallerStopsTheRunWithOneIoErrorOnceEveryWorkerHasStopped() throws Exception {
        CountDownLatch entered = new CountDownLatch(2);
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger running = new AtomicInteger();
        ChunkExecutor.Work<Object> work = new ChunkExecutor.Work<>() {
            @Override
            public Object scratch() {
                return null;
            }

            @Override
            public long chunk(int job, long chunk, Object scratch, KernelPolicy.Worker kernels) {
                running.incrementAndGet();
                entered.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    throw new AssertionError(e);
                } finally {
                    running.decrementAndGet();
                }
                return 1;
            }
        };
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        AtomicReference<Boolean> stillInterrupted = new AtomicReference<>();
        AtomicInteger runningAtReturn = new AtomicInteger(-1);
        Thread caller = Thread.ofPlatform().start(() -> {
            try {
                SCALAR.run("test", jobs(1000), 0, 2, work, b -> { }, t -> { });
            } catch (Throwable t) {
                thrown.set(t);
            }
            runningAtReturn.set(running.get());
            stillInterrupted.set(Thread.currentThread().isInterrupted());
        });
        assertTrue(entered.await(30, TimeUnit.SECONDS));
        caller.interrupt();
        Thread.sleep(50);
        assertTrue(caller.isAlive(), "the caller waits for its workers");
        release.countDown();
        caller.join(30_000);
        UgmException e = (UgmException) thrown.get();
        assertEquals(UgmException.Kind.IO, e.kind());
        assertEquals("test interrupted", e.getMessage());
        assertEquals(0, runningAtReturn.get(), "no worker was still running");
        assertTrue(stillInterrupted.get(), "the interrupt is kept");
    }
}
