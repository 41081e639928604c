package ugm.core.kernel;

/**
 * One thread's scratch array for the kernels whose loops keep a value per model (the task-vector
 * family's weighted vectors): kept for the next call, so a merge's calls of a few hundred elements
 * each allocate nothing (a new array per call was most of what a ties merge allocated after its
 * histograms, and the garbage grew the heap and the resident set).
 */
final class Scratch {
    private static final ThreadLocal<double[]> DOUBLES = ThreadLocal.withInitial(() -> new double[64]);

    private Scratch() {
    }

    /** This thread's array of at least {@code n} doubles; its contents are whatever the last call left. */
    static double[] doubles(int n) {
        double[] a = DOUBLES.get();
        if (a.length < n) {
            a = new double[Math.max(n, 2 * a.length)];
            DOUBLES.set(a);
        }
        return a;
    }
}
