package ugm.demo;

import java.util.Arrays;

/**
 * The regularised training objective, per example: {@code (Σ_i ℓ_i(θ) + ½ Σ_j P_j (θ_j − c_j)²) / n}.
 * With {@code P = δ0, c = 0} it trains the base; with {@code P = P0, c = θ0} it fine-tunes.
 */
record Training(SoftmaxRegression model, Dataset data, double[] precision, double[] center) implements Lbfgs.Objective {

    static final double TOLERANCE = 1e-8;

    static Training weightDecay(SoftmaxRegression model, Dataset data, double decay) {
        double[] p = new double[model.size()];
        Arrays.fill(p, decay);
        return new Training(model, data, p, new double[model.size()]);
    }

    @Override
    public double evaluate(double[] theta, double[] grad) {
        Arrays.fill(grad, 0);
        double f = model.lossAndGradient(theta, data, grad);
        for (int j = 0; j < theta.length; j++) {
            double d = theta[j] - center[j];
            f += 0.5 * precision[j] * d * d;
            grad[j] += precision[j] * d;
        }
        double n = data.size();
        for (int j = 0; j < grad.length; j++) {
            grad[j] /= n;
        }
        return f / n;
    }

    /** The minimiser, started from {@code start}. */
    Lbfgs.Result fit(double[] start, int maxIterations) {
        return Lbfgs.minimize(this, start, TOLERANCE, maxIterations);
    }

    /** The Euclidean norm of the objective's gradient at {@code theta}. */
    double gradientNorm(double[] theta) {
        double[] g = new double[theta.length];
        evaluate(theta, g);
        return Math.sqrt(Lbfgs.dot(g, g));
    }
}
