package ugm.core.kernel;

import java.util.Locale;
import java.util.Objects;
import ugm.core.DType;

/**
 * Which kernels a run (a merge, a conversion) uses, and when it moves from the scalar twin to
 * the vector kernels. The bytes never depend on it: only the speed does.
 *
 * <p>The Vector API runs about a hundred times slower than scalar code until C2 has compiled it,
 * and a one-shot run gets a single pass; so by default a run starts on the scalar kernels
 * (bit-identical, compiled in milliseconds) and switches ({@link Mode#SCALAR_FIRST}):
 * <ul>
 *   <li>a direct kernel ({@link DirectKernel}), once the {@link WarmUp} given to the policy has
 *       compiled it and measured it beating the scalar twin;</li>
 *   <li>every kernel, in a run that reads at least {@code probeAfterBytes}: one worker (the
 *       probe) does its share with the vector kernels in small timed calls, and once its time per
 *       element stops falling every worker switches. C2 needs about 4 CPU-seconds on this
 *       project's 2-core machine to compile all the general-path kernels, so smaller runs finish
 *       sooner on the scalar twin.</li>
 * </ul>
 * {@link Mode#VECTOR} uses the vector kernels from the first chunk (a long-running server, a
 * benchmark); {@link Mode#SCALAR} the scalar ones throughout.
 *
 * <p>Policies are immutable and hold no global state; {@link #start} makes the state of one run.
 */
public final class KernelPolicy {

    /** System property read by {@link #defaults()}: bytes from which a run probes ({@value #DEFAULT_PROBE_AFTER} by default; 0 = vector from the start). */
    public static final String AFTER_PROPERTY = "ugm.vector.after";

    /** Bytes read from which a scalar-first run probes the vector kernels itself: 4 GiB. */
    public static final long DEFAULT_PROBE_AFTER = 4L << 30;

    /** How a run chooses between the scalar and the vector kernels. */
    public enum Mode {
        /** The scalar twin until the vector kernels are compiled (by the warm-up, or by a probe in a large run). */
        SCALAR_FIRST,
        /** The vector kernels from the first chunk. */
        VECTOR,
        /** The scalar kernels throughout. */
        SCALAR
    }

    private static final KernelPolicy SCALAR = new KernelPolicy(Mode.SCALAR, Kernels.scalar(), Long.MAX_VALUE, null);

    private final Mode mode;
    private final Kernels kernels;
    private final long probeAfter;
    private final WarmUp warmUp;

    private KernelPolicy(Mode mode, Kernels kernels, long probeAfter, WarmUp warmUp) {
        this.mode = mode;
        this.kernels = kernels;
        this.probeAfter = probeAfter;
        this.warmUp = warmUp;
    }

    /** The scalar kernels throughout. */
    public static KernelPolicy scalarOnly() {
        return SCALAR;
    }

    /** {@code kernels} from the first chunk (the scalar policy when they are scalar). */
    public static KernelPolicy vectorOnly(Kernels kernels) {
        Objects.requireNonNull(kernels, "kernels");
        return kernels.isScalar() ? SCALAR : new KernelPolicy(Mode.VECTOR, kernels, 0, null);
    }

    /**
     * The scalar twin first, then {@code vector}: for the direct kernel once {@code warmUp} (may
     * be null) says it is hot, for every kernel after a probe in runs that read at least
     * {@code probeAfterBytes} (> 0; {@link Long#MAX_VALUE}: never). The scalar policy when
     * {@code vector} is scalar.
     */
    public static KernelPolicy scalarFirst(Kernels vector, long probeAfterBytes, WarmUp warmUp) {
        Objects.requireNonNull(vector, "vector");
        if (probeAfterBytes <= 0) {
            throw new IllegalArgumentException("probeAfterBytes must be > 0, not " + probeAfterBytes);
        }
        return vector.isScalar() ? SCALAR : new KernelPolicy(Mode.SCALAR_FIRST, vector, probeAfterBytes, warmUp);
    }

    /**
     * The policy a value of {@value #AFTER_PROPERTY} asks for, over {@code kernels}: unset (null)
     * or not a number, scalar first with a probe from {@value #DEFAULT_PROBE_AFTER} bytes; 0 or
     * less, the vector kernels from the start; else scalar first with a probe from that many bytes.
     * The warm-up (may be null) serves the scalar-first policy.
     */
    public static KernelPolicy of(Kernels kernels, String afterProperty, WarmUp warmUp) {
        long after = DEFAULT_PROBE_AFTER;
        if (afterProperty != null) {
            try {
                after = Long.decode(afterProperty);
            } catch (NumberFormatException e) {
                // as Long.getLong: the default
            }
        }
        return after <= 0 ? vectorOnly(kernels) : scalarFirst(kernels, after, warmUp);
    }

    /**
     * Today's default: {@link Kernels#get()} (which reads {@value Kernels#BITS_PROPERTY}) and the
     * system property {@value #AFTER_PROPERTY}, read now; no warm-up.
     */
    public static KernelPolicy defaults() {
        return of(Kernels.get(), System.getProperty(AFTER_PROPERTY), null);
    }

    /** This policy with {@code warmUp} telling when the direct kernel is compiled (scalar-first policies only use it). */
    public KernelPolicy withWarmUp(WarmUp warmUp) {
        return mode == Mode.SCALAR_FIRST ? new KernelPolicy(mode, kernels, probeAfter, warmUp) : this;
    }

