package ugm.demo;

/** Labelled examples: row i of {@code x} (row-major, {@code features} wide) has class {@code y[i]}. */
record Dataset(double[] x, int[] y, int features) {

    Dataset {
        if (x.length != (long) y.length * features) {
            throw new IllegalArgumentException(y.length + " labels for " + x.length + " values of width " + features);
        }
    }

    int size() {
        return y.length;
    }

    /** This set followed by {@code other}. */
    Dataset concat(Dataset other) {
        double[] xs = new double[x.length + other.x.length];
        System.arraycopy(x, 0, xs, 0, x.length);
        System.arraycopy(other.x, 0, xs, x.length, other.x.length);
        int[] ys = new int[y.length + other.y.length];
        System.arraycopy(y, 0, ys, 0, y.length);
        System.arraycopy(other.y, 0, ys, y.length, other.y.length);
        return new Dataset(xs, ys, features);
    }
}
