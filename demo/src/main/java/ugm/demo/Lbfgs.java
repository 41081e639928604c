package ugm.demo;

/** Limited-memory BFGS with a backtracking (Armijo) line search, for smooth convex objectives. */
final class Lbfgs {

    /** A differentiable function: returns f(θ) and writes ∇f(θ) into {@code grad} (overwriting it). */
    @FunctionalInterface
    interface Objective {
        double evaluate(double[] theta, double[] grad);
    }

    /** Where the search stopped. */
    record Result(double[] theta, double value, double gradientNorm, int iterations) {
    }

    /**
     * Correction pairs kept. The demo's problems have about 2,000 parameters and are ill-conditioned
     * (weakly regularised softmax regression on raw pixels): with 200 pairs L-BFGS needs about 170
     * iterations where 12 pairs need about 800, and the two-loop recursion (4·200·n flops) stays
     * small beside one evaluation of the objective.
     */
    static final int MEMORY = 200;

    private Lbfgs() {
    }

    /** Minimises {@code f} from {@code start} until the gradient's max-norm is below {@code tolerance}. */
    static Result minimize(Objective f, double[] start, double tolerance, int maxIterations) {
        return minimize(f, start, tolerance, maxIterations, MEMORY);
    }

    /** As {@link #minimize(Objective, double[], double, int)}, keeping the last {@code memory} pairs. */
    static Result minimize(Objective f, double[] start, double tolerance, int maxIterations, int memory) {
        int n = start.length;
        double[] x = start.clone();
        double[] g = new double[n];
        double fx = f.evaluate(x, g);
        double[][] s = new double[memory][n];
        double[][] y = new double[memory][n];
        double[] rho = new double[memory];
        double[] a = new double[memory];
        int stored = 0;
        int iter = 0;
        double[] xNew = new double[n];
        double[] gNew = new double[n];
        double[] d = new double[n];
        double[] sTmp = new double[n];
        double[] yTmp = new double[n];
        while (iter < maxIterations && maxAbs(g) > tolerance) {
            iter++;
            // Two-loop recursion: d = −H·g.
            System.arraycopy(g, 0, d, 0, n);
            for (int i = stored - 1; i >= 0; i--) {
                a[i] = rho[i] * dot(s[i], d);
                axpy(-a[i], y[i], d);
            }
            double gamma = stored > 0 ? dot(s[stored - 1], y[stored - 1]) / dot(y[stored - 1], y[stored - 1])
                    : 1 / Math.sqrt(dot(g, g));
            scale(gamma, d);
            for (int i = 0; i < stored; i++) {
                double b = rho[i] * dot(y[i], d);
                axpy(a[i] - b, s[i], d);
            }
            scale(-1, d);
            double slope = dot(g, d);
            if (slope >= 0) { // not a descent direction: restart from steepest descent
                stored = 0;
                System.arraycopy(g, 0, d, 0, n);
                scale(-1 / Math.sqrt(dot(g, g)), d);
                slope = dot(g, d);
            }
            double step = 1;
            double fNew;
            while (true) {
                for (int j = 0; j < n; j++) {
                    xNew[j] = x[j] + step * d[j];
                }
                fNew = f.evaluate(xNew, gNew);
                if (fNew <= fx + 1e-4 * step * slope || step < 1e-10) {
                    break;
                }
                step *= 0.5;
            }
            if (!(fNew < fx)) {
                break; // no progress possible at this precision
            }
            for (int j = 0; j < n; j++) {
                sTmp[j] = xNew[j] - x[j];
                yTmp[j] = gNew[j] - g[j];
            }
            double sy = dot(sTmp, yTmp);
            if (sy > 1e-300) { // keep the pair only where it carries curvature
                if (stored == memory) {
                    rotate(s);
                    rotate(y);
                    System.arraycopy(rho, 1, rho, 0, memory - 1);
                    stored--;
                }
                System.arraycopy(sTmp, 0, s[stored], 0, n);
                System.arraycopy(yTmp, 0, y[stored], 0, n);
                rho[stored] = 1 / sy;
                stored++;
            }
            System.arraycopy(xNew, 0, x, 0, n);
            System.arraycopy(gNew, 0, g, 0, n);
            fx = fNew;
        }
        return new Result(x, fx, maxAbs(g), iter);
    }

    /** Moves the oldest row to the end, to be overwritten by the newest pair. */
    private static void rotate(double[][] m) {
        double[] first = m[0];
        System.arraycopy(m, 1, m, 0, m.length - 1);
        m[m.length - 1] = first;
    }

    static double dot(double[] u, double[] v) {
        double sum = 0;
        for (int i = 0; i < u.length; i++) {
            sum += u[i] * v[i];
        }
        return sum;
    }

    private static void axpy(double c, double[] u, double[] v) {
        for (int i = 0; i < u.length; i++) {
            v[i] += c * u[i];
        }
    }

    private static void scale(double c, double[] v) {
        for (int i = 0; i < v.length; i++) {
            v[i] *= c;
        }
    }

    static double maxAbs(double[] v) {
        double m = 0;
        for (double e : v) {
            m = Math.max(m, Math.abs(e));
        }
        return m;
    }
}
