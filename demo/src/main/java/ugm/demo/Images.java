package ugm.demo;

/**
 * Transforms of one grey image, {@code h × w} values in row-major order (row 0 at the top).
 * Rotation and zoom map every output pixel back into the input, about the image centre
 * {@code ((h−1)/2, (w−1)/2)}, and read it there by bilinear interpolation: the four nearest
 * pixels weighted by {@code (1−|Δr|)(1−|Δc|)}, pixels outside the image counting as 0 (black).
 * Shifts and flips move whole pixels. All return a new array.
 */
final class Images {

    private Images() {
    }

    /** Rotated by {@code degrees} counter-clockwise as displayed. */
    static double[] rotate(double[] img, int h, int w, double degrees) {
        double phi = Math.toRadians(degrees);
        double cos = Math.cos(phi);
        double sin = Math.sin(phi);
        double cr = (h - 1) / 2.0;
        double cc = (w - 1) / 2.0;
        double[] out = new double[h * w];
        for (int r = 0; r < h; r++) {
            for (int c = 0; c < w; c++) {
                // (x, y) with y pointing up; the output pixel shows the input at R(−φ)·(x, y).
                double x = c - cc;
                double y = cr - r;
                double xs = cos * x + sin * y;
                double ys = -sin * x + cos * y;
                out[r * w + c] = bilinear(img, h, w, cr - ys, cc + xs);
            }
        }
        return out;
    }

    /** Magnified {@code factor} times about the centre (the borders fall outside; factor < 1 shrinks). */
    static double[] zoom(double[] img, int h, int w, double factor) {
        double cr = (h - 1) / 2.0;
        double cc = (w - 1) / 2.0;
        double[] out = new double[h * w];
        for (int r = 0; r < h; r++) {
            for (int c = 0; c < w; c++) {
                out[r * w + c] = bilinear(img, h, w, cr + (r - cr) / factor, cc + (c - cc) / factor);
            }
        }
        return out;
    }

    /** Moved {@code down} pixels down and {@code right} pixels right (negative: up, left); vacated pixels are 0. */
    static double[] shift(double[] img, int h, int w, int down, int right) {
        double[] out = new double[h * w];
        for (int r = 0; r < h; r++) {
            for (int c = 0; c < w; c++) {
                int sr = r - down;
                int sc = c - right;
                if (sr >= 0 && sr < h && sc >= 0 && sc < w) {
                    out[r * w + c] = img[sr * w + sc];
                }
            }
        }
        return out;
    }

    /** Mirrored left to right. */
    static double[] flipHorizontal(double[] img, int h, int w) {
        double[] out = new double[h * w];
        for (int r = 0; r < h; r++) {
            for (int c = 0; c < w; c++) {
                out[r * w + c] = img[r * w + (w - 1 - c)];
            }
        }
        return out;
    }

    /** The mean of each {@code f × f} block: an {@code (h/f) × (w/f)} image. */
    static double[] pool(double[] img, int h, int w, int f) {
        if (h % f != 0 || w % f != 0) {
            throw new IllegalArgumentException(h + " x " + w + " does not split into " + f + " x " + f + " blocks");
        }
        int ph = h / f;
        int pw = w / f;
        double[] out = new double[ph * pw];
        for (int r = 0; r < h; r++) {
            for (int c = 0; c < w; c++) {
                out[(r / f) * pw + c / f] += img[r * w + c];
            }
        }
        double n = (double) f * f;
        for (int i = 0; i < out.length; i++) {
            out[i] /= n;
        }
        return out;
    }

    /** The image at the real position (r, c), from its four nearest pixels; outside counts as 0. */
    static double bilinear(double[] img, int h, int w, double r, double c) {
        int r0 = (int) Math.floor(r);
        int c0 = (int) Math.floor(c);
        double fr = r - r0;
        double fc = c - c0;
        return (1 - fr) * ((1 - fc) * pixel(img, h, w, r0, c0) + fc * pixel(img, h, w, r0, c0 + 1))
                + fr * ((1 - fc) * pixel(img, h, w, r0 + 1, c0) + fc * pixel(img, h, w, r0 + 1, c0 + 1));
    }

    private static double pixel(double[] img, int h, int w, int r, int c) {
        return r >= 0 && r < h && c >= 0 && c < w ? img[r * w + c] : 0;
    }
}
