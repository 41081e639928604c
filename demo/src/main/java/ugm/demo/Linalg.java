package ugm.demo;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The demo's inner loops over doubles, with the Vector API: dot products and multiply-adds of
 * array slices. 256-bit vectors where the machine has them (the same sums on every such machine),
 * else the machine's preferred size.
 */
final class Linalg {
    static final VectorSpecies<Double> S = DoubleVector.SPECIES_PREFERRED.vectorBitSize() >= 256
            ? DoubleVector.SPECIES_256 : DoubleVector.SPECIES_PREFERRED;
    private static final int L = S.length();

    private Linalg() {
    }

    /** {@code Σj a[ao+j]·b[bo+j]} for j < n. */
    static double dot(double[] a, int ao, double[] b, int bo, int n) {
        DoubleVector s0 = DoubleVector.zero(S);
        DoubleVector s1 = DoubleVector.zero(S);
        int j = 0;
        for (; j + 2 * L <= n; j += 2 * L) {
            s0 = DoubleVector.fromArray(S, a, ao + j).fma(DoubleVector.fromArray(S, b, bo + j), s0);
            s1 = DoubleVector.fromArray(S, a, ao + j + L).fma(DoubleVector.fromArray(S, b, bo + j + L), s1);
        }
        for (; j + L <= n; j += L) {
            s0 = DoubleVector.fromArray(S, a, ao + j).fma(DoubleVector.fromArray(S, b, bo + j), s0);
        }
        double s = sum(s0.add(s1));
        for (; j < n; j++) {
            s += a[ao + j] * b[bo + j];
        }
        return s;
    }

    /**
     * Four dot products sharing {@code w}: {@code out[k] = Σj w[wo+j]·x[xk+j]} for the four row
     * offsets x0..x3, j < n.
     */
    static void dot4(double[] w, int wo, double[] x, int x0, int x1, int x2, int x3, int n, double[] out) {
        DoubleVector s0 = DoubleVector.zero(S);
        DoubleVector s1 = DoubleVector.zero(S);
        DoubleVector s2 = DoubleVector.zero(S);
        DoubleVector s3 = DoubleVector.zero(S);
        int j = 0;
        for (; j + L <= n; j += L) {
            DoubleVector v = DoubleVector.fromArray(S, w, wo + j);
            s0 = v.fma(DoubleVector.fromArray(S, x, x0 + j), s0);
            s1 = v.fma(DoubleVector.fromArray(S, x, x1 + j), s1);
            s2 = v.fma(DoubleVector.fromArray(S, x, x2 + j), s2);
            s3 = v.fma(DoubleVector.fromArray(S, x, x3 + j), s3);
        }
        double r0 = sum(s0);
        double r1 = sum(s1);
        double r2 = sum(s2);
        double r3 = sum(s3);
        for (; j < n; j++) {
            double c = w[wo + j];
            r0 += c * x[x0 + j];
            r1 += c * x[x1 + j];
            r2 += c * x[x2 + j];
            r3 += c * x[x3 + j];
        }
        out[0] = r0;
        out[1] = r1;
        out[2] = r2;
        out[3] = r3;
    }

    /** The lanes of {@code v} added in lane order. */
    static double sum(DoubleVector v) {
        double s = 0;
        for (int i = 0; i < L; i++) {
            s += v.lane(i);
        }
        return s;
    }

    /** {@code y[yo+j] += c·x[xo+j]} for j < n. */
    static void axpy(double c, double[] x, int xo, double[] y, int yo, int n) {
        DoubleVector cv = DoubleVector.broadcast(S, c);
        int j = 0;
        for (; j + L <= n; j += L) {
            DoubleVector.fromArray(S, x, xo + j).fma(cv, DoubleVector.fromArray(S, y, yo + j)).intoArray(y, yo + j);
        }
        for (; j < n; j++) {
            y[yo + j] += c * x[xo + j];
        }
    }

    /** {@code y[yo+j] += c0·x[x0+j] + c1·x[x1+j] + c2·x[x2+j] + c3·x[x3+j]} for j < n. */
    static void axpy4(double c0, double c1, double c2, double c3, double[] x, int x0, int x1, int x2, int x3,
                      double[] y, int yo, int n) {
        DoubleVector v0 = DoubleVector.broadcast(S, c0);
        DoubleVector v1 = DoubleVector.broadcast(S, c1);
        DoubleVector v2 = DoubleVector.broadcast(S, c2);
        DoubleVector v3 = DoubleVector.broadcast(S, c3);
        int j = 0;
        for (; j + L <= n; j += L) {
            DoubleVector acc = DoubleVector.fromArray(S, y, yo + j);
            acc = DoubleVector.fromArray(S, x, x0 + j).fma(v0, acc);
            acc = DoubleVector.fromArray(S, x, x1 + j).fma(v1, acc);
            acc = DoubleVector.fromArray(S, x, x2 + j).fma(v2, acc);
            acc = DoubleVector.fromArray(S, x, x3 + j).fma(v3, acc);
            acc.intoArray(y, yo + j);
        }
        for (; j < n; j++) {
            y[yo + j] += c0 * x[x0 + j] + c1 * x[x1 + j] + c2 * x[x2 + j] + c3 * x[x3 + j];
        }
    }
}
