package ugm.core.kernel;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.Set;
import java.util.function.Supplier;
import ugm.core.DType;

/**
 * Compiles the direct vector kernels a merge will use ({@link DirectKernel}) before it needs them,
 * on scratch data, in a background thread: for a command-line merge, while the main thread is
 * still parsing, opening and planning. The Vector API runs about a hundred times slower than
 * scalar code until C2 has compiled it, so a merge whose {@link KernelPolicy} holds this warm-up
 * uses a vector direct kernel only once {@link #hot} says that one is hot, and the scalar twin
 * until then (the bits are the same either way). Only the kernels asked for are compiled: C2's
 * time on the others would be a fixed cost for nothing (about 0.35 s of a core for gradient
 * matching's), which a small merge feels. Which kernel the merge needs depends on its dtypes,
 * known only once its inputs are open, so the warm-up starts on a guess (the method's kernel for
 * BF16, {@link ugm.core.merge.MergeMethod#directKernel(boolean)}) and the merge's policy asks for what its
 * tensors use ({@link #want}): measured on a 1 GB BF16 merge, compiling the general
 * gradient-matching kernel too held C2 long enough that the merge ran on the scalar twin to the
 * end in most runs.
 *
 * <p>"Hot" is measured, not guessed: the thread times the vector kernel against the compiled
 * scalar twin on the same data and declares it hot once it is clearly faster. Calls are small
 * (a few vector iterations), so the slow early calls cost little and the compiler's invocation
 * counters fill quickly. Compiled code serves the whole JVM: one warm-up per process is enough.
 * The launcher lowers the compile threshold of the direct kernels ({@link #COMPILE_COMMAND_METHODS}).
 *
 * <p>Thread-safe: the warm-up thread publishes what it finds through volatile fields and a lock, and any merge thread may ask.
 */
public final class WarmUp {
    /** The methods whose compile threshold the launcher lowers (a {@code -XX:CompileCommand} method pattern): every direct vector kernel. */
    public static final String COMPILE_COMMAND_METHODS = "ugm.core.kernel.VectorKernels::direct*";
    /** The factor by which the launcher scales those methods' compile thresholds ({@code -XX:CompileCommand=CompileThresholdScaling,...}). */
    public static final String COMPILE_THRESHOLD_SCALING = "0.05";
    /**
     * The Vector API's Java fallbacks (the per-lane loops an uncompiled vector kernel calls: the
     * warm-up's first calls make them hot) and its intrinsics' Java entry points, whose compile
     * thresholds the launcher scales by {@link #FALLBACK_SCALING}: C2 never compiles them on their
     * own, yet still inlines them into a kernel where it has no intrinsic for an operation.
     * Measured on 1 GB merges: C2 compiled dozens of them (10-40 ms each) just when the kernel
     * was due, and the kernel's first compilation then went to C1's unprofiled tier and its C2
     * code came 0.5-1.5 s later; without them in C2's queue the merge had the compiled kernel from
     * its start in 11 runs of 12 against 3 of 12 (README, "Performance").
     */
    public static final java.util.List<String> FALLBACK_METHODS = java.util.List.of("jdk.incubator.vector.*::ldLongOp",
            "jdk.incubator.vector.*::stLongOp", "jdk.incubator.vector.*::bOpTemplate", "jdk.incubator.vector.*::uOpTemplate",
            "jdk.incubator.vector.*::tOpTemplate", "jdk.incubator.vector.*::rvOp", "jdk.internal.vm.vector.VectorSupport::*");
    /** A million times the threshold: never reached by a merge. */
    public static final String FALLBACK_SCALING = "1000000.0";
    /**
     * The factor by which the launcher scales every other method's compile thresholds
     * ({@code -XX:CompileThresholdScaling}): fewer compilations while the process starts, which
     * the main thread and the warm-up share two cores with. Measured on 1 GB merges, 12 runs
     * alternated: median whole process 1.04 s at 1, 0.94 s at 2, 0.95 s at 3; at 10 the scalar
     * twin came too late and the merge took 1.5 s.
     */
    public static final String OTHER_SCALING = "2";
    /** Elements of each scratch tensor. */
    private static final int ELEMENTS = 2048;
    private static final int MODELS = 3;
    /** The dtypes the warm-up runs the kernel on, so that the compiled code expects each of them. */
    private static final DType[] TYPES = {DType.BF16, DType.F16, DType.F32};
    /** Scratch bytes {@link #start} needs: base, base Fisher, 3 models, 3 Fishers and an output, in each of {@link #TYPES}. */
    public static final long SCRATCH_BYTES = (long) (3 + 2 * MODELS) * ELEMENTS * (2 + 2 + 4);
    /**
     * Calls made back to back before the warm-up only polls: at the launcher's compile
     * threshold for the kernel (scaled by 0.05) C2 has it queued after a few hundred calls.
     */
    private static final long EAGER_CALLS = 800;
    private static final long POLL_MILLIS = 10;
    /** Calls timed per poll: at most a few per cent of a core while the compiled code is not in. */
    private static final int POLL_CALLS = 4;
    /** The warm-up gives up after this long (then merges keep the scalar twin). */
    private static final long GIVE_UP_NANOS = 20_000_000_000L;

