package ugm.demo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The image transforms against what they must do to simple images. */
class ImagesTest {
    private static final int H = 28;
    private static final int W = 28;

    private static double[] random(long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        double[] img = new double[H * W];
        for (int i = 0; i < img.length; i++) {
            img[i] = r.nextDouble();
        }
        return img;
    }

    private static double[] oneHot(int r, int c) {
        double[] img = new double[H * W];
        img[r * W + c] = 1;
        return img;
    }

    @Test
    void flippingTwiceIsTheIdentityAndOnceMirrorsTheColumns() {
        double[] img = random(1);
        assertArrayEquals(img, Images.flipHorizontal(Images.flipHorizontal(img, H, W), H, W));
        assertArrayEquals(oneHot(4, 27 - 9), Images.flipHorizontal(oneHot(4, 9), H, W));
    }

    @Test
    void rotatingByZeroAndZoomingByOneAreTheIdentity() {
        double[] img = random(2);
        assertArrayEquals(img, Images.rotate(img, H, W, 0));
        assertArrayEquals(img, Images.zoom(img, H, W, 1));
    }

    @Test
    void shiftMovesAPixelAndDropsWhatLeavesTheImage() {
        assertArrayEquals(oneHot(8, 11), Images.shift(oneHot(5, 11), H, W, 3, 0));
        assertArrayEquals(oneHot(5, 9), Images.shift(oneHot(5, 11), H, W, 0, -2));
        assertArrayEquals(new double[H * W], Images.shift(oneHot(26, 11), H, W, 3, 0));
        double[] shifted = Images.shift(random(3), H, W, 3, 0);
        for (int r = 0; r < 3; r++) {
            for (int c = 0; c < W; c++) {
                assertEquals(0, shifted[r * W + c], "vacated row " + r);
            }
        }
    }

    @Test
    void quarterAndHalfTurnsMovePixelsWhereTheGeometrySays() {
        // Counter-clockwise by 90° about the centre (13.5, 13.5): a pixel right of the centre goes above it.
        // With x = c − 13.5 and y = 13.5 − r (up), (x, y) → (−y, x): (5, 20) is (6.5, 8.5) → (−8.5, 6.5), i.e. row 7, column 5.
        assertArrayEquals(oneHot(7, 5), Images.rotate(oneHot(5, 20), H, W, 90), 1e-12);
        assertArrayEquals(oneHot(20, 22), Images.rotate(oneHot(5, 20), H, W, -90), 1e-12);
        // A half turn is the two mirrors.
        double[] img = random(4);
        double[] both = new double[H * W];
        for (int r = 0; r < H; r++) {
            for (int c = 0; c < W; c++) {
                both[r * W + c] = img[(H - 1 - r) * W + (W - 1 - c)];
            }
        }
        assertArrayEquals(both, Images.rotate(img, H, W, 180), 1e-12);
    }

    /** f(r, c) = 2r − 3c + 100: bilinear interpolation reproduces a linear function exactly. */
    private static double ramp(double r, double c) {
        return 2 * r - 3 * c + 100;
    }

    private static double[] rampImage() {
        double[] img = new double[H * W];
        for (int r = 0; r < H; r++) {
            for (int c = 0; c < W; c++) {
                img[r * W + c] = ramp(r, c);
            }
        }
        return img;
    }

    @Test
    void rotationReadsTheRotatedPositionInsideTheImageAndBlackOutside() {
        double deg = 15;
        double[] out = Images.rotate(rampImage(), H, W, deg);
        double t = Math.toRadians(deg);
        int inside = 0;
        for (int r = 0; r < H; r++) {
            for (int c = 0; c < W; c++) {
                // The output pixel shows the input point it came from: the output offset from the
                // centre turned clockwise by t (in rows pointing down, columns pointing right).
                double dr = r - 13.5;
                double dc = c - 13.5;
                double sr = 13.5 + Math.cos(t) * dr + Math.sin(t) * dc;
                double sc = 13.5 - Math.sin(t) * dr + Math.cos(t) * dc;
                if (sr >= 0 && sr <= H - 1 && sc >= 0 && sc <= W - 1) {
                    assertEquals(ramp(sr, sc), out[r * W + c], 1e-9, "pixel " + r + "," + c);
                    inside++;
                } else if (sr < -1 || sr > H || sc < -1 || sc > W) {
                    assertEquals(0, out[r * W + c], "pixel " + r + "," + c + " comes from outside");
                }
            }
        }
        assertEquals(true, inside > 600, "most pixels come from inside");
    }

    @Test
    void zoomReadsNearerTheCentre() {
        double[] out = Images.zoom(rampImage(), H, W, 1.25);
        for (int r = 0; r < H; r++) {
            for (int c = 0; c < W; c++) {
                assertEquals(ramp(13.5 + (r - 13.5) / 1.25, 13.5 + (c - 13.5) / 1.25), out[r * W + c], 1e-9);
            }
        }
        // Shrinking leaves a black border.
        double[] small = Images.zoom(rampImage(), H, W, 0.5);
        assertEquals(0, small[0]);
        assertEquals(ramp(13.5 + (14 - 13.5) * 2, 13.5 + (13 - 13.5) * 2), small[14 * W + 13], 1e-9);
    }

    @Test
    void poolingAveragesBlocks() {
        double[] img = {1, 2, 3, 4,
                        5, 6, 7, 8,
                        9, 10, 11, 12,
                        13, 14, 15, 17};
        assertArrayEquals(new double[] {3.5, 5.5, 11.5, 13.75}, Images.pool(img, 4, 4, 2), 1e-15);
        assertArrayEquals(new double[] {137 / 16.0}, Images.pool(img, 4, 4, 4), 1e-15);
    }
}
