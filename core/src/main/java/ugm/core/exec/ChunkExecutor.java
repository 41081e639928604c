package ugm.core.exec;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.LongConsumer;
import ugm.core.TensorInfo;
import ugm.core.TensorSource;
import ugm.core.UgmException;
import ugm.core.kernel.KernelPolicy;

/**
 * Runs work cut into chunks on a few threads: merges ({@code ugm.core.merge.Merger}) and
 * conversions ({@link Conversion}) both. Every job (an output tensor) is cut into chunks; workers
 * take chunks in order from one cursor until none is left, each with its own scratch, and the
 * kernels its {@link KernelPolicy} gives it call by call. The executor reports every chunk
 * written and every job done, lets the work release a finished job, stops every worker at the
 * first failure and rethrows it on the caller's thread, and turns a mapped page that could not be
 * read into one line naming the file that changed ({@code input changed during merge: FILE}).
 * With a {@link Prefetch} ({@link #withPrefetch}), it tells the memory what the workers reach
 * next and what they are done with, a bounded window ahead of them ({@link ReadAhead}).
 *
 * <p>One worker runs on the caller's thread (so does everything when some memory is confined to
 * it); more run on platform threads named {@code ugm-<activity>-<n>}, or on the threads of the
 * {@link ThreadFactory} or {@link Executor} a server passes. The caller waits for all of them.
 * Instances are immutable and may serve any number of runs at once.
 */
public final class ChunkExecutor {

    /**
     * One job: an output tensor, cut into {@code chunks}; {@code sources} are what it reads (named
     * in an input fault); {@code memory} every segment it reads or writes (memory confined to the
     * caller's thread keeps the whole run there).
     */
    public record Job(TensorInfo output, long chunks, List<TensorSource> sources, List<MemorySegment> memory) {
        public Job {
            Objects.requireNonNull(output, "output");
            if (chunks < 0) {
                throw new IllegalArgumentException("chunks " + chunks);
            }
            sources = List.copyOf(sources);
            memory = List.copyOf(memory);
        }
    }

    /** What a run does; {@code S} is a worker's scratch (its buffers). Called from the worker threads. */
    public interface Work<S> {
        /** A new worker's scratch. */
        S scratch();

        /** Does chunk {@code chunk} of job {@code job} with the kernels {@code kernels} gives; returns the bytes written. */
        long chunk(int job, long chunk, S scratch, KernelPolicy.Worker kernels);

        /** Every chunk of job {@code job} is written (called once, before the job is reported done). */
        default void finished(int job) {
        }
    }

    /** How a run went: the workers it used and the kernels that did the work. */
    public record Result(int threads, String kernels) {
    }

    private final KernelPolicy policy;
    /** Null: platform threads named after the activity. */
    private final Executor executor;
    private final Prefetch prefetch;
    /** Bytes of the jobs' memory advised ahead of the workers. */
    private final long window;

    private ChunkExecutor(KernelPolicy policy, Executor executor, Prefetch prefetch, long window) {
        this.policy = Objects.requireNonNull(policy, "policy");
        this.executor = executor;
        this.prefetch = Objects.requireNonNull(prefetch, "prefetch");
        this.window = window;
    }

    /** Runs with {@code policy} on platform threads it starts itself, without a prefetch. */
    public static ChunkExecutor of(KernelPolicy policy) {
        return new ChunkExecutor(policy, null, Prefetch.NONE, 0);
    }

    /** The default: {@link KernelPolicy#defaults()} (read now), platform threads. */
    public static ChunkExecutor defaults() {
        return of(KernelPolicy.defaults());
    }

    /** This executor with another kernel policy. */
    public ChunkExecutor withPolicy(KernelPolicy policy) {
        return new ChunkExecutor(policy, executor, prefetch, window);
    }

