package ugm.core.merge.sparsify;

import java.nio.charset.StandardCharsets;

/**
 * A counter-based generator: the uniform number for (seed, tensor, model, element) is a hash of
 * those four, so it does not depend on which thread computes the element, on the chunk size or on
 * the order elements are visited. The hash is SplitMix64's finaliser applied to a mix of the key.
 */
public final class CounterRandom {
    private static final long GOLDEN = 0x9E3779B97F4A7C15L;
    private final long key;

    /** The stream of one model's tensor: {@code model} tells models apart, so each drops its own elements. */
    public CounterRandom(long seed, String tensor, int model) {
        long h = mix(seed ^ 0x5DEECE66DL);
        for (byte b : tensor.getBytes(StandardCharsets.UTF_8)) {
            h = mix(h ^ (b & 0xFF));
        }
        this.key = mix(h + GOLDEN * (model + 1));
    }

    /** A uniform double in [0, 1) for element {@code index}. */
    public double uniform(long index) {
        return (mix(key + GOLDEN * (index + 1)) >>> 11) * 0x1.0p-53;
    }

    /**
     * {@code kept[j] = uniform(from + j) < p} for j &lt; n: the block form a merge computes, on the
     * integers: uniform is u·2^-53 for the integer u = hash >>> 11, exactly, so it is below p where
     * u is below ⌈p·2^53⌉ (p·2^53 too is exact).
     */
    public void mark(long from, int n, double p, boolean[] kept) {
        long below = p >= 1 ? 1L << 53 : p > 0 ? (long) Math.ceil(p * 0x1.0p53) : 0;
        long z = key + GOLDEN * (from + 1);
        for (int j = 0; j < n; j++, z += GOLDEN) {
            kept[j] = mix(z) >>> 11 < below;
        }
    }

    /** SplitMix64's finaliser: a bijective 64-bit hash. */
    public static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
