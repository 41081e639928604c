package ugm.demo;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import ugm.demo.Results.RemovalPoint;
import ugm.demo.Results.SweepPoint;

/**
 * The demo's charts as SVG, two panels each: the λ sweep (mean accuracy and distance to the
 * target against λ) and the removal trade-off (accuracy kept on the other tasks against accuracy
 * left on the removed task, and the clamp's share of gradient matching's step against λ).
 */
final class SweepChart {
    private static final int WIDTH = 960;
    private static final int HEIGHT = 446;
    private static final int PLOT_W = 360;
    private static final int PLOT_H = 260;
    private static final int TOP = 106;
    private static final int[] LEFTS = {90, 570};
    private static final String TA_COLOR = "#d95f02";
    private static final String GM_COLOR = "#1b63a5";
    private static final String TARGET_COLOR = "#444444";
    private static final String BASE_COLOR = "#999999";
    private static final String CLAMP_COLOR = "#7b3294";
    private static final String SHARE_COLOR = "#1b9e77";
    private static final String LAMBDA = "λ (scaling factor)";

    /**
     * A line through points; {@code dashed} lines are references, drawn without markers.
     * {@code notes}, when given, labels some points (null entries are skipped).
     */
    record Series(String name, String color, double[] x, double[] y, boolean dashed, String[] notes) {
        Series(String name, String color, double[] x, double[] y, boolean dashed) {
            this(name, color, x, y, dashed, null);
        }
    }

    /** A panel's axes: {@code markX} draws a dotted vertical line there (NaN: none). */
    private record Axes(String title, String xLabel, boolean yFromZero, double markX) {
    }

    private SweepChart() {
    }

    private static String heading(Results r, String what) {
        String data = r.setup().source().name();
        return "ugm demo (" + data + "): " + what;
    }

    private static String seedsNote(Summary s) {
        return s.runs().size() > 1 ? " (mean over " + s.runs().size() + " seeds)" : "";
    }

    static String svg(Summary sum) {
        Results r = sum.mean();
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
        StringBuilder b = start(heading(r, "scaling factor λ for task arithmetic and gradient matching" + seedsNote(sum)));
        legend(b, WIDTH / 2.0 - 290, 62, new String[][] {{"task_arithmetic", TA_COLOR, ""}, {"gradient_matching", GM_COLOR, ""},
                {"target (joint training)", TARGET_COLOR, "6 4"}, {"base", BASE_COLOR, "6 4"}});
        panel(b, LEFTS[0], new Axes("Mean held-out accuracy (%)", LAMBDA, false, 1.0), List.of(
                new Series("target", TARGET_COLOR, ends, new double[] {targetAcc, targetAcc}, true),
                new Series("base", BASE_COLOR, ends, new double[] {baseAcc, baseAcc}, true),
                new Series("task_arithmetic", TA_COLOR, lambdas, taAcc, false),
                new Series("gradient_matching", GM_COLOR, lambdas, gmAcc, false)));
        panel(b, LEFTS[1], new Axes("Distance to the target (L2)", LAMBDA, true, 1.0), List.of(
                new Series("task_arithmetic", TA_COLOR, lambdas, taDist, false),
                new Series("gradient_matching", GM_COLOR, lambdas, gmDist, false)));
        b.append("</svg>\n");
        return b.toString();
    }

    /** The removal sweep: the trade-off of both methods, and the share of gradient matching's step set by the clamp. */
    static String removalSvg(Summary sum) {
        Results r = sum.mean();
        List<RemovalPoint> points = r.removal();
        int n = points.size();
        double[] lambdas = new double[n];
        double[] taRemoved = new double[n];
        double[] taOthers = new double[n];
        double[] gmRemoved = new double[n];
        double[] gmOthers = new double[n];
        double[] share = new double[n];
        double[] clamped = new double[n];
        String[] notes = new String[n];
        for (int i = 0; i < n; i++) {
            RemovalPoint p = points.get(i);
            lambdas[i] = p.lambda();
            taRemoved[i] = 100 * p.taskArithmetic().removedAccuracy();
            taOthers[i] = 100 * p.taskArithmetic().othersAccuracy();
            gmRemoved[i] = 100 * p.gradientMatching().removedAccuracy();
            gmOthers[i] = 100 * p.gradientMatching().othersAccuracy();
            share[i] = 100 * p.gradientMatching().clampedShare();
            clamped[i] = 100 * p.gradientMatching().clampedElements() / r.setup().parameters();
            double l = p.lambda();
            boolean labelled = Math.abs(l - 0.5) < 1e-9 || Math.abs(l - 1) < 1e-9 || i == n - 1;
            notes[i] = labelled ? String.format(Locale.ROOT, "λ=%s", trim(l)) : null;
        }
        String task = r.setup().taskNames().get(Results.REMOVED);
        double baseRemoved = 100 * r.removedBase().removedAccuracy();
        double baseOthers = 100 * r.removedBase().othersAccuracy();
        StringBuilder b = start(heading(r, "removing task " + (Results.REMOVED + 1) + " (" + task + ") from the base" + seedsNote(sum)));
        legend(b, LEFTS[0], 66, new String[][] {{"task_arithmetic", TA_COLOR, ""}, {"gradient_matching", GM_COLOR, ""},
                {"base", BASE_COLOR, ""}});
        legend(b, LEFTS[1], 56, new String[][] {{"share of GM's step (of its squared length)", SHARE_COLOR, ""}});
        legend(b, LEFTS[1], 76, new String[][] {{"clamped elements (of all parameters)", CLAMP_COLOR, ""}});
        panel(b, LEFTS[0], new Axes("Accuracy kept on the other tasks (%)", "accuracy left on " + task + " (%)", false, Double.NaN), List.of(
                new Series("task_arithmetic", TA_COLOR, taRemoved, taOthers, false, notes),
                new Series("gradient_matching", GM_COLOR, gmRemoved, gmOthers, false, notes),
                new Series("base", BASE_COLOR, new double[] {baseRemoved}, new double[] {baseOthers}, false)));
        panel(b, LEFTS[1], new Axes("Gradient matching's clamp (%)", LAMBDA, true, 1.0), List.of(
                new Series("share of the step", SHARE_COLOR, lambdas, share, false),
                new Series("clamped elements", CLAMP_COLOR, lambdas, clamped, false)));
        b.append("</svg>\n");
        return b.toString();
    }

