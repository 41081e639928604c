package ugm.core.merge.sparsify;

/**
 * The set of the {@code m} largest |v| of a tensor, found without sorting it: the elements are
 * ordered by |v| descending, and equal |v| by element index ascending (the lower index counts as
 * larger). This is the documented tie rule: at the threshold the first elements in memory order
 * are kept. {@link #top(float[], long, long, Values)} finds the threshold T (the m-th largest
 * |v|, exact) by a radix select on the float bit patterns (|v| as non-negative float bits order
 * like integers): one histogram pass over the high 15 bits, one over the low 16 bits within the
 * chosen bucket, and one pass to find the index of the last element equal to T that is kept.
 * Memory: two histograms and one block, whatever the tensor size.
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

    /** The {@code m} largest |v| of the {@code count} values of {@code values}, read in blocks of {@code buffer.length}. */
    public static Rank top(float[] buffer, long count, long m, Values values) {
        if (m <= 0) {
            return NONE;
        }
        if (m >= count) {
            return ALL;
        }
        long[] high = new long[1 << 15];
        scan(buffer, count, values, (i, bits) -> high[bits >>> 16]++);
        long above = 0;
        int h = high.length - 1;
        while (above + high[h] < m) {
            above += high[h--];
        }
        long[] low = new long[1 << 16];
        int bucket = h;
        scan(buffer, count, values, (i, bits) -> {
            if (bits >>> 16 == bucket) {
                low[bits & 0xFFFF]++;
            }
        });
        int l = low.length - 1;
        while (above + low[l] < m) {
            above += low[l--];
        }
        int threshold = (bucket << 16) | l;
        long need = m - above; // elements equal to the threshold to keep, in index order
        long[] seen = {0, -1};
        scan(buffer, count, values, (i, bits) -> {
            if (bits == threshold && seen[0] < need) {
                seen[0]++;
                seen[1] = i;
            }
        });
        return new Rank(threshold, seen[1]);
    }

    private interface Visitor {
        void visit(long index, int absBits);
    }

    private static void scan(float[] buffer, long count, Values values, Visitor v) {
        for (long at = 0; at < count; at += buffer.length) {
            int n = (int) Math.min(buffer.length, count - at);
            values.read(at, n, buffer);
            for (int j = 0; j < n; j++) {
                v.visit(at + j, Float.floatToRawIntBits(buffer[j]) & 0x7FFF_FFFF);
            }
        }
    }
}