    /** Each round's timings, at level DEBUG. */
    private static final System.Logger LOG = System.getLogger(WarmUp.class.getName());

    /** The warm-up thread; null when there is nothing to compile. */
    private volatile Thread thread;
    /** Bit {@code k.ordinal()} set once kernel k is hot; written by the warm-up thread alone. */
    private volatile int hot;
    /** The kernels to warm up at once (bits as {@link #hot}); one left for another a merge asks for is dropped. Guarded by lock. */
    private int asked;
    /** The kernels a merge has asked for ({@link #want}); only ever grows. */
    private volatile int wanted;
    /** The kernels the thread is through with, hot or given up. Guarded by lock. */
    private int finished;
    /** Whether the thread waits for a merge to ask for a kernel, or has ended. Guarded by lock. */
    private boolean idle;
    private final Object lock = new Object();

    private WarmUp() {
    }

    /**
     * Starts warming up every direct kernel of {@code vector} (a server, whose merges may use any
     * method): {@link #start(Kernels, MemorySegment, Supplier, Runnable)}.
     */
    public static WarmUp start(Kernels vector, MemorySegment scratch, Runnable done) {
        return start(vector, scratch, () -> EnumSet.allOf(DirectKernel.class), done);
    }

    /**
     * Starts warming up the direct kernels {@code which} names, of {@code vector}, on
     * {@code scratch} (at least {@link #SCRATCH_BYTES} bytes, writable; best a file mapping, like
     * the inputs a merge reads, so the compiled code matches theirs), one after the other; then
     * any other a merge asks for ({@link #want}, which a {@link KernelPolicy} with this warm-up
     * calls for a kernel that is not hot yet). A kernel named here that no merge has asked for is
     * left unfinished as soon as a merge asks for another (it was the wrong guess: say, the
     * merge's tensors are F32, not BF16), and taken up again only if a merge asks for it.
     * {@code which} is asked on the warm-up thread, so it may take its time (say, read the merge's
     * config for its method); a failure there, and nothing is compiled. The thread is a daemon;
     * it gives a kernel up after 20 s, waits for requests while some kernel is not done, and
     * calls {@code done} when it ends. With scalar kernels there is nothing to compile:
     * {@code done} runs at once and the warm-up is never hot.
     */
    public static WarmUp start(Kernels vector, MemorySegment scratch, Supplier<? extends Set<DirectKernel>> which, Runnable done) {
        if (scratch.byteSize() < SCRATCH_BYTES) {
            throw new IllegalArgumentException("scratch has " + scratch.byteSize() + " bytes; the warm-up needs " + SCRATCH_BYTES);
        }
        WarmUp w = new WarmUp();
        if (vector.isScalar()) {
            w.idle = true;
            done.run(); // nothing to compile: never hot
            return w;
        }
        w.thread = Thread.ofPlatform().daemon().name("ugm-warm-up").unstarted(() -> {
            try {
                int named = 0;
                for (DirectKernel k : which.get()) {
                    named |= bit(k);
                }
                synchronized (w.lock) {
                    w.asked = named;
                }
                w.serve(vector, scratch);
            } catch (RuntimeException e) {
                // a hint only: the merge runs the scalar twin, and reports its own problems
            } finally {
                synchronized (w.lock) {
                    w.idle = true;
                    w.lock.notifyAll();
                }
                done.run();
            }
        });
        w.thread.start();
        return w;
    }

    private static int bit(DirectKernel k) {
        return 1 << k.ordinal();
    }

    /** Warms up what is asked for, in {@link DirectKernel}'s order, until every kernel is done or the thread is interrupted. */
    private void serve(Kernels vector, MemorySegment scratch) {
        int all = (1 << DirectKernel.values().length) - 1;
        while (true) {
            DirectKernel next = null;
            synchronized (lock) {
                while (next == null) {
                    int pending = (asked | wanted) & ~finished;
                    for (DirectKernel k : DirectKernel.values()) {
                        if (next == null && (pending & bit(k)) != 0) {
                            next = k;
                        }
                    }
                    if (next == null) {
                        if (finished == all) {
                            return;
                        }
                        idle = true;
                        lock.notifyAll();
                        try {
                            lock.wait();
                        } catch (InterruptedException e) {
                            return;
                        }
                    }
                }
                idle = false;
            }
            Outcome o = run(vector, scratch, next);
            synchronized (lock) {
                switch (o) {
                    case INTERRUPTED -> {
                        return;
                    }
                    case LEFT -> asked &= ~bit(next);
                    default -> finished |= bit(next);
                }
            }
        }
    }

