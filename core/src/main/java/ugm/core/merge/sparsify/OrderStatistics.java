package ugm.core.merge.sparsify;

/**
 * Order statistics of a tensor-sized sequence of values that are not negative, found without
 * sorting it or holding it: a radix select on the float bit patterns (non-negative floats order
 * as their bits do), one histogram pass over the high 15 bits for all the ranks asked, and one
 * over the low 16 bits within each chosen bucket. Memory: the histograms and one block.
 */
public final class OrderStatistics {
    private OrderStatistics() {
    }

    /**
     * The values at ascending ranks {@code ranks} (0 the smallest, {@code count − 1} the largest) of
     * the {@code count} values of {@code values}, read in blocks of {@code buffer.length}; the sign
     * of a value is ignored (−0 is 0).
     */
    public static float[] ascending(float[] buffer, long count, Values values, long... ranks) {
        for (long r : ranks) {
            if (r < 0 || r >= count) {
                throw new IllegalArgumentException("rank " + r + " of " + count + " values");
            }
        }
        long[] high = new long[1 << 15];
        scan(buffer, count, values, bits -> high[bits >>> 16]++);
        int[] bucket = new int[ranks.length];
        long[] within = new long[ranks.length];
        for (int k = 0; k < ranks.length; k++) {
            long below = 0;
            int h = 0;
            while (below + high[h] <= ranks[k]) {
                below += high[h++];
            }
            bucket[k] = h;
            within[k] = ranks[k] - below;
        }
        int[] buckets = java.util.Arrays.stream(bucket).distinct().sorted().toArray();
        long[][] low = new long[buckets.length][1 << 16];
        scan(buffer, count, values, bits -> {
            for (int d = 0; d < buckets.length; d++) {
                if (bits >>> 16 == buckets[d]) {
                    low[d][bits & 0xFFFF]++;
                }
            }
        });
        float[] out = new float[ranks.length];
        for (int k = 0; k < ranks.length; k++) {
            long[] histogram = low[java.util.Arrays.binarySearch(buckets, bucket[k])];
            long below = 0;
            int l = 0;
            while (below + histogram[l] <= within[k]) {
                below += histogram[l++];
            }
            out[k] = Float.intBitsToFloat(bucket[k] << 16 | l);
        }
        return out;
    }

    private interface Visitor {
        void visit(int absBits);
    }

    private static void scan(float[] buffer, long count, Values values, Visitor v) {
        for (long at = 0; at < count; at += buffer.length) {
            int n = (int) Math.min(buffer.length, count - at);
            values.read(at, n, buffer);
            for (int j = 0; j < n; j++) {
                v.visit(Float.floatToRawIntBits(buffer[j]) & 0x7FFF_FFFF);
            }
        }
    }
}