    private static String trim(double v) {
        return v == Math.rint(v) ? String.format(Locale.ROOT, "%.0f", v) : String.format(Locale.ROOT, "%.1f", v);
    }

    private static StringBuilder start(String title) {
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\""
                + " font-family=\"Helvetica, Arial, sans-serif\">%n", WIDTH, HEIGHT, WIDTH, HEIGHT));
        b.append(String.format(Locale.ROOT, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>%n", WIDTH, HEIGHT));
        text(b, WIDTH / 2.0, 28, "middle", 18, "bold", title);
        return b;
    }

    private static void legend(StringBuilder b, double x, double y, String[][] items) {
        double at = x;
        for (String[] it : items) {
            b.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2.5\"%s/>%n",
                    at, y - 4, at + 24, y - 4, it[1], it[2].isEmpty() ? "" : " stroke-dasharray=\"" + it[2] + "\""));
            if (it[2].isEmpty()) {
                marker(b, at + 12, y - 4, it[1]);
            }
            text(b, at + 30, y, "start", 13, "normal", it[0]);
            at += 52 + 7.0 * it[0].length();
        }
    }

    private static void panel(StringBuilder b, int left, Axes axes, List<Series> series) {
        double xMin = Double.POSITIVE_INFINITY;
        double xMax = Double.NEGATIVE_INFINITY;
        double yMin = axes.yFromZero() ? 0 : Double.POSITIVE_INFINITY;
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
        if (!axes.yFromZero()) {
            yMin -= pad;
        }
        double[] yTicks = ticks(yMin, yMax, 8);
        yMin = Math.min(yMin, yTicks[0]);
        yMax = Math.max(yMax, yTicks[yTicks.length - 1]);
        double xPad = (xMax - xMin) * 0.04 + 1e-9;
        Scale sx = new Scale(xMin - xPad, xMax + xPad, left, left + PLOT_W);
        Scale sy = new Scale(yMin, yMax, TOP + PLOT_H, TOP);
        text(b, left + PLOT_W / 2.0, TOP - 10, "middle", 14, "bold", axes.title());
        for (double t : yTicks) {
            double y = sy.map(t);
            b.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>%n",
                    left, y, left + PLOT_W, y));
            b.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"black\"/>%n",
                    left - 5, y, left, y));
            text(b, left - 8, y + 4, "end", 12, "normal", label(t, yTicks));
        }
        double[] xTicks = ticks(xMin, xMax, 10);
        for (double t : xTicks) {
            double x = sx.map(t);
            b.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"black\"/>%n",
                    x, TOP + PLOT_H, x, TOP + PLOT_H + 5));
            text(b, x, TOP + PLOT_H + 20, "middle", 12, "normal", label(t, xTicks));
        }
        if (!Double.isNaN(axes.markX())) {
            double mark = sx.map(axes.markX());
            b.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#bbbbbb\" stroke-dasharray=\"2 3\"/>%n",
                    mark, TOP, mark, TOP + PLOT_H));
        }
        b.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"black\"/>%n",
                left, TOP, PLOT_W, PLOT_H));
        text(b, left + PLOT_W / 2.0, TOP + PLOT_H + 44, "middle", 13, "normal", axes.xLabel());
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
                    if (s.notes() != null && s.notes()[i] != null) {
                        text(b, sx.map(s.x()[i]) + 6, sy.map(s.y()[i]) - 6, "start", 11, "normal", s.notes()[i]);
                    }
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
        if (!(raw > 0)) {
            return new double[] {lo};
        }
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
            return to == from ? (px0 + px1) / 2 : px0 + (v - from) / (to - from) * (px1 - px0);
        }
    }
}
