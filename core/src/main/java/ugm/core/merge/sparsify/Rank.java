package ugm.core.merge.sparsify;

/**
 * The set of the {@code m} largest |v| of a tensor, found without sorting it: the elements are
 * ordered by |v| descending, and equal |v| by element index ascending (the lower index counts as
 * larger). This is the documented tie rule: at the threshold the first elements in memory order
 * are kept. {@link #top(float[], long, long, Values)} finds the threshold T (the m-th largest
 * |v|, exact) by a radix select on the float bit patterns (|v| as non-negative float bits order
 * like integers): one histogram pass over the high 15 bits, one over the low 16 bits within the
 * chosen bucket, and, only where the cut falls among elements equal to T, a third pass that reads
 * as far as the last of them that is kept. Memory: two histograms and one block, whatever the tensor size.
 *
 * @param threshold the bits of |v| at the cut ({@code Integer.MAX_VALUE} + nothing for an empty set)
 * @param lastTie   elements with |v| bits equal to threshold are in the set when their index is at most this
 */
public record Rank(int threshold, long lastTie) {
    /** The empty set. */
    public static final Rank NONE = new Rank(Integer.MAX_VALUE, -1);
    /** Every element. */
    public static final Rank ALL = new Rank(-1, -1);

    /** Whether the element at {@code index} with value {@code v} is in the set. */
    public boolean contains(long index, float v) {
        int bits = Float.floatToRawIntBits(v) & 0x7FFF_FFFF;
        return bits > threshold || (bits == threshold && index <= lastTie);
    }

    /**
     * Marks the elements {@code [from, from + n)} in the set: {@code kept[j]} is
     * {@link #contains contains(from + j, v[j])}, for the block a merge computes.
     */
    public void mark(long from, int n, float[] v, boolean[] kept) {
        int t = threshold;
        // at the threshold, the block's elements up to this one are in the set (a tie is rare: one branch per block)
        long ties = Math.min(lastTie - from, n - 1L);
        for (int j = 0; j < n; j++) {
            int bits = Float.floatToRawIntBits(v[j]) & 0x7FFF_FFFF;
            kept[j] = in(bits, t, j, ties);
        }
    }

    /** Clears the marks of the elements {@code [from, from + n)} in the set: {@code kept[j] &= !contains(from + j, v[j])}. */
    public void unmark(long from, int n, float[] v, boolean[] kept) {
        int t = threshold;
        long ties = Math.min(lastTie - from, n - 1L);
        for (int j = 0; j < n; j++) {
            int bits = Float.floatToRawIntBits(v[j]) & 0x7FFF_FFFF;
            kept[j] &= !in(bits, t, j, ties);
        }
    }

    /**
     * Whether an element of |v| bits {@code bits}, j-th of its block, is in the set of threshold
     * {@code t} whose ties are kept up to the block's element {@code ties}: {@link #contains}
     * without a branch (half of a block's elements are in the set, at random).
     */
    private static boolean in(int bits, int t, int j, long ties) {
        return bits > t | bits == t & j <= ties;
    }

    /**
     * One thread's two histograms (768 KB), used again by every rank it finds: a new pair per
     * model and tensor was most of what a ties merge allocated (a 10 GB family: 1.4 GB of
     * garbage, which grew the young generation, and the resident set, to 0.8 GB).
     */
    private static final class Histograms {
        static final ThreadLocal<Histograms> LOCAL = ThreadLocal.withInitial(Histograms::new);
        final long[] high = new long[1 << 15];
        final long[] low = new long[1 << 16];

        long[] cleared(long[] h) {
            java.util.Arrays.fill(h, 0);
            return h;
        }
    }

    /** The {@code m} largest |v| of the {@code count} values of {@code values}, read in blocks of {@code buffer.length}. */
    public static Rank top(float[] buffer, long count, long m, Values values) {
        if (m <= 0) {
            return NONE;
        }
        if (m >= count) {
            return ALL;
        }
        // Each pass is a loop of its own (one shared loop calling a visitor per element cost more than the counting).
        Histograms histograms = Histograms.LOCAL.get();
        long[] high = histograms.cleared(histograms.high);
        for (long at = 0; at < count; at += buffer.length) {
            int n = (int) Math.min(buffer.length, count - at);
            values.read(at, n, buffer);
            for (int j = 0; j < n; j++) {
                high[(Float.floatToRawIntBits(buffer[j]) & 0x7FFF_FFFF) >>> 16]++;
            }
        }
        long above = 0;
        int h = high.length - 1;
        while (above + high[h] < m) {
            above += high[h--];
        }
        long[] low = histograms.cleared(histograms.low);
        for (long at = 0; at < count; at += buffer.length) {
            int n = (int) Math.min(buffer.length, count - at);
            values.read(at, n, buffer);
            for (int j = 0; j < n; j++) {
                int bits = Float.floatToRawIntBits(buffer[j]) & 0x7FFF_FFFF;
                if (bits >>> 16 == h) {
                    low[bits & 0xFFFF]++;
                }
            }
        }
        int l = low.length - 1;
        while (above + low[l] < m) {
            above += low[l--];
        }
        int threshold = (h << 16) | l;
        long need = m - above; // elements equal to the threshold to keep, in index order
        if (need == low[l]) {
            return new Rank(threshold, count - 1); // every one of them: no third pass
        }
        // the index of the need-th element equal to the threshold: read only as far as it
        long seen = 0;
        for (long at = 0; at < count; at += buffer.length) {
            int n = (int) Math.min(buffer.length, count - at);
            values.read(at, n, buffer);
            for (int j = 0; j < n; j++) {
                if ((Float.floatToRawIntBits(buffer[j]) & 0x7FFF_FFFF) == threshold && ++seen == need) {
                    return new Rank(threshold, at + j);
                }
            }
        }
        throw new IllegalStateException("the values changed between passes: " + seen + " of " + need + " at the threshold");
    }
}