    /** This executor running its workers (beyond the caller's thread) as tasks of {@code executor}. */
    public ChunkExecutor withExecutor(Executor executor) {
        return new ChunkExecutor(policy, Objects.requireNonNull(executor, "executor"), prefetch, window);
    }

    /**
     * This executor telling {@code prefetch} of the next {@code window} bytes of the jobs' memory
     * ahead of the workers, and of the ranges they are done with ({@link ReadAhead}); a window of
     * 0, or {@link Prefetch#NONE}, turns that off.
     */
    public ChunkExecutor withPrefetch(Prefetch prefetch, long window) {
        if (window < 0) {
            throw new IllegalArgumentException("window " + window);
        }
        return new ChunkExecutor(policy, executor, prefetch, window);
    }

    /** This executor running its workers (beyond the caller's thread) on threads from {@code threads}. */
    public ChunkExecutor withThreads(ThreadFactory threads) {
        Objects.requireNonNull(threads, "threads");
        return withExecutor(task -> {
            Thread t = threads.newThread(task);
            if (t == null) {
                throw new java.util.concurrent.RejectedExecutionException("the thread factory gave no thread");
            }
            t.start();
        });
    }

    /** The kernel policy of the runs. */
    public KernelPolicy policy() {
        return policy;
    }

    /**
     * Runs {@code work} over {@code jobs} with at most {@code threads} workers (at least one, and
     * no more than there are chunks) and returns once every worker has stopped.
     *
     * @param activity   what runs, in the threads' names and the messages: "merge", "conversion"
     * @param bytesRead  the bytes the run reads (the kernel policy probes only large runs)
     * @param written    receives the bytes written by each chunk, from any worker; cheap and thread-safe
     * @param done       receives each job's output once all its chunks are written (jobs without
     *                   chunks at the start), from any worker; cheap and thread-safe
     * @throws UgmException of kind IO when an input changed under its mapping or the caller was
     *                      interrupted; else whatever the work threw first
     */
    public <S> Result run(String activity, List<Job> jobs, long bytesRead, int threads, Work<S> work, LongConsumer written,
                          Consumer<TensorInfo> done) {
        Run<S> run = new Run<>(activity, List.copyOf(jobs), work, written, done);
        boolean callerOnly = !sharedAccess(run.jobs);
        int workers = callerOnly ? 1 : (int) Math.max(1, Math.min(threads, run.total()));
        if (prefetch != Prefetch.NONE && window > 0) {
            run.readAhead = new ReadAhead(run.jobs, run.firstChunk, workers, prefetch, window);
            run.readAhead.start();
        }
        KernelPolicy.Switchover kernels = policy.start(bytesRead, !callerOnly);
        run.execute(workers, kernels, executor);
        return new Result(workers, kernels.kernelsUsed());
    }

    /** Whether other threads may touch every segment (memory confined to the caller's thread may only be touched from it). */
    private static boolean sharedAccess(List<Job> jobs) {
        Thread other = Thread.ofPlatform().unstarted(() -> { });
        for (Job j : jobs) {
            for (MemorySegment m : j.memory()) {
                if (!m.isAccessibleBy(other)) {
                    return false;
                }
            }
        }
        return true;
    }

    /** One run: the shared cursor over all chunks, and the workers. */
    private static final class Run<S> {
        final String activity;
        final List<Job> jobs;
        final Work<S> work;
        final LongConsumer written;
        final Consumer<TensorInfo> done;
        /** Global index of each job's first chunk; one more entry for the end. */
        final long[] firstChunk;
        /** Chunks not yet written, per job. */
        final AtomicLongArray remaining;
        final AtomicLong cursor = new AtomicLong();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        /** Null: no read-ahead. */
        ReadAhead readAhead;