    /** When the vector kernels run. */
    public Mode mode() {
        return mode;
    }

    /** The kernels the run ends on (the scalar ones for {@link Mode#SCALAR}). */
    public Kernels kernels() {
        return kernels;
    }

    @Override
    public String toString() {
        return switch (mode) {
            case SCALAR -> "scalar";
            case VECTOR -> kernels.name();
            case SCALAR_FIRST -> "scalar, then " + kernels.name() + " (probe from " + probeAfter + " bytes"
                    + (warmUp == null ? "" : ", warm-up") + ")";
        };
    }

    /**
     * Starts one run that reads {@code bytesRead} bytes. {@code probeAllowed}: whether a worker
     * may probe (not when all the work must stay on one thread for other reasons).
     */
    public Switchover start(long bytesRead, boolean probeAllowed) {
        return new Switchover(this, mode == Mode.SCALAR_FIRST && probeAllowed && bytesRead >= probeAfter);
    }

    /** The kernels of one run: which ones its workers use now, and when that changed. Thread-safe. */
    public static final class Switchover {
        private final Kernels vector;
        private final WarmUp warmUp;
        private final boolean probes;
        private final long startNanos = System.nanoTime();
        /** The kernels workers use now: scalar until the vector ones are compiled, then those. */
        private volatile Kernels active;
        private volatile long switchNanos = -1;
        /** Whether direct kernels switched to the vector ones because the warm-up had compiled them. */
        private volatile boolean warmedUp;

        private Switchover(KernelPolicy policy, boolean probes) {
            this.vector = policy.kernels;
            this.warmUp = policy.warmUp;
            this.probes = probes;
            this.active = policy.mode == Mode.SCALAR_FIRST ? Kernels.scalar() : policy.kernels;
        }

        /** Whether one worker of the run should probe the vector kernels ({@link #worker}(true)). */
        public boolean probes() {
            return probes;
        }

        /** The view of one worker; {@code probe}: the worker that times the vector kernels (ignored unless {@link #probes()}). */
        public Worker worker(boolean probe) {
            return new Worker(this, probe && probes ? new Probe() : null);
        }

        /** The kernels that did the work, e.g. "vector-256 (scalar for the first 0.41 s)". */
        public String kernelsUsed() {
            if (active != vector && !warmedUp) {
                return active.name();
            }
            long sw = switchNanos;
            // (no locale: the same text as Locale.ROOT's, without loading the JDK's locale data, 25 ms at the end of every merge)
            return sw < 0 ? vector.name() : String.format((Locale) null, "%s (scalar for the first %.2f s)", vector.name(), sw / 1e9);
        }
    }

    /**
     * One worker's kernels, call by call: {@link #next} before a kernel call of a few hundred
     * elements, {@link #done} after it. Used by one thread at a time.
     */
    public static final class Worker {
        private final Switchover run;
        private final Probe probe;
        private long callStart = -1;

        private Worker(Switchover run, Probe probe) {
            this.run = run;
            this.probe = probe;
        }

        /**
         * The kernels for the next call. The probe worker gets the vector ones, timed, while the run
         * is still on the scalar ones, except for calls of a kernel the warm-up compiles
         * ({@code warmedElsewhere}): those it leaves to the warm-up.
         */
        public Kernels next(boolean warmedElsewhere) {
            Kernels active = run.active;
            if (probe != null && active != run.vector && !(warmedElsewhere && run.warmUp != null)) {
                callStart = System.nanoTime();
                return run.vector;
            }
            return active;
        }

        /**
         * The kernels for a call of direct kernel {@code which}, writing {@code type}, within a call
         * on {@code kernels}: the vector ones once the warm-up says that kernel is hot; until then the
         * warm-up is told the merge wants it.
         */
        public Kernels direct(Kernels kernels, DirectKernel which, DType type) {
            if (kernels != run.vector && run.warmUp != null) {
                if (run.warmUp.hot(which, type)) {
                    if (!run.warmedUp) {
                        run.warmedUp = true;
                        run.switchNanos = System.nanoTime() - run.startNanos;
                    }
                    return run.vector;
                }
                run.warmUp.want(which); // (the warm-up may be on another: tell it this one is needed)
            }
            return kernels;
        }

        /** The kernels the run uses now, for work outside the timed calls (a first pass): no probing. */
        public Kernels active() {
            return run.active;
        }

        /** The call begun by {@link #next} did {@code elements} elements. */
        public void done(int elements) {
            if (callStart < 0) {
                return;
            }
            long dt = System.nanoTime() - callStart;
            callStart = -1;
            if (probe.hot(elements, dt) && run.active != run.vector) {
                run.switchNanos = System.nanoTime() - run.startNanos;
                run.active = run.vector;
            }
        }
    }

    /** The probe worker's timing of the vector kernels, in windows of calls. */
    private static final class Probe {
        static final int WINDOW = 64;
        int calls;
        long elements;
        long nanos;
        double previous = Double.MAX_VALUE;
        int windows;

        /** Records one call; true once a window was no faster per element than the one before. */
        boolean hot(int n, long dt) {
            calls++;
            elements += n;
            nanos += dt;
            if (calls < WINDOW) {
                return false;
            }
            double perElement = (double) nanos / elements;
            boolean flat = windows >= 4 && perElement >= 0.9 * previous;
            previous = Math.min(previous, perElement);
            windows++;
            calls = 0;
            elements = 0;
            nanos = 0;
            return flat;
        }
    }
}
