package ugm.core.merge.sparsify;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The radix select against a sort, on sizes that end blocks early, with duplicates, zeros and wide ranges. */
class OrderStatisticsTest {
    @Test
    void ranksAreTheSortedValues() {
        SplittableRandom rnd = new SplittableRandom(3);
        for (int count : new int[] {1, 2, 63, 64, 65, 1031, 5000}) {
            float[] v = new float[count];
            for (int j = 0; j < count; j++) {
                int kind = rnd.nextInt(4);
                v[j] = switch (kind) {
                    case 0 -> 0f;
                    case 1 -> (float) Math.abs(rnd.nextGaussian());
                    case 2 -> (float) Math.scalb(rnd.nextDouble(), rnd.nextInt(-60, 60));
                    default -> v[Math.max(0, j - 1)]; // repeats
                };
            }
            float[] sorted = v.clone();
            Arrays.sort(sorted);
            long[] ranks = {0, (count - 1) / 4, (count - 1) / 2, (long) (0.75 * (count - 1)), count - 1, (count - 1) / 2};
            float[] got = OrderStatistics.ascending(new float[64], count, (from, n, out) -> System.arraycopy(v, (int) from, out, 0, n),
                    ranks);
            for (int k = 0; k < ranks.length; k++) {
                assertEquals(sorted[(int) ranks[k]], got[k], 0, "rank " + ranks[k] + " of " + count);
            }
        }
    }
}