        Run(String activity, List<Job> jobs, Work<S> work, LongConsumer written, Consumer<TensorInfo> done) {
            this.activity = activity;
            this.jobs = jobs;
            this.work = work;
            this.written = written;
            this.done = done;
            this.firstChunk = new long[jobs.size() + 1];
            this.remaining = new AtomicLongArray(jobs.size());
            for (int i = 0; i < jobs.size(); i++) {
                long chunks = jobs.get(i).chunks();
                firstChunk[i + 1] = firstChunk[i] + chunks;
                remaining.set(i, chunks);
            }
        }

        long total() {
            return firstChunk[jobs.size()];
        }

        void execute(int workers, KernelPolicy.Switchover kernels, Executor executor) {
            for (int i = 0; i < jobs.size(); i++) {
                if (remaining.get(i) == 0) {
                    done.accept(jobs.get(i).output()); // nothing to write
                }
            }
            if (workers == 1) {
                work(0, kernels.worker(true)); // no thread to start (small runs, servers merging a tensor)
                rethrow(failure.get());
                return;
            }
            Executor threads = executor != null ? executor : platformThreads();
            CountDownLatch stopped = new CountDownLatch(workers);
            for (int i = 0; i < workers; i++) {
                KernelPolicy.Worker worker = kernels.worker(i == 0);
                int index = i;
                try {
                    threads.execute(() -> {
                        try {
                            work(index, worker);
                        } finally {
                            stopped.countDown();
                        }
                    });
                } catch (RuntimeException e) {
                    failure.compareAndSet(null, e); // the workers already started stop at their next chunk
                    for (int rest = i; rest < workers; rest++) {
                        stopped.countDown();
                    }
                    break;
                }
            }
            boolean interrupted = false;
            while (true) {
                try {
                    stopped.await();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;
                    failure.compareAndSet(null, new UgmException(UgmException.Kind.IO, activity + " interrupted"));
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
            rethrow(failure.get());
        }

        Executor platformThreads() {
            ThreadFactory factory = Thread.ofPlatform().name("ugm-" + activity + "-", 0).factory();
            return task -> factory.newThread(task).start();
        }

        /** Worker {@code index} takes chunks in order until none is left or some worker failed. */
        void work(int index, KernelPolicy.Worker kernels) {
            long total = total();
            int j = 0;
            try {
                S scratch = work.scratch();
                for (long g = cursor.getAndIncrement(); g < total && failure.get() == null; g = cursor.getAndIncrement()) {
                    j = jobOf(g, j);
                    if (readAhead != null) {
                        readAhead.taking(index, g, j);
                    }
                    try {
                        written.accept(work.chunk(j, g - firstChunk[j], scratch, kernels));
                        if (remaining.decrementAndGet(j) == 0) {
                            InputFault.requireUnchanged(activity, jobs.get(j));
                            work.finished(j);
                            done.accept(jobs.get(j).output());
                        }
                    } catch (InternalError e) {
                        throw InputFault.of(activity, jobs.get(j), e); // a mapped page that cannot be read: a file was truncated underneath
                    }
                }
            } catch (Throwable e) {
                // The fault can surface a little after the access that caused it.
                failure.compareAndSet(null, e instanceof InternalError ie && !jobs.isEmpty() ? InputFault.of(activity, jobs.get(j), ie) : e);
            } finally {
                if (readAhead != null) {
                    readAhead.stopped(index);
                }
            }
        }

        /** The job that owns global chunk g; chunks are taken in order, so start from the last one. */
        int jobOf(long g, int hint) {
            if (g >= firstChunk[hint] && g < firstChunk[hint + 1]) {
                return hint;
            }
            int i = Arrays.binarySearch(firstChunk, g);
            i = i >= 0 ? i : -i - 2;
            while (firstChunk[i + 1] == firstChunk[i]) {
                i++; // skip jobs with no chunks
            }
            return i;
        }

        static void rethrow(Throwable f) {
            if (f instanceof RuntimeException re) {
                throw re;
            }
            if (f instanceof Error e) {
                throw e;
            }
            if (f != null) {
                throw new IllegalStateException(f);
            }
        }
    }
}
