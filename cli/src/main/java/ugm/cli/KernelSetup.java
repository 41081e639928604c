package ugm.cli;

import ugm.core.exec.ChunkExecutor;
import ugm.core.kernel.KernelPolicy;
import ugm.core.kernel.Kernels;
import ugm.core.kernel.WarmUp;
import ugm.io.MappedPrefetch;

/**
 * The command line's kernel choices, made once per process, here at the edge: the kernels
 * ({@code -Dugm.vector.bits}), when a merge switches to them ({@code -Dugm.vector.after}) and the
 * warm-up started with the JVM ({@link KernelWarmUp}). A message about the kernels (say, the
 * vector module is missing) is one {@code ugm:} line on stderr.
 */
public final class KernelSetup {
    private static Kernels kernels;
    private static WarmUp warmUp;

    private KernelSetup() {
    }

    /** The kernels this process merges with, chosen on first use from {@value Kernels#BITS_PROPERTY}. */
    public static synchronized Kernels kernels() {
        if (kernels == null) {
            kernels = Kernels.select(System.getProperty(Kernels.BITS_PROPERTY), line -> System.err.println("ugm: " + line));
        }
        return kernels;
    }

    /** Records the warm-up the merges of this process can count on. */
    static synchronized void warmingUp(WarmUp w) {
        warmUp = w;
    }

    /** The kernel policy of a merge: {@link #kernels()}, {@value KernelPolicy#AFTER_PROPERTY} read now, and the warm-up. */
    static synchronized KernelPolicy policy() {
        return KernelPolicy.of(kernels(), System.getProperty(KernelPolicy.AFTER_PROPERTY), warmUp);
    }

    /** MB of the inputs and output read ahead of a merge's workers; 0 turns read-ahead off. */
    static final String READ_AHEAD_PROPERTY = "ugm.readahead.mb";
    private static final long READ_AHEAD_MB = 256;

    /**
     * What a merge runs on: platform threads, {@link #policy()}, and read-ahead of the mapped files
     * ({@value #READ_AHEAD_PROPERTY} MB ahead of the workers, {@value #READ_AHEAD_MB} unless set).
     */
    public static ChunkExecutor executor() {
        return ChunkExecutor.of(policy()).withPrefetch(MappedPrefetch.of(), readAheadBytes());
    }

    /** What a conversion runs on: the scalar kernels (it decodes and encodes) and the same read-ahead as a merge. */
    static ChunkExecutor conversionExecutor() {
        return ChunkExecutor.of(KernelPolicy.scalarOnly()).withPrefetch(MappedPrefetch.of(), readAheadBytes());
    }

    private static long readAheadBytes() {
        return Math.max(0, Long.getLong(READ_AHEAD_PROPERTY, READ_AHEAD_MB)) << 20;
    }
}
