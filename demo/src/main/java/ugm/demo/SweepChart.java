package ugm.demo;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import ugm.demo.Results.SweepPoint;

/** The λ sweep as an SVG chart: mean accuracy (left) and distance to the target (right) against λ. */
final class SweepChart {
    private static final int WIDTH = 960;
    private static final int HEIGHT = 436;
    private static final int PLOT_W = 360;
    private static final int PLOT_H = 260;
    private static final int TOP = 96;
    private static final int[] LEFTS = {90, 570};
    private static final String TA_COLOR = "#d95f02";
    private static final String GM_COLOR = "#1b63a5";
    private static final String TARGET_COLOR = "#444444";

    /** A line through points; {@code dashed} lines are references, drawn without markers. */
    record Series(String name, String color, double[] x, double[] y, boolean dashed) {
    }

    private SweepChart() {
    }

    static String svg(Results r) {
        List<SweepPoint> sweep = r.sweep();
        int n = sweep.size();
        double[] lambdas = new double[n];
        double[] taAcc = new double[n];
        double[] gmAcc = new double[n];
        double[] taDist = new double[n];
        double[] gmDist = new double[n];
        for (int i = 0; i < n; i++) {
            SweepPoint p = sweep.get(i);
            lambdas[i] = p.lambda();
            taAcc[i] = 100 * p.taskArithmetic().meanAccuracy();
            gmAcc[i] = 100 * p.gradientMatching().meanAccuracy();
            taDist[i] = p.taskArithmetic().distanceToTarget();
            gmDist[i] = p.gradientMatching().distanceToTarget();
        }
        double[] ends = {lambdas[0], lambdas[n - 1]};
        double targetAcc = 100 * r.target().meanAccuracy();
        double baseAcc = 100 * r.base().meanAccuracy();
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\""
                + " font-family=\"Helvetica, Arial, sans-serif\">%n", WIDTH, HEIGHT, WIDTH, HEIGHT));
        b.append(String.format(Locale.ROOT, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>%n", WIDTH, HEIGHT));
        text(b, WIDTH / 2.0, 28, "middle", 18, "bold", "ugm demo: scaling factor λ for task arithmetic and gradient matching");
        legend(b, WIDTH / 2.0 - 290, 56);
        panel(b, LEFTS[0], "Mean held-out accuracy (%)", List.of(
                new Series("target", TARGET_COLOR, ends, new double[] {targetAcc, targetAcc}, true),
                new Series("base", "#999999", ends, new double[] {baseAcc, baseAcc}, true),
                new Series("task_arithmetic", TA_COLOR, lambdas, taAcc, false),
                new Series("gradient_matching", GM_COLOR, lambdas, gmAcc, false)), false);
        panel(b, LEFTS[1], "Distance to the target (L2)", List.of(
                new Series("task_arithmetic", TA_COLOR, lambdas, taDist, false),
                new Series("gradient_matching", GM_COLOR, lambdas, gmDist, false)), true);
        b.append("</svg>\n");
        return b.toString();
    }

    private static void legend(StringBuilder b, double x, double y) {
        String[][] items = {{"task_arithmetic", TA_COLOR, ""}, {"gradient_matching", GM_COLOR, ""},
                {"target (joint training)", TARGET_COLOR, "6 4"}, {"base", "#999999", "6 4"}};
        double at = x;
        for (String[] it : items) {
            b.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2.5\"%s/>%n",
                    at, y - 4, at + 24, y - 4, it[1], it[2].isEmpty() ? "" : " stroke-dasharray=\"" + it[2] + "\""));
            if (it[2].isEmpty()) {
                marker(b, at + 12, y - 4, it[1]);
            }
            text(b, at + 30, y, "start", 13, "normal", it[0]);
            at += 48 + 6.4 * it[0].length();
        }
    }

    private static void panel(StringBuilder b, int left, String title, List<Series> series, boolean fromZero) {
        double xMin = Double.POSITIVE_INFINITY;
        double xMax = Double.NEGATIVE_INFINITY;
        double yMin = fromZero ? 0 : Double.POSITIVE_INFINITY;
        double yMax = Double.NEGATIVE_INFINITY;
        for (Series s : series) {
            for (int i = 0; i < s.x().length; i++) {
                xMin = Math.min(xMin, s.x()[i]);
                xMax = Math.max(xMax, s.x()[i]);
                yMin = Math.min(yMin, s.y()[i]);
                yMax = Math.max(yMax, s.y()[i]);
            }
        }
        double pad = (yMax - yMin) * 0.08 + 1e-9;
        yMax += pad;
        if (!fromZero) {
            yMin -= pad;
        }
        double[] yTicks = ticks(yMin, yMax, 8);
        yMin = Math.min(yMin, yTicks[0]);
        yMax = Math.max(yMax, yTicks[yTicks.length - 1]);
        Scale sx = new Scale(xMin - 0.05, xMax + 0.05, left, left + PLOT_W);
        Scale sy = new Scale(yMin, yMax, TOP + PLOT_H, TOP);
        text(b, left + PLOT_W / 2.0, TOP - 10, "middle", 14, "bold", title);
        for (double t : yTicks) {
            double y = sy.map(t);
            b.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>%n",
                    left, y, left + PLOT_W, y));
            b.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"black\"/>%n",
                    left - 5, y, left, y));
            text(b, left - 8, y + 4, "end", 12, "normal", label(t, yTicks));
        }
        for (double t : ticks(xMin, xMax, 10)) {
            double x = sx.map(t);
            b.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"black\"/>%n",
                    x, TOP + PLOT_H, x, TOP + PLOT_H + 5));
            text(b, x, TOP + PLOT_H + 20, "middle", 12, "normal", String.format(Locale.ROOT, "%.1f", t));
        }
        double one = sx.map(1.0);
        b.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#bbbbbb\" stroke-dasharray=\"2 3\"/>%n",
                one, TOP, one, TOP + PLOT_H));
        b.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"black\"/>%n",
                left, TOP, PLOT_W, PLOT_H));
        text(b, left + PLOT_W / 2.0, TOP + PLOT_H + 44, "middle", 13, "normal", "λ (scaling factor)");
        for (Series s : series) {
            StringBuilder pts = new StringBuilder();
            for (int i = 0; i < s.x().length; i++) {
                pts.append(String.format(Locale.ROOT, "%.1f,%.1f ", sx.map(s.x()[i]), sy.map(s.y()[i])));
            }
            b.append(String.format(Locale.ROOT, "<polyline points=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"%s\"%s/>%n",
                    pts.toString().trim(), s.color(), s.dashed() ? "1.5" : "2.5", s.dashed() ? " stroke-dasharray=\"6 4\"" : ""));
            if (!s.dashed()) {
                for (int i = 0; i < s.x().length; i++) {
                    marker(b, sx.map(s.x()[i]), sy.map(s.y()[i]), s.color());
                }
            }
        }
    }

    private static void marker(StringBuilder b, double x, double y, String color) {
        b.append(String.format(Locale.ROOT, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"/>%n", x, y, color));
    }

    private static void text(StringBuilder b, double x, double y, String anchor, int size, String weight, String s) {
        b.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" font-size=\"%d\" font-weight=\"%s\">%s</text>%n",
                x, y, anchor, size, weight, s.replace("&", "&amp;").replace("<", "&lt;")));
    }

    /** Tick values at a 1, 2 or 5 × 10^k step covering [lo, hi] with about {@code count} ticks. */
    static double[] ticks(double lo, double hi, int count) {
        double raw = (hi - lo) / Math.max(1, count - 1);
        double mag = Math.pow(10, Math.floor(Math.log10(raw)));
        double step = mag;
        for (double m : new double[] {1, 2, 5, 10}) {
            if (m * mag >= raw) {
                step = m * mag;
                break;
            }
        }
        List<Double> t = new ArrayList<>();
        for (double v = Math.floor(lo / step + 1e-9) * step; v <= hi + step * 1e-9; v += step) {
            if (v >= lo - step * 1e-9) {
                t.add(Math.round(v / step) * step);
            }
        }
        if (t.isEmpty()) {
            t.add(lo);
        }
        return t.stream().mapToDouble(Double::doubleValue).toArray();
    }

    private static String label(double v, double[] ticks) {
        double step = ticks.length > 1 ? ticks[1] - ticks[0] : 1;
        int decimals = Math.max(0, (int) Math.ceil(-Math.log10(step) - 1e-9));
        return String.format(Locale.ROOT, "%." + decimals + "f", v);
    }

    private record Scale(double from, double to, double px0, double px1) {
        double map(double v) {
            return px0 + (v - from) / (to - from) * (px1 - px0);
        }
    }
}
