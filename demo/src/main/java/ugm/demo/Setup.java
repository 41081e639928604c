package ugm.demo;

/**
 * The experiment's fixed design. Class prototypes are Gaussian; pretraining draws every class,
 * each example under a random domain offset; task t draws only its window of classes, under its
 * own offset plus a per-class shift, so tasks share classes but place them differently.
 *
 * @param prototypeScale per-feature standard deviation of the class prototypes
 * @param domainShift    norm of a domain offset (pretraining draws one per example, tasks one each)
 * @param classShift     norm of a task's extra shift of each of its classes
 * @param weightDecay    the base's L2 penalty δ0 (on the summed loss), also the merges' {@code delta0}
 */
record Setup(long seed, int classes, int features, int tasks, int classesPerTask, int classStride,
             int pretrainSize, int pretrainTestSize, int[] taskSizes, int taskTestSize,
             double prototypeScale, double noise, double domainShift, double classShift,
             double weightDecay, int maxIterations) {

    Setup {
        taskSizes = taskSizes.clone();
        if (taskSizes.length != tasks) {
            throw new IllegalArgumentException(taskSizes.length + " task sizes for " + tasks + " tasks");
        }
    }

    /** The README's experiment: 16 classes, 128 features (2,064 parameters), 5 tasks. */
    static Setup standard(long seed) {
        return new Setup(seed, 16, 128, 5, 6, 3, 4000, 1000, new int[] {1500, 1000, 700, 500, 300}, 600,
                0.25, 1.0, 2.0, 1.5, 1.0, 1000);
    }

    /** A smaller version for tests: 8 classes, 24 features, 4 tasks. */
    static Setup quick(long seed) {
        return new Setup(seed, 8, 24, 4, 4, 2, 800, 300, new int[] {300, 200, 150, 100}, 200,
                0.5, 1.0, 2.0, 1.5, 1.0, 400);
    }

    int parameters() {
        return classes * (features + 1);
    }

    /** The classes task t draws: a window of {@code classesPerTask} starting at {@code t·classStride}. */
    int[] taskClasses(int t) {
        int[] c = new int[classesPerTask];
        for (int j = 0; j < classesPerTask; j++) {
            c[j] = (t * classStride + j) % classes;
        }
        return c;
    }

    @Override
    public int[] taskSizes() {
        return taskSizes.clone();
    }
}
