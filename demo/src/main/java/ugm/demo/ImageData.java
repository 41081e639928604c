package ugm.demo;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.UnaryOperator;
import java.util.stream.IntStream;
import ugm.core.UgmException;
import ugm.demo.SoftmaxRegression.FisherKind;

/**
 * Grey images with labels in IDX files (Fashion-MNIST's format), split into a pretraining set
 * of original images and one task per {@link Domain}: the same labels under a fixed image
 * transform. Every split is disjoint: per seed, the training images are shuffled and cut into
 * the base's set, then each task's training and validation sets; the test images are shuffled
 * and cut into one held-out set per task. The pretraining test set is the tasks' held-out
 * images untransformed. Pixels are scaled to [0, 1], transformed at full size, then averaged
 * over {@code pool × pool} blocks.
 *
 * @param name           the data set's name ({@code fashion-mnist})
 * @param dir            the folder the files were read from
 * @param pool           block size of the average pooling (2: 28×28 becomes 14×14)
 * @param domains        one per task, in task order
 * @param validationSize validation images per task (they only choose the tuned λ)
 * @param testSize       held-out images per task
 */
record ImageData(String name, Path dir, Idx trainImages, Idx trainLabels, Idx testImages, Idx testLabels, int pool,
                 List<Domain> domains, int validationSize, int testSize) implements Source {

    /** Where Debian's {@code dataset-fashion-mnist} package puts the files. */
    static final Path FASHION_MNIST_DIR = Path.of("/usr/share/datasets/fashion-mnist");
    static final String INSTALL_HINT = "install it with 'apt-get install dataset-fashion-mnist' or pass --data DIR"
            + " (a folder with the four IDX files)";
    static final String[] FILES = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
            "t10k-labels-idx1-ubyte"};
    static final int CLASSES = 10;

    /** A task: the images under {@code transform} (on a full-size image, values in [0, 1]). */
    record Domain(String name, String description, UnaryOperator<double[]> transform) {
    }

    /** The five domains, for {@code h × w} images: rotations by ±15°, a shift down by 3 pixels, a mirror, a zoom by 1.25. */
    static List<Domain> domains(int h, int w) {
        return List.of(
                new Domain("rot+15", "rotated 15° counter-clockwise", x -> Images.rotate(x, h, w, 15)),
                new Domain("rot-15", "rotated 15° clockwise", x -> Images.rotate(x, h, w, -15)),
                new Domain("down3", "shifted down 3 px", x -> Images.shift(x, h, w, 3, 0)),
                new Domain("flip", "mirrored left to right", x -> Images.flipHorizontal(x, h, w)),
                new Domain("zoom", "zoomed 1.25x about the centre", x -> Images.zoom(x, h, w, 1.25)));
    }

    /**
     * Reads the four files from {@code dir}: {@code train-images-idx3-ubyte}, {@code
     * train-labels-idx1-ubyte}, {@code t10k-images-idx3-ubyte}, {@code t10k-labels-idx1-ubyte},
     * each gzipped ({@code .gz}) or plain.
     */
    static ImageData load(String name, Path dir, int pool, int validationSize, int testSize) {
        if (!Files.isDirectory(dir)) {
            throw new UgmException(UgmException.Kind.INVALID_INPUT, name + " not found: no folder " + dir + "; " + INSTALL_HINT);
        }
        Idx[] read = new Idx[FILES.length];
        for (int i = 0; i < FILES.length; i++) {
            Path gz = dir.resolve(FILES[i] + ".gz");
            Path plain = dir.resolve(FILES[i]);
            Path file = Files.isRegularFile(gz) ? gz : Files.isRegularFile(plain) ? plain : null;
            if (file == null) {
                throw new UgmException(UgmException.Kind.INVALID_INPUT, name + " not found: " + dir + " has no " + FILES[i]
                        + "(.gz); " + INSTALL_HINT);
            }
            read[i] = Idx.read(file);
        }
        Idx trainImages = read[0];
        Idx testImages = read[2];
        checkPair(dir.resolve(FILES[0]), trainImages, read[1]);
        checkPair(dir.resolve(FILES[2]), testImages, read[3]);
        int[] a = trainImages.dims();
        int[] b = testImages.dims();
        if (a[1] != b[1] || a[2] != b[2]) {
            throw new UgmException(UgmException.Kind.INVALID_INPUT, dir + ": training images are " + a[1] + "x" + a[2]
                    + " but test images " + b[1] + "x" + b[2]);
        }
        if (a[1] % pool != 0 || a[2] % pool != 0) {
            throw new UgmException(UgmException.Kind.INVALID_INPUT, dir + ": " + a[1] + "x" + a[2]
                    + " images do not pool into " + pool + "x" + pool + " blocks");
        }
        return new ImageData(name, dir, trainImages, read[1], testImages, read[3], pool, domains(a[1], a[2]),
                validationSize, testSize);
    }

    private static void checkPair(Path where, Idx images, Idx labels) {
        if (images.dims().length != 3) {
            throw new UgmException(UgmException.Kind.INVALID_INPUT, where + ": expected images (3 dimensions), found "
                    + images.dims().length + " dimensions");
        }
        if (labels.dims().length != 1 || labels.count() != images.count()) {
            throw new UgmException(UgmException.Kind.INVALID_INPUT, where + ": " + images.count()
                    + " images but the labels file holds " + labels.values().length + " values");
        }
        for (byte v : labels.values()) {
            if ((v & 0xff) >= CLASSES) {
                throw new UgmException(UgmException.Kind.INVALID_INPUT, where + ": label " + (v & 0xff)
                        + " outside 0.." + (CLASSES - 1));
            }
        }
    }

    /**
     * The experiment on these images: a base trained on 10,000 original images with δ0 = 1, tasks
     * of 5,000 down to 1,000 images, the λ grid 0.1 ... 2.0, and the full-Hessian line when the
     * model is small enough (14×14 pooled pixels: 1,970 parameters). {@code quick}: 1,000 base
     * images and tasks of 500 down to 100. The validation and held-out sizes are the data's.
     */
    static Setup setup(ImageData data, long seed, boolean quick, FisherKind fisher) {
        int[] dims = data.trainImages.dims();
        int features = (dims[1] / data.pool) * (dims[2] / data.pool);
        int[] sizes = quick ? new int[] {500, 400, 300, 200, 100} : new int[] {5000, 4000, 3000, 2000, 1000};
        List<String> names = new ArrayList<>();
        for (Domain d : data.domains) {
            names.add(d.name());
        }
        // The λ grid of the sweeps: 0.1, 0.2, ..., 2.0.
        double[] lambdas = IntStream.rangeClosed(1, 20).mapToDouble(i -> i / 10.0).toArray();
        Setup s = new Setup(data, seed, CLASSES, features, names, quick ? 1000 : 10_000, sizes, 1.0, 2000, fisher,
                lambdas, CLASSES * (features + 1) <= Setup.FULL_HESSIAN_LIMIT);
        int trainNeeded = s.pretrainSize() + IntStream.of(sizes).sum() + sizes.length * data.validationSize;
        int testNeeded = sizes.length * data.testSize;
        if (data.trainImages.count() < trainNeeded || data.testImages.count() < testNeeded) {
            throw new UgmException(UgmException.Kind.INVALID_INPUT, data.dir + ": " + data.trainImages.count()
                    + " training and " + data.testImages.count() + " test images; the demo needs " + trainNeeded
                    + " and " + testNeeded);
        }
        return s;
    }

    @Override
    public String describe(Setup s) {
        int[] dims = trainImages.dims();
        StringBuilder b = new StringBuilder(String.format("%s: %dx%d images averaged over %dx%d blocks to %dx%d;"
                        + " tasks: the same %d labels, images ", name, dims[1], dims[2], pool, pool, dims[1] / pool,
                dims[2] / pool, s.classes()));
        for (int t = 0; t < domains.size(); t++) {
            b.append(t == 0 ? "" : t == domains.size() - 1 ? " or " : ", ").append(domains.get(t).description());
        }
        b.append(String.format(";%nvalidation %,d and held-out %,d images per task, pretraining test: the held-out images untransformed.",
                validationSize, testSize));
        return b.toString();
    }

    @Override
    public Suite suite(Setup s) {
        SplittableRandom rng = new SplittableRandom(s.seed());
        int[] train = permutation(trainImages.count(), rng);
        int[] test = permutation(testImages.count(), rng);
        int at = 0;
        Dataset pretrain = images(trainImages, trainLabels, train, at, s.pretrainSize(), null);
        at += s.pretrainSize();
        List<Dataset> taskTrain = new ArrayList<>();
        List<Dataset> taskValidation = new ArrayList<>();
        List<Dataset> taskTest = new ArrayList<>();
        for (int t = 0; t < s.tasks(); t++) {
            UnaryOperator<double[]> f = domains.get(t).transform();
            taskTrain.add(images(trainImages, trainLabels, train, at, s.taskSizes()[t], f));
            at += s.taskSizes()[t];
            taskValidation.add(images(trainImages, trainLabels, train, at, validationSize, f));
            at += validationSize;
            taskTest.add(images(testImages, testLabels, test, t * testSize, testSize, f));
        }
        Dataset pretrainTest = images(testImages, testLabels, test, 0, s.tasks() * testSize, null);
        return new Suite(pretrain, pretrainTest, taskTrain, taskValidation, taskTest);
    }

    /** Images {@code order[from .. from+n)}, scaled to [0, 1], transformed by {@code f} (when given), pooled. */
    private Dataset images(Idx images, Idx labels, int[] order, int from, int n, UnaryOperator<double[]> f) {
        int[] dims = images.dims();
        int h = dims[1];
        int w = dims[2];
        int features = (h / pool) * (w / pool);
        double[] x = new double[n * features];
        int[] y = new int[n];
        IntStream.range(0, n).parallel().forEach(i -> {
            int item = order[from + i];
            double[] img = new double[h * w];
            for (int j = 0; j < img.length; j++) {
                img[j] = images.at(item, j) / 255.0;
            }
            if (f != null) {
                img = f.apply(img);
            }
            System.arraycopy(Images.pool(img, h, w, pool), 0, x, i * features, features);
            y[i] = labels.at(item, 0);
        });
        return new Dataset(x, y, features);
    }

    /** A uniformly random permutation of 0..n−1 (Fisher–Yates). */
    static int[] permutation(int n, SplittableRandom rng) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) {
            p[i] = i;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int tmp = p[i];
            p[i] = p[j];
            p[j] = tmp;
        }
        return p;
    }
}