    /**
     * Asks for direct kernel {@code kernel}: the warm-up compiles it next (after the one it is on,
     * unless no merge asked for that one) if it is not done with it yet. Cheap once asked.
     */
    public void want(DirectKernel kernel) {
        int b = bit(kernel);
        if ((wanted & b) != 0 || thread == null) {
            return;
        }
        synchronized (lock) {
            wanted |= b;
            lock.notifyAll();
        }
    }

    /**
     * Whether the direct vector kernel {@code kernel}, writing {@code type} (BF16, F16 or F32), is
     * compiled and faster than the scalar twin.
     */
    public boolean hot(DirectKernel kernel, DType type) {
        return (hot & bit(kernel)) != 0 && (type == DType.BF16 || type == DType.F16 || type == DType.F32);
    }

    /**
     * Waits until the warm-up has nothing left to do that was asked for (tests and benchmarks):
     * every kernel named at the start or asked for since is hot, given up or left; returns
     * whether every one of them that is not left is hot (at least one).
     */
    public boolean await() throws InterruptedException {
        synchronized (lock) {
            while (true) {
                boolean pending = ((asked | wanted) & ~finished) != 0 && thread != null && thread.isAlive();
                if (idle && !pending) {
                    break; // (idle with a request pending: the thread has not woken to it yet)
                }
                lock.wait(100);
            }
            int all = asked | wanted;
            return all != 0 && (hot & all) == all;
        }
    }

    /** How a kernel's warm-up ended. */
    private enum Outcome { HOT, GAVE_UP, LEFT, INTERRUPTED }

