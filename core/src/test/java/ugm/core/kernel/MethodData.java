package ugm.core.kernel;

import java.util.SplittableRandom;

/**
 * Random inputs shaped like a merge: weights near 0 with small task deltas, Fishers spread over
 * many orders of magnitude with exact zeros, and (optionally) elements where every Fisher is 0,
 * plus a few non-finite task values.
 */
final class MethodData {
    final float[] base;
    final float[] baseFisher;
    final float[][] x;
    final float[][] fisher;
    final float[] alphas;
    final float[] scales;
    final float[] signedWeights;

    private MethodData(int models, int length) {
        base = new float[length];
        baseFisher = new float[length];
        x = new float[models][length];
        fisher = new float[models][length];
        alphas = new float[models];
        scales = new float[models];
        signedWeights = new float[models];
    }

    static MethodData random(SplittableRandom rnd, int models, int length, boolean specials) {
        return random(rnd, models, length, specials, specials);
    }

    /**
     * @param zeros     make about one element in eight have every Fisher (the base's too) exactly 0
     * @param nonFinite put a NaN or infinity in about one element in a hundred of one task model
     */
    static MethodData random(SplittableRandom rnd, int models, int length, boolean zeros, boolean nonFinite) {
        MethodData d = new MethodData(models, length);
        float[] scaleChoices = {1f, 0.5f, 8530f, 25_000f, 180_000f};
        for (int t = 0; t < models; t++) {
            d.alphas[t] = (float) (0.2 + rnd.nextDouble());
            d.scales[t] = scaleChoices[rnd.nextInt(scaleChoices.length)];
            d.signedWeights[t] = (float) (rnd.nextDouble() * 2 - 0.7);
        }
        for (int i = 0; i < length; i++) {
            d.base[i] = (float) (rnd.nextGaussian() * 0.02);
            d.baseFisher[i] = fisherValue(rnd);
            boolean allZero = zeros && rnd.nextInt(8) == 0;
            if (allZero) {
                d.baseFisher[i] = 0f;
            }
            for (int t = 0; t < models; t++) {
                d.x[t][i] = d.base[i] + (float) (rnd.nextGaussian() * 1e-3);
                d.fisher[t][i] = allZero ? 0f : fisherValue(rnd);
            }
            if (nonFinite && rnd.nextInt(97) == 0) {
                float[] odd = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY};
                d.x[rnd.nextInt(models)][i] = odd[rnd.nextInt(odd.length)];
            }
        }
        return d;
    }

    /** 0 a quarter of the time, else log-uniform over [1e-12, 1e2]. */
    static float fisherValue(SplittableRandom rnd) {
        if (rnd.nextInt(4) == 0) {
            return 0f;
        }
        return (float) Math.pow(10, -12 + 14 * rnd.nextDouble());
    }
}
