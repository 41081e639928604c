package ugm.core.merge.sparsify;

import java.util.Arrays;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * della_magprune's keep decisions for one model's tensor. A row is the last dimension (a 1-D
 * tensor is one row). Within a row the elements are ranked by |v| ascending, r = 1..n; equal |v|
 * are ranked by index, the lower index counting as larger (as in {@link Rank}). An element is kept
 * when the counter-based uniform for its tensor-wide index is below
 * {@code p = (density − ε) + 2ε·(r − 1)/(n − 1)}; a row of one element has {@code p = density}.
 * Each thread ranks the row it is in (reading it again through its own {@link Values}), so the
 * memory is a few rows per thread and the decisions do not depend on the thread or the chunk.
 */
public final class MagnitudeRows {
    private final int cols;
    private final int block;
    private final double density;
    private final double epsilon;
    private final CounterRandom random;
    private final Supplier<Values> values;
    private final ConcurrentHashMap<Long, Row> rows = new ConcurrentHashMap<>();

    /**
     * @param cols    elements per row (the last dimension, or the whole tensor when it is 1-D)
     * @param block   the most elements one {@link Values#read} may return
     * @param values  makes a reader of the model's vector; one is made per thread
     */
    public MagnitudeRows(int cols, int block, double density, double epsilon, CounterRandom random, Supplier<Values> values) {
        this.cols = cols;
        this.block = block;
        this.density = density;
        this.epsilon = epsilon;
        this.random = random;
        this.values = values;
    }

    /** Whether the element at tensor-wide {@code index} is kept. */
    public boolean keeps(long index) {
        Row r = row();
        long row = index / cols;
        if (r.row != row) {
            r.load(row);
        }
        return r.keep[(int) (index - row * cols)];
    }

    /** {@code kept[j] = keeps(from + j)} for j &lt; n: the block form a merge computes (one look-up of the thread's row per block). */
    public void mark(long from, int n, boolean[] kept) {
        Row r = row();
        for (int j = 0; j < n; ) {
            long index = from + j;
            long row = index / cols;
            if (r.row != row) {
                r.load(row);
            }
            int col = (int) (index - row * cols);
            int run = (int) Math.min(n - j, cols - col);
            System.arraycopy(r.keep, col, kept, j, run);
            j += run;
        }
    }

    private Row row() {
        return rows.computeIfAbsent(Thread.currentThread().threadId(), k -> new Row(values.get()));
    }

    /** The keep probability of rank {@code r} (1-based) among {@code n}. */
    public static double probability(double density, double epsilon, long r, long n) {
        return n == 1 ? density : (density - epsilon) + 2 * epsilon * (r - 1) / (n - 1);
    }

    /** One thread's current row. */
    private final class Row {
        private final Values reader;
        private final float[] buffer;
        private final long[] order;
        private final boolean[] keep;
        private long row = -1;

        Row(Values reader) {
            this.reader = reader;
            this.buffer = new float[block];
            this.order = new long[cols];
            this.keep = new boolean[cols];
        }

        void load(long row) {
            long start = row * cols;
            for (int at = 0; at < cols; at += block) {
                int n = Math.min(block, cols - at);
                reader.read(start + at, n, buffer);
                for (int j = 0; j < n; j++) {
                    long abs = Float.floatToRawIntBits(buffer[j]) & 0x7FFF_FFFFL;
                    // ascending |v|, and among equal |v| the higher index first (so the lower index ranks higher)
                    order[at + j] = abs << 32 | (cols - 1 - (at + j));
                }
            }
            Arrays.sort(order);
            for (int p = 0; p < cols; p++) {
                int j = cols - 1 - (int) (order[p] & 0xFFFF_FFFFL);
                keep[j] = random.uniform(start + j) < probability(density, epsilon, p + 1, cols);
            }
            this.row = row;
        }
    }
}
