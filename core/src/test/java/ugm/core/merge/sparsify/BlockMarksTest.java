package ugm.core.merge.sparsify;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import java.util.Comparator;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * The sparsifiers' survivors a block at a time ({@link Rank#mark}, {@link Rank#unmark}, {@link CounterRandom#mark},
 * {@link MagnitudeRows#mark}) are the element-wise ones, wherever a block starts and ends; and
 * {@link Rank#top} is the m largest |v| by a sort (|v| descending, equal |v| by index ascending),
 * whether the cut falls among equal values or not.
 */
class BlockMarksTest {

    /** Values with few distinct magnitudes, so the cut falls among equal ones; or all distinct. */
    private static float[] values(SplittableRandom rnd, int n, boolean ties) {
        float[] v = new float[n];
        for (int j = 0; j < n; j++) {
            v[j] = ties ? (rnd.nextBoolean() ? 1 : -1) * (rnd.nextInt(6) * 0.25f) : (float) rnd.nextGaussian();
        }
        return v;
    }

    /** The m largest |v| by sorting. */
    private static boolean[] sorted(float[] v, int m) {
        Integer[] order = IntStream.range(0, v.length).boxed().toArray(Integer[]::new);
        Arrays.sort(order, Comparator.<Integer>comparingDouble(j -> -Math.abs(v[j])).thenComparingInt(j -> j));
        boolean[] in = new boolean[v.length];
        for (int p = 0; p < m; p++) {
            in[order[p]] = true;
        }
        return in;
    }

    @Test
    void rankTopIsTheSortedTopAndItsMarksAreItsMembers() {
        SplittableRandom rnd = new SplittableRandom(3);
        for (boolean ties : new boolean[] {true, false}) {
            for (int n : new int[] {1, 7, 600, 5000}) {
                float[] v = values(rnd, n, ties);
                for (int m : new int[] {0, 1, n / 3, n / 2, n - 1, n}) {
                    Rank r = Rank.top(new float[64], n, m, (from, k, out) -> System.arraycopy(v, (int) from, out, 0, k));
                    boolean[] expected = sorted(v, m);
                    boolean[] contains = new boolean[n];
                    for (int j = 0; j < n; j++) {
                        contains[j] = r.contains(j, v[j]);
                    }
                    assertArrayEquals(expected, contains, "contains, n=" + n + " m=" + m + " ties=" + ties);
                    assertArrayEquals(expected, marked(n, (from, k, kept) -> r.mark(from, k, Arrays.copyOfRange(v, (int) from,
                            (int) from + k), kept)), "mark, n=" + n + " m=" + m + " ties=" + ties);
                    boolean[] outside = new boolean[n];
                    for (int j = 0; j < n; j++) {
                        outside[j] = !expected[j];
                    }
                    assertArrayEquals(outside, marked(n, (from, k, kept) -> r.unmark(from, k, Arrays.copyOfRange(v, (int) from,
                            (int) from + k), kept)), "unmark, n=" + n + " m=" + m + " ties=" + ties);
                }
            }
        }
    }

    @Test
    void counterRandomMarksAreItsUniforms() {
        CounterRandom random = new CounterRandom(9, "layers.0.mlp", 2);
        int n = 3000;
        for (double p : new double[] {0, 0x1.0p-53, 0.1, 0.3, 0.5, Math.nextDown(1.0), 1, 1.5, -0.2}) {
            boolean[] expected = new boolean[n];
            for (int j = 0; j < n; j++) {
                expected[j] = random.uniform(j) < p;
            }
            assertArrayEquals(expected, marked(n, (from, k, kept) -> random.mark(from, k, p, kept)), "p=" + p);
        }
        // at the cut itself: the elements whose uniform is exactly p, and the ones just above and below it
        for (int j = 0; j < 50; j++) {
            double u = random.uniform(j);
            for (double p : new double[] {u, Math.nextUp(u), Math.nextDown(u)}) {
                boolean[] one = new boolean[1];
                random.mark(j, 1, p, one);
                assertEquals(u < p, one[0], "element " + j + ", p=" + p);
            }
        }
    }

    @Test
    void magnitudeRowMarksAreItsKeepsAcrossRowsAndBlocks() {
        SplittableRandom rnd = new SplittableRandom(4);
        for (int cols : new int[] {1, 5, 64, 700}) {
            int n = cols * 9;
            float[] v = values(rnd, n, cols % 2 == 1);
            Values reader = (from, k, out) -> System.arraycopy(v, (int) from, out, 0, k);
            MagnitudeRows one = new MagnitudeRows(cols, 64, 0.5, 0.2, new CounterRandom(1, "t", 0), () -> reader);
            MagnitudeRows blocks = new MagnitudeRows(cols, 64, 0.5, 0.2, new CounterRandom(1, "t", 0), () -> reader);
            boolean[] expected = new boolean[n];
            for (int j = 0; j < n; j++) {
                expected[j] = one.keeps(j);
            }
            assertArrayEquals(expected, marked(n, blocks::mark), "cols=" + cols);
            int kept = 0;
            for (boolean k : expected) {
                kept += k ? 1 : 0;
            }
            if (n >= 500) { // (the decisions are not all the same one)
                assertEquals(0.5, kept / (double) n, 0.1, "cols=" + cols);
            }
        }
    }

    private interface Marks {
        void mark(long from, int n, boolean[] kept);
    }

    /** Marks [0, n) in blocks of uneven lengths that start anywhere, into one array. */
    private static boolean[] marked(int n, Marks marks) {
        boolean[] all = new boolean[n];
        SplittableRandom rnd = new SplittableRandom(n);
        for (int from = 0; from < n; ) {
            int k = Math.min(n - from, 1 + rnd.nextInt(700));
            boolean[] block = new boolean[k + 3];
            Arrays.fill(block, true);
            marks.mark(from, k, block);
            System.arraycopy(block, 0, all, from, k);
            from += k;
        }
        return all;
    }
}