    /** Warms up one kernel. */
    private Outcome run(Kernels vector, MemorySegment scratch, DirectKernel kernel) {
        // each dtype's 9 tensors: base, base Fisher, model and Fisher pairs, output
        Kernels.Operand[][] s = new Kernels.Operand[TYPES.length][3 + 2 * MODELS];
        float[] values = new float[ELEMENTS];
        long at = 0;
        for (int d = 0; d < TYPES.length; d++) {
            long bytes = (long) ELEMENTS * TYPES[d].byteWidth();
            for (int i = 0; i < s[d].length; i++) {
                s[d][i] = new Kernels.Operand(scratch.asSlice(at, bytes), TYPES[d]);
                at += bytes;
                for (int e = 0; e < ELEMENTS; e++) {
                    // weights; Fishers, every one zero at every 127th element: with delta0 = 0 Hbar is zero
                    // there, so the kernel's task-arithmetic fallback runs (and is compiled) here too
                    values[e] = i % 2 == 0 ? 0.01f * ((e * 37 + i) % 101 - 50) : e % 127 == 0 ? 0f : 1e-4f * ((e * 13 + i) % 17);
                }
                Kernels.scalar().encode(values, ELEMENTS, TYPES[d], s[d][i].data(), 0);
            }
        }
        // every kind of call of one kernel reaches the same compiled method: gradient matching on BF16,
        // with and without a base Fisher; on the other layouts, F16, F32, and BF16 weights with F32
        // Fishers, some without a base Fisher, and a removal on BF16 (removal takes this kernel on
        // every layout); the linear family, BF16, F16, F32, and BF16 with F32 models
        boolean gm = kernel != DirectKernel.LINEAR;
        int[][] kinds = switch (kernel) { // {weights, Fishers, base Fisher?, removal?}
            case GRADIENT_MATCHING_BF16 -> new int[][] {{0, 0, 1, 0}, {0, 0, 0, 0}};
            case GRADIENT_MATCHING -> new int[][] {{1, 1, 0, 0}, {2, 2, 1, 0}, {0, 2, 1, 0}, {1, 1, 1, 0}, {2, 2, 0, 0}, {0, 0, 1, 1}};
            case LINEAR -> new int[][] {{0, 0, 0, 0}, {1, 1, 0, 0}, {2, 2, 0, 0}, {0, 2, 0, 0}};
        };
        float[] ones = new float[MODELS];
        Arrays.fill(ones, 1f);
        float[] alphas = {0.5f, 0.3f, 0.2f};
        // delta0 = 0, as in a merge without a prior: where every Fisher is zero, Hbar is (see above).
        // Real data does hit that branch; a compiled kernel that never saw it would be thrown away
        // (an uncommon trap) in the middle of the merge, and run the Vector API uncompiled until
        // C2 has it again (measured: twice in a 1 GB merge). The same holds for the removal
        // safeguard's branches: its clamp (where the base Fisher is not 0) and its fallback (where it is)
        GradientMatching merge = new GradientMatching(alphas, ones, 1f, 0f, false, 1f);
        GradientMatching removal = new GradientMatching(alphas, ones, 1f, 0f, true, 0.1f);
        Call[] calls = new Call[kinds.length];
        for (int k = 0; k < kinds.length; k++) {
            Kernels.Operand[] w = s[kinds[k][0]];
            Kernels.Operand[] h = s[kinds[k][1]];
            calls[k] = gm ? new Call(kinds[k][3] == 0 ? merge : removal, w[0], kinds[k][2] == 0 ? null : h[1],
                    new Kernels.Operand[] {w[2], w[4], w[6]}, new Kernels.Operand[] {h[3], h[5], h[7]}, w[8])
                    : new Call(merge, w[0], null, new Kernels.Operand[] {w[2], h[4], w[6]}, null, w[8]);
        }
        Kernels scalar = Kernels.scalar();
        // four vector iterations per call: until C2 has compiled the kernel every call is slow,
        // and what the compiler counts is calls and loop turns; with fewer turns the compiled
        // loop would not expect to go round again, and the first real call would throw it away
        int call = 4 * vector.impl.warmUpStep();
        long start = System.nanoTime();
        double scalarNanos = Double.MAX_VALUE;
        long made = 0;
        for (int round = 0; System.nanoTime() - start < GIVE_UP_NANOS; round++) {
            int others = wanted & ~bit(kernel);
            if (others != 0 && (wanted & bit(kernel)) == 0 && (others & ~finishedNow()) != 0) {
                return Outcome.LEFT; // a merge asked for another kernel, and none for this one
            }
            int batch = ELEMENTS / call;
            if (made >= EAGER_CALLS) {
                // enough calls for the compiler to have queued the kernel: wait for it without
                // holding a core the merge needs, timing a few calls now and then (each still
                // costs a third of a millisecond until the compiled code is in)
                batch = POLL_CALLS;
                try {
                    Thread.sleep(POLL_MILLIS);
                } catch (InterruptedException e) {
                    return Outcome.INTERRUPTED;
                }
            }
            made += 2L * batch;
            // the scalar twin compiles in milliseconds: its best time is the yardstick
            scalarNanos = Math.min(scalarNanos, time(scalar, kernel, calls, call, batch));
            double vectorNanos = time(vector, kernel, calls, call, batch);
            if (LOG.isLoggable(System.Logger.Level.DEBUG)) {
                LOG.log(System.Logger.Level.DEBUG, String.format(java.util.Locale.ROOT,
                        "warm-up of %s, round %d at %.3f s: scalar %.0f ns, vector %.0f ns per call", kernel, round,
                        (System.nanoTime() - start) / 1e9, scalarNanos, vectorNanos));
            }
            if (round >= 8 && vectorNanos < 0.8 * scalarNanos) {
                hot |= bit(kernel);
                return Outcome.HOT;
            }
        }
        return Outcome.GAVE_UP;
    }

    private int finishedNow() {
        synchronized (lock) {
            return finished;
        }
    }

    /** The operands of one kind of call. */
    private record Call(GradientMatching p, Kernels.Operand base, Kernels.Operand baseFisher, Kernels.Operand[] x,
                        Kernels.Operand[] fisher, Kernels.Operand out) {
    }

    /**
     * Nanoseconds per call, over a round of calls across the scratch tensors; the linear family's
     * calls are linear one in three (every kind of call in turn), else task arithmetic.
     */
    private static double time(Kernels k, DirectKernel kernel, Call[] kinds, int call, int calls) {
        long t0 = System.nanoTime();
        for (int c = 0; c < calls; c++) {
            Call o = kinds[c % kinds.length];
            long from = (long) c * call % ELEMENTS;
            if (kernel != DirectKernel.LINEAR) {
                k.gradientMatchingDirect(o.p, o.base, o.baseFisher, o.x, o.fisher, o.out, from, call);
            } else if (c % 3 == 0) {
                k.linearDirect(o.x, o.p.alphas(), o.out, from, call);
            } else {
                k.taskArithmeticDirect(o.base, o.x, o.p.alphas(), o.out, from, call);
            }
        }
        return (double) (System.nanoTime() - t0) / calls;
    }
}
